#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""Trains the demo models the ImageClassification sample ships, on the synthetic shapes dataset, and
writes them with the project's own ONNX writer (onnx_writer.py, through export_onnx.py).

    /usr/bin/python3 eng/demo-model/train.py

writes, under samples/ImageClassification/assets/:
    shapes-cnn.onnx        BN-ReLU CNN (MaxPool); the sample's embedded default
    shapes-qcfs-l3.onnx    the same CNN with QCFS activations, L = 3  (T = 2 bits), AvgPool
    shapes-qcfs-l7.onnx    ... L = 7  (T = 3 bits)
    shapes-qcfs-l15.onnx   ... L = 15 (T = 4 bits)
    images/                the 300 held-out PNGs + labels.txt (via make_shapes.write_png_set)
    MODELS.md              how they were made and how well they do

The QCFS models (one trainable lambda per layer) are fine-tuned from the ReLU one. Every written file is
checked: onnx.checker, byte-identical to protobuf's own re-serialization, graph identical to what
torch.onnx.export writes for the module, and its outputs (run by the numpy interpreter in onnx_numpy.py)
within 1e-4 of the PyTorch module's on the 300 PNGs, both in float64. Accuracies are those of the ONNX
files (float32).

Needs only Debian's python3-torch, python3-onnx and python3-numpy (python3-pil optional). CPU only,
single thread, fixed seeds. The models take RGB CHW input in [0, 1] (pixel / 255) with no further
normalization, so ML.NET's ExtractPixels(scaleImage: 1/255) feeds them directly.
"""

import argparse
import copy
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_onnx  # noqa: E402
import make_shapes as ms  # noqa: E402
import onnx_numpy  # noqa: E402
from onnx_numpy import OnnxNumpyRunner  # noqa: E402
from shapes_model import QCFS_LAMBDA_INIT, Qcfs, ShapesNet, accuracy, train  # noqa: E402

DEFAULTS = {"n_train": 30000, "n_test": 5000, "epochs": 8, "qcfs_epochs": 4, "levels": "3,7,15"}
RELU_LR, QCFS_LR = 3e-3, 1e-3
MAX_ABS_DIFF = 1e-4


def file_name(levels):
    return "shapes-cnn.onnx" if levels is None else "shapes-qcfs-l%d.onnx" % levels


def check_file(path, model, x_png):
    """The checks every written file must pass; returns (op types in order, input dims, max |onnx - torch|
    in float64, max |onnx - torch| in float32, PNGs whose predicted class differs in float32). The file's weights are float32; both sides evaluate them in
    float64 for the 1e-4 comparison (in float32 a QCFS level can flip at a rounding boundary)."""
    import onnx
    data = open(path, "rb").read()
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m)
    assert m.SerializeToString() == data, "%s: not in protobuf's canonical encoding" % path
    assert export_onnx.torch_onnx_graph(model) == m.graph.SerializeToString(), \
        "%s: graph differs from torch.onnx.export's" % path
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = onnx_numpy.to_input(x_png)
    with torch.no_grad():
        ref32 = model(torch.from_numpy(x)).numpy()
        ref64 = copy.deepcopy(model).double()(torch.from_numpy(x.astype(np.float64))).numpy()
    diff64 = float(np.abs(OnnxNumpyRunner(path, np.float64).run(x) - ref64).max())
    out32 = OnnxNumpyRunner(path).run(x)
    diff32 = float(np.abs(out32 - ref32).max())
    flips = int((out32.argmax(1) != ref32.argmax(1)).sum())
    return [n.op_type for n in m.graph.node], dims, diff64, diff32, flips


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=DEFAULTS["n_train"])
    p.add_argument("--n-test", type=int, default=DEFAULTS["n_test"])
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="ReLU CNN epochs")
    p.add_argument("--qcfs-epochs", type=int, default=DEFAULTS["qcfs_epochs"], help="fine-tuning epochs per QCFS CNN")
    p.add_argument("--levels", default=DEFAULTS["levels"], help="QCFS L values, comma-separated")
    p.add_argument("--out", default=ms.ASSETS_DIR)
    p.add_argument("--no-md", action="store_true", help="do not (re)write MODELS.md")
    args = p.parse_args()
    levels = [int(v) for v in args.levels.split(",") if v.strip()]

    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    images_dir = os.path.join(args.out, "images")
    t_start = time.time()

    def log(msg):
        print(msg, flush=True)

    t0 = time.time()
    x_train, y_train = ms.make_dataset(args.n_train, ms.TRAIN_SEED)
    x_test, y_test = ms.make_dataset(args.n_test, ms.TEST_SEED)
    ms.write_png_set(images_dir)
    x_png, y_png, _ = ms.load_png_set(images_dir)
    data_seconds = time.time() - t0
    log("data: %d train, %d test, %d PNGs (%.0fs)" % (len(y_train), len(y_test), len(y_png), data_seconds))
    val = (x_test[:1000], y_test[:1000])

    models = []  # (levels, module, training seconds)
    log("training %s (ReLU, MaxPool), %d epochs" % (file_name(None), args.epochs))
    torch.manual_seed(10)
    t0 = time.time()
    relu = train(ShapesNet(None), x_train, y_train, args.epochs, lr=RELU_LR, seed=11, log=log, val=val)
    models.append((None, relu, time.time() - t0))

    for lv in levels:
        # Fine-tuned from the ReLU weights; every lambda starts at QCFS_LAMBDA_INIT.
        log("fine-tuning %s (QCFS L=%d, AvgPool), %d epochs" % (file_name(lv), lv, args.qcfs_epochs))
        torch.manual_seed(20)
        t0 = time.time()
        qcfs = ShapesNet(lv)
        missing, unexpected = qcfs.load_state_dict(relu.state_dict(), strict=False)
        assert not unexpected and all(k.endswith(".lam") for k in missing), (missing, unexpected)
        qcfs = train(qcfs, x_train, y_train, args.qcfs_epochs, lr=QCFS_LR, seed=21, log=log, val=val)
        models.append((lv, qcfs, time.time() - t0))

    results, failures = [], []
    for lv, model, secs in models:
        name = file_name(lv)
        path = os.path.join(args.out, name)
        export_onnx.export(model, path)
        ops, dims, diff, diff32, flips = check_file(path, model, x_png)
        runner = OnnxNumpyRunner(path)
        r = {"name": name, "levels": lv, "ops": ops, "dims": dims, "max_abs_diff": diff, "max_abs_diff32": diff32,
             "argmax_flips": flips,
             "size": os.path.getsize(path), "seconds": secs,
             "lambdas": [float(m.lam) for m in model.modules() if isinstance(m, Qcfs)],
             "torch_test": accuracy(model, x_test, y_test), "torch_png": accuracy(model, x_png, y_png),
             "onnx_test": runner.accuracy(x_test, y_test), "onnx_png": runner.accuracy(x_png, y_png)}
        results.append(r)
        if diff > MAX_ABS_DIFF:
            failures.append("%s: max |onnx - torch| = %.3g > %g" % (name, diff, MAX_ABS_DIFF))
        log("%s: test %.4f (torch %.4f), PNGs %.4f (torch %.4f), %d bytes, input %s, max |onnx-torch| %.1e"
            " (float32: %.1e, %d PNG predictions differ)%s"
            % (name, r["onnx_test"], r["torch_test"], r["onnx_png"], r["torch_png"], r["size"], dims, diff, diff32, flips,
               "" if lv is None else ", lambda " + ", ".join("%.3f" % v for v in r["lambdas"])))
        log("  ops: %s" % " ".join(ops))
    total = time.time() - t_start
    log("total %.0fs" % total)

    if not args.no_md:
        write_models_md(os.path.join(args.out, "MODELS.md"), args, results, data_seconds, total)
    if failures:
        raise SystemExit("\n".join(failures))


def _op_summary(ops):
    counts = {}
    for o in ops:
        counts[o] = counts.get(o, 0) + 1
    return ", ".join("%s ×%d" % (k, v) for k, v in counts.items())


def _command(args):
    extra = []
    for key, flag in (("n_train", "--n-train"), ("n_test", "--n-test"), ("epochs", "--epochs"),
                      ("qcfs_epochs", "--qcfs-epochs"), ("levels", "--levels")):
        if getattr(args, key) != DEFAULTS[key]:
            extra.append("%s %s" % (flag, getattr(args, key)))
    return " ".join(["/usr/bin/python3 eng/demo-model/train.py"] + extra)


def write_models_md(path, args, results, data_seconds, total_seconds):
    cnn, qs = results[0], results[1:]
    png_bytes = sum(os.path.getsize(os.path.join(dp, f))
                    for dp, _, fs in os.walk(os.path.join(os.path.dirname(path), "images")) for f in fs)
    names = [r["name"] for r in results]
    act = ["ReLU"] + ["QCFS L=%d" % r["levels"] for r in qs]
    pool = ["MaxPool"] + ["AveragePool"] * len(qs)

    def row(label, cells):
        return "| %s | %s |" % (label, " | ".join(cells))

    lines = [
        "# Demo models",
        "",
        "The ImageClassification sample ships %d small ONNX image classifiers and 300 images, all made by"
        % len(results),
        "this repository from a synthetic dataset; nothing is downloaded. `shapes-cnn.onnx` is embedded in the",
        "sample as its default model; the QCFS models are for the QCFS-aware methods (rate coding with",
        "QCFS, bit-serial coding: L = 2^T − 1 gives T = log2(L + 1) bits). Regenerate them with",
        "",
        "```",
        _command(args),
        "```",
        "",
        "(Debian's `python3-torch` 1.13 CPU, `python3-onnx`, `python3-numpy`; see `eng/demo-model/README.md`).",
        "Seeds are fixed; training runs on one CPU thread; %.0f s in all on the project's 2-core machine"
        % total_seconds,
        "(shared with other work while it ran).",
        "",
        "## Data",
        "",
        "`eng/demo-model/make_shapes.py` draws 32×32 RGB images of ten classes, in this output order",
        "(also `images/labels.txt`): " + ", ".join("`%s`" % c for c in ms.CLASSES) + ".",
        "Each image has one object at a random position and size (rotated where meaningful), random",
        "foreground/background colours, a background gradient, 0–3 thin distractor strokes and Gaussian",
        "pixel noise. Training set: %d images (seed %d); test set: %d images (seed %d);"
        % (args.n_train, ms.TRAIN_SEED, args.n_test, ms.TEST_SEED),
        "`images/<class>/NNNN.png`: %d held-out images per class (seed %d), %d bytes in all (generated in %.0f s)."
        % (ms.PNGS_PER_CLASS, ms.PNG_SEED, png_bytes, data_seconds),
        "",
        "## Input",
        "",
        "`input`: float32 `[N, 3, 32, 32]`, RGB, CHW, pixel / 255 (range [0, 1]), no mean/std normalization.",
        "`logits`: float32 `[N, 10]` (unnormalized class scores; argmax is the prediction).",
        "",
        "## Architecture",
        "",
        row("layer", names),
        "|---|" + "---|" * len(results),
        row("Conv 3→16, 3×3, pad 1 + BatchNorm", act),
        row("Conv 16→32, 3×3, pad 1, stride 2 + BatchNorm", act),
        row("Conv 32→32, 3×3, pad 1 + BatchNorm", act),
        row("pool 2×2, stride 2", pool),
        row("Conv 32→64, 3×3, pad 1, stride 2 + BatchNorm", act),
        row("GlobalAveragePool, Flatten, Linear 64→10 (Gemm)", [""] * len(results)),
        row("learned λ per QCFS layer", ["–"] + [", ".join("%.3f" % v for v in r["lambdas"]) for r in qs]),
        "",
        "Convolutions have no bias (BatchNorm follows); BatchNormalization nodes are kept in the files, not",
        "folded (the converter folds them itself). QCFS (Bu et al., ICLR 2022) with one trainable λ per layer:",
        "`y = λ · floor(clip(x / λ, 0, 1) · L + 0.5) / L`, written as the chain",
        "Div λ → Clip(0, 1) → Mul L → Add 0.5 → Floor → Div L → Mul λ with the scalars in Constant nodes,",
        "as `torch.onnx.export` writes it (floor trained with a straight-through gradient). The QCFS models",
        "use AveragePool where the ReLU one has MaxPool (max-pool → avg-pool before QCFS training).",
        "",
        "Training: AdamW (weight decay 5e-4 on weights), one-cycle learning rate, batch 128, random flips.",
        "shapes-cnn: %d epochs from scratch (max lr %g, %.0f s on one thread). Each QCFS model: initialized"
        % (args.epochs, RELU_LR, cnn["seconds"]),
        "from shapes-cnn (every λ = %.1f), %d epochs (max lr %g; %s)."
        % (QCFS_LAMBDA_INIT, args.qcfs_epochs, QCFS_LR,
           ", ".join("L = %d %.0f s" % (r["levels"], r["seconds"]) for r in qs)),
        "",
        "## Accuracy",
        "",
        "Measured by running the ONNX files as written (the numpy interpreter in `eng/demo-model/onnx_numpy.py`);",
        "the PNGs are read back from disk with the same pixel pipeline (RGB, / 255, CHW).",
        "",
        "| model | test set (%d) | shipped PNGs (%d) | size (bytes) |" % (args.n_test, 10 * ms.PNGS_PER_CLASS),
        "|---|---|---|---|",
    ]
    for r in results:
        lines.append("| %s | %.2f%% | %.2f%% | %d |" % (r["name"], 100 * r["onnx_test"], 100 * r["onnx_png"], r["size"]))
    lines += [
        "",
        "## ONNX",
        "",
        "Opset %d, IR version 7, written by the project's own protobuf writer `eng/demo-model/onnx_writer.py`"
        % export_onnx.OPSET,
        "(producer `%s`), input `input` `[N, 3, 32, 32]`, output `logits`, dynamic batch axis `N`."
        % export_onnx.PRODUCER_NAME,
        "`train.py` checks every file: it passes `onnx.checker.check_model`; its bytes are protobuf's own",
        "encoding of the model; its graph (nodes, names, attributes, initializers) is identical to the one",
        "`torch.onnx.export` (PyTorch %s, eval mode, `do_constant_folding=False`," % torch.__version__,
        "`training=TrainingMode.PRESERVE`) writes for the same module; and its logits on the 300 PNGs are",
        "within %g of the PyTorch module's, both evaluated in float64 (max |Δ|: %s)." % (MAX_ABS_DIFF, ", ".join(
            "%s %.1e" % (r["name"], r["max_abs_diff"]) for r in results)),
        "In float32 the numpy interpreter and PyTorch sum the convolutions in different orders, and a QCFS",
        "pre-activation that lands within rounding of a level boundary can round to the neighbouring level",
        "(max |Δ| in float32: %s; PNGs whose predicted class differs: %d)." % (", ".join(
            "%s %.1e" % (r["name"], r["max_abs_diff32"]) for r in results), sum(r["argmax_flips"] for r in results)),
        "The C# side: `test/Microsoft.ML.Spiking.Tests/Import/DemoModelImportTests.cs` imports every file, checks",
        "that preparation finds each QCFS chain as a QCFS layer with its L and λ, and that the network it lowers",
        "gives ONNX Runtime's logits for the original file on the 300 PNGs (decoded by ML.NET's image pipeline).",
        "",
    ]
    for r in results:
        lines.append("- %s: %s" % (r["name"], _op_summary(r["ops"])))
    lines.append("")
    text = "\n".join(lines)
    # Keep the ViT section train_vit.py writes (between its markers) when rewriting the file.
    from train_vit import MD_BEGIN, MD_END
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if MD_BEGIN in old and MD_END in old:
        text += "\n" + MD_BEGIN + old.split(MD_BEGIN, 1)[1].split(MD_END, 1)[0] + MD_END + "\n"
    with open(path, "w", newline="\n", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
