#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""Trains the demo Vision Transformer (vit_model.ShapesViT) on the synthetic shapes dataset and exports it
with torch.onnx.export, the way a user would:

    /usr/bin/python3 eng/demo-model/train_vit.py

writes, under samples/ImageClassification/assets/:
    shapes-vit.onnx          opset 17: LayerNorm as the LayerNormalization op
    shapes-vit-opset13.onnx  the same weights at opset 13: LayerNorm decomposed into
                             ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add (an import-test fixture)
    MODELS.md                its "Vision Transformer" section (the rest of the file is train.py's)

The data comes from make_shapes.py with train.py's seeds (training set seed 1, test set seed 2); the 300
shipped PNGs (seed 3) are only read, never rewritten, and stay held out. Both files are checked:
onnx.checker (with shape inference), the expected opset and LayerNorm form, input/output names and the
dynamic batch axis, logits of the file (run by the numpy interpreter in onnx_numpy.py, float32) within
1e-4 of the PyTorch module's on the 300 PNGs, and accuracy on the 5,000 test images and the PNGs.

Needs only Debian's python3-torch (1.13, CPU), python3-onnx and python3-numpy. One CPU thread, fixed
seeds, deterministic algorithms. Input: RGB CHW in [0, 1] (pixel / 255), no further normalization.
"""

import argparse
import collections
import copy
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_shapes as ms  # noqa: E402
import onnx_numpy  # noqa: E402
from onnx_numpy import OnnxNumpyRunner  # noqa: E402
from shapes_model import accuracy, to_input  # noqa: E402
from vit_model import ShapesViT, parameter_count  # noqa: E402

DEFAULTS = {"n_train": 50000, "n_test": 5000, "epochs": 40, "dim": 64, "lr": 2e-3, "batch": 128}
WEIGHT_DECAY = 0.05
LABEL_SMOOTHING = 0.1
WARMUP = 0.1          # fraction of the steps spent warming the learning rate up (one-cycle, cosine)
SHIFT = 2             # random translation of up to this many pixels (edge pixels repeated)
CLIP_NORM = 1.0
MAX_ABS_DIFF = 1e-4
FILES = (("shapes-vit.onnx", 17), ("shapes-vit-opset13.onnx", 13))
MD_BEGIN = "<!-- shapes-vit: this section is written by eng/demo-model/train_vit.py -->"
MD_END = "<!-- end shapes-vit -->"


def log(msg):
    print(msg, flush=True)


# ---- training -----------------------------------------------------------------------------------

def augment(x, g):
    """Per image: horizontal flip, vertical flip (each with probability 1/2; every class is invariant
    under both, diagonal stripes staying diagonal) and a translation by up to SHIFT pixels per axis with
    the border pixels repeated. No 90-degree rotations: they would swap horizontal and vertical stripes."""
    n = x.shape[0]
    flip_h = torch.rand(n, generator=g) < 0.5
    flip_v = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip_h[:, None, None, None], x.flip(3), x)
    x = torch.where(flip_v[:, None, None, None], x.flip(2), x)
    shifts = torch.randint(-SHIFT, SHIFT + 1, (n, 2), generator=g)
    padded = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
    out = torch.empty_like(x)
    size = x.shape[-1]
    for dy in range(-SHIFT, SHIFT + 1):
        for dx in range(-SHIFT, SHIFT + 1):
            sel = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero().flatten()
            if len(sel):
                out[sel] = padded[sel, :, SHIFT + dy:SHIFT + dy + size, SHIFT + dx:SHIFT + dx + size]
    return out


def train(model, images_u8, labels, epochs, lr, batch, seed, bf16=True, val=None):
    """bfloat16 mixed precision (bf16: torch.autocast on the CPU, so the matrix products run in oneDNN's
    bf16 kernels with float32 accumulation; the weights, optimizer state, LayerNorm, softmax and loss stay
    float32), AdamW (weight decay on matrices and the conv kernel, not on biases, LayerNorm, class token or
    position embedding), one-cycle learning rate (linear warm-up, cosine decay), label smoothing,
    gradient clipping, augment() on every batch. Returns the per-epoch log lines."""
    g = torch.Generator().manual_seed(seed)
    no_decay = {"cls_token", "pos_embed"}
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n not in no_decay]
    other = [p for n, p in model.named_parameters() if not (p.ndim > 1 and n not in no_decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": other, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = (len(labels) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=WARMUP, anneal_strategy="cos")
    y_all = torch.from_numpy(labels)
    lines = []
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(labels), generator=g).numpy()
        total, correct, loss_sum = 0, 0, 0.0
        for step, i in enumerate(range(0, len(perm), batch)):
            idx = perm[i:i + batch]
            x = augment(to_input(images_u8[idx]), g)
            y = y_all[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=LABEL_SMOOTHING)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            total += len(idx)
            if step % 100 == 0:
                log("    step %d/%d  loss %.4f  train-acc %.4f  %.0fs"
                    % (step, steps_per_epoch, loss_sum / total, correct / total, time.time() - t0))
        msg = "  epoch %d/%d  loss %.4f  train-acc %.4f  %.0fs" % (
            epoch + 1, epochs, loss_sum / total, correct / total, time.time() - t0)
        if val is not None:
            msg += "  val-acc %.4f" % accuracy(model, *val)
        log(msg)
        lines.append(msg.strip())
    model.eval()
    return lines


# ---- export and checks --------------------------------------------------------------------------

def export(model, path, opset, example):
    """torch.onnx.export as a user would call it (defaults otherwise: eval mode, constant folding)."""
    torch.onnx.export(model, example, path, opset_version=opset,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def check_file(path, opset, model, x_png):
    """Structural checks and the float32/float64 comparison with the PyTorch module on the PNGs."""
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [opset], m.opset_import
    ops = [n.op_type for n in m.graph.node]
    if opset >= 17:
        assert "LayerNormalization" in ops, "%s: no LayerNormalization node" % path
    else:
        assert "LayerNormalization" not in ops and "ReduceMean" in ops, "%s: LayerNorm not decomposed" % path
    (inp,), (out,) = m.graph.input, m.graph.output
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert (inp.name, dims(inp), out.name, dims(out)) == ("input", ["N", 3, 32, 32], "logits", ["N", 10]), \
        (inp.name, dims(inp), out.name, dims(out))
    x = onnx_numpy.to_input(x_png)
    with torch.no_grad():
        ref32 = model(torch.from_numpy(x)).numpy()
        ref64 = copy.deepcopy(model).double()(torch.from_numpy(x.astype(np.float64))).numpy()
    out32 = OnnxNumpyRunner(path).run(x)
    out64 = OnnxNumpyRunner(path, np.float64).run(x)
    return {"ops": ops, "ir_version": m.ir_version, "producer": "%s %s" % (m.producer_name, m.producer_version),
            "initializers": len(m.graph.initializer),
            "max_abs_diff32": float(np.abs(out32 - ref32).max()),
            "max_abs_diff64": float(np.abs(out64 - ref64).max()),
            "argmax_flips": int((out32.argmax(1) != ref32.argmax(1)).sum()),
            "max_abs_logit": float(np.abs(ref32).max())}


def histogram(ops):
    return collections.Counter(ops).most_common()


def graph_parts(path):
    """Op types (Constant nodes left out) in graph order of the nodes before the first block (patch
    embedding, class token, position embedding), of the first block, and after the last block (final
    LayerNorm, class token, head), told apart by the names the exporter gives the nodes."""
    import onnx
    nodes = [n for n in onnx.load(path).graph.node if n.op_type != "Constant"]
    in_blocks = [i for i, n in enumerate(nodes) if n.name.startswith("/blocks/")]
    return {"prologue": [n.op_type for n in nodes[:in_blocks[0]]],
            "block": [n.op_type for n in nodes if n.name.startswith("/blocks/blocks.0/")],
            "epilogue": [n.op_type for n in nodes[in_blocks[-1] + 1:]]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=DEFAULTS["n_train"])
    p.add_argument("--n-test", type=int, default=DEFAULTS["n_test"])
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--dim", type=int, default=DEFAULTS["dim"], help="embedding width D (4 heads)")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="peak learning rate")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument("--fp32", action="store_true",
                   help="train in float32 (about ten times slower where PyTorch uses a reference BLAS)")
    p.add_argument("--out", default=ms.ASSETS_DIR)
    p.add_argument("--no-md", action="store_true", help="do not touch MODELS.md")
    args = p.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    t0 = time.time()
    x_train, y_train = ms.make_dataset(args.n_train, ms.TRAIN_SEED)
    x_test, y_test = ms.make_dataset(args.n_test, ms.TEST_SEED)
    x_png, y_png, _ = ms.load_png_set(ms.IMAGES_DIR)  # the shipped, held-out PNGs (read, not rewritten)
    data_seconds = time.time() - t0
    log("data: %d train (seed %d), %d test (seed %d), %d PNGs (%.0fs)"
        % (len(y_train), ms.TRAIN_SEED, len(y_test), ms.TEST_SEED, len(y_png), data_seconds))

    torch.manual_seed(30)
    model = ShapesViT(dim=args.dim)
    n_params = parameter_count(model)
    log("training ShapesViT D=%d (%d parameters), %d epochs of %d images, batch %d, peak lr %g, %s"
        % (args.dim, n_params, args.epochs, args.n_train, args.batch, args.lr,
           "float32" if args.fp32 else "bfloat16 autocast"))
    t0 = time.time()
    epoch_lines = train(model, x_train, y_train, args.epochs, args.lr, args.batch, seed=31, bf16=not args.fp32,
                        val=(x_test[:1000], y_test[:1000]))
    train_seconds = time.time() - t0
    log("training took %.0fs" % train_seconds)

    torch_test, torch_png = accuracy(model, x_test, y_test), accuracy(model, x_png, y_png)
    example = torch.from_numpy(onnx_numpy.to_input(x_png[:2]))
    results, failures = [], []
    for name, opset in FILES:
        path = os.path.join(args.out, name)
        export(model, path, opset, example)
        r = check_file(path, opset, model, x_png)
        runner = OnnxNumpyRunner(path)
        r.update({"name": name, "opset": opset, "size": os.path.getsize(path),
                  "onnx_test": runner.accuracy(x_test, y_test), "onnx_png": runner.accuracy(x_png, y_png),
                  "parts": graph_parts(path)})
        results.append(r)
        if r["max_abs_diff32"] > MAX_ABS_DIFF:
            failures.append("%s: max |onnx - torch| = %.3g > %g" % (name, r["max_abs_diff32"], MAX_ABS_DIFF))
        if r["size"] >= 1 << 20:
            failures.append("%s: %d bytes" % (name, r["size"]))
        log("%s (opset %d): test %.4f (torch %.4f), PNGs %.4f (torch %.4f), %d bytes, max |onnx-torch| %.1e"
            " float32 / %.1e float64, %d PNG predictions differ"
            % (name, opset, r["onnx_test"], torch_test, r["onnx_png"], torch_png, r["size"], r["max_abs_diff32"],
               r["max_abs_diff64"], r["argmax_flips"]))
        log("  ops: %s" % ", ".join("%s %d" % kv for kv in histogram(r["ops"])))
        for part in ("prologue", "block", "epilogue"):
            log("  %s: %s" % (part, " ".join(r["parts"][part])))
    total = time.time() - t_start
    log("total %.0fs" % total)

    if not args.no_md:
        write_md_section(os.path.join(args.out, "MODELS.md"), args, results, n_params, epoch_lines,
                         train_seconds, data_seconds, total, torch_test, torch_png)
    if failures:
        raise SystemExit("\n".join(failures))


# ---- MODELS.md ----------------------------------------------------------------------------------

def _command(args):
    extra = []
    for key in ("n_train", "n_test", "epochs", "dim", "lr", "batch"):
        if getattr(args, key) != DEFAULTS[key]:
            extra.append("--%s %s" % (key.replace("_", "-"), getattr(args, key)))
    return " ".join(["/usr/bin/python3 eng/demo-model/train_vit.py"] + extra)


def write_md_section(path, args, results, n_params, epoch_lines, train_seconds, data_seconds, total_seconds,
                     torch_test, torch_png):
    """Replace (or append) the section between MD_BEGIN and MD_END; everything else is train.py's."""
    d = args.dim
    hid = 2 * d
    r17 = results[0]
    lines = [
        MD_BEGIN,
        "## Vision Transformer: shapes-vit.onnx, shapes-vit-opset13.onnx",
        "",
        "A small ViT in the layout timm uses, written in plain PyTorch (`eng/demo-model/vit_model.py`),",
        "trained by `eng/demo-model/train_vit.py` on the same generator and seeds as the CNNs (training set",
        "seed %d, test set seed %d; the 300 PNGs, seed %d, are held out) and exported with `torch.onnx.export`"
        % (ms.TRAIN_SEED, ms.TEST_SEED, ms.PNG_SEED),
        "itself, not the project's writer. Regenerate with",
        "",
        "```",
        _command(args),
        "```",
        "",
        "### Architecture",
        "",
        "%d parameters; same input and output as the CNNs (`input` `[N, 3, 32, 32]`, `logits` `[N, 10]`)." % n_params,
        "",
        "| stage | PyTorch | shape |",
        "|---|---|---|",
        "| patch embedding | `Conv2d(3, %d, 4, stride 4)`, `x.flatten(2).transpose(1, 2)` | [N, 64, %d] |" % (d, d),
        "| class token | `cat((cls_token.expand(x.shape[0], -1, -1), x), dim=1)` | [N, 65, %d] |" % d,
        "| position embedding | `x + pos_embed` (learned, [1, 65, %d]) | [N, 65, %d] |" % (d, d),
        "| 3 × pre-norm block | `x + attn(norm1(x))`, `x + mlp(norm2(x))`; LayerNorm eps 1e-6 | [N, 65, %d] |" % d,
        "| attention | 4 heads of %d; `qkv = Linear(%d, %d)(x).reshape(B, N, 3, 4, %d).permute(2, 0, 3, 1, 4)`,"
        " `q, k, v = qkv.unbind(0)`, `softmax(q @ kᵀ · %g)`, `(attn @ v).transpose(1, 2).reshape(B, N, C)`,"
        " `Linear(%d, %d)` | [N, 65, %d] |" % (d // 4, d, 3 * d, d // 4, (d // 4) ** -0.5, d, d, d),
        "| MLP | `Linear(%d, %d)`, exact (erf) GELU, `Linear(%d, %d)` | [N, 65, %d] |" % (d, hid, hid, d, d),
        "| head | final LayerNorm, class token `x[:, 0]`, `Linear(%d, 10)` | [N, 10] |" % d,
        "",
        "No dropout. Initialization: truncated normal (std 0.02) for the linear layers, class token and",
        "position embedding; PyTorch's default for the patch convolution.",
        "",
        "### Training",
        "",
        "%d images, %d epochs, batch %d, AdamW (weight decay %g on the weight matrices and the patch kernel;"
        % (args.n_train, args.epochs, args.batch, WEIGHT_DECAY),
        "none on biases, LayerNorm, class token, position embedding), one-cycle learning rate (peak %g,"
        % args.lr,
        "%d %% linear warm-up, cosine decay), label smoothing %g, gradient norm clipped at %g; per image random"
        % (round(100 * WARMUP), LABEL_SMOOTHING, CLIP_NORM),
        "horizontal and vertical flips and a translation of up to %d pixels (border repeated)." % SHIFT,
        "One CPU thread, deterministic algorithms, fixed seeds: %.0f s of training (%.0f s in all, data"
        % (train_seconds, total_seconds),
        "generation %.0f s) on the project's 2-core machine, shared with other work while it ran. Per epoch"
        % data_seconds,
        "(val: the first 1,000 test images, logged only, not used for any choice):",
        "",
        "```",
    ] + epoch_lines + [
        "```",
        "",
        "### Accuracy",
        "",
        "Of the ONNX files as written, run by `eng/demo-model/onnx_numpy.py` in float32 (the PyTorch module:",
        "%.2f %% and %.2f %%)." % (100 * torch_test, 100 * torch_png),
        "",
        "| model | opset | test set (%d) | shipped PNGs (%d) | size (bytes) |" % (args.n_test, 10 * ms.PNGS_PER_CLASS),
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append("| %s | %d | %.2f%% | %.2f%% | %d |"
                     % (r["name"], r["opset"], 100 * r["onnx_test"], 100 * r["onnx_png"], r["size"]))
    lines += [
        "",
        "### ONNX",
        "",
        "`torch.onnx.export(model, x, path, opset_version=…, input_names=[\"input\"], output_names=[\"logits\"],",
        "dynamic_axes={\"input\": {0: \"N\"}, \"logits\": {0: \"N\"}})`, PyTorch %s, eval mode, constant folding on"
        % torch.__version__,
        "(its default): linear weights are stored transposed for MatMul (`onnx::MatMul_*` initializers), the",
        "head's is a Gemm. IR version %d, producer `%s`, %d initializers." % (r17["ir_version"], r17["producer"],
                                                                          r17["initializers"]),
        "`shapes-vit.onnx` is opset 17, where LayerNorm is the LayerNormalization op (axis −1, epsilon 1e-6);",
        "`shapes-vit-opset13.onnx` holds the same weights at opset 13, where the exporter decomposes each",
        "LayerNorm into ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β. Ops (type × count):",
        "",
    ]
    for r in results:
        lines.append("- %s: %s" % (r["name"], ", ".join("%s ×%d" % kv for kv in histogram(r["ops"]))))
    lines += [
        "",
        "The nodes of `shapes-vit.onnx` in graph order, Constant nodes left out (opset 13 differs only in",
        "the LayerNorms): before the blocks (patch embedding, class token, position embedding),",
        "",
        "```",
        " ".join(r17["parts"]["prologue"]),
        "```",
        "",
        "one block (the three are alike),",
        "",
        "```",
        " ".join(r17["parts"]["block"]),
        "```",
        "",
        "and after the blocks (final LayerNorm, `x[:, 0]`, head): `%s`." % " ".join(r17["parts"]["epilogue"]),
        "",
        "Checks `train_vit.py` makes on both files: `onnx.checker.check_model` with shape inference passes;",
        "the opset is the one asked for, with LayerNormalization (17) or no LayerNormalization and ReduceMean",
        "(13); input `input` `[N, 3, 32, 32]`, output `logits` `[N, 10]`; the file's logits on the 300 PNGs",
        "are within %g of the PyTorch module's in float32 (max |Δ|: %s; in float64: %s; PNGs whose predicted"
        % (MAX_ABS_DIFF, ", ".join("%s %.1e" % (r["name"], r["max_abs_diff32"]) for r in results),
           ", ".join("%s %.1e" % (r["name"], r["max_abs_diff64"]) for r in results)),
        "class differs: %d); each file is under 1 MiB." % sum(r["argmax_flips"] for r in results),
        MD_END,
    ]
    section = "\n".join(lines) + "\n"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if MD_BEGIN in text and MD_END in text:
        head, rest = text.split(MD_BEGIN, 1)
        tail = rest.split(MD_END, 1)[1].lstrip("\n")
        text = head + section + (("\n" + tail) if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section if text else section
    with open(path, "w", newline="\n", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
