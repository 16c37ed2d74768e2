#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""Trains the two demo models the ImageClassification sample embeds, on the synthetic shapes dataset.

    /usr/bin/python3 eng/demo-model/train.py

writes, under samples/ImageClassification/assets/:
    shapes-cnn.onnx       ReLU CNN (BatchNormalization nodes kept; MaxPool)
    shapes-qcfs-l7.onnx   the same CNN with QCFS activations (L = 7, trainable lambda; AvgPool)
    images/               the 300 held-out PNGs + labels.txt (via make_shapes.write_png_set)
    MODELS.md             how they were made and how well they do

Needs only Debian's python3-torch, python3-onnx and python3-numpy (python3-pil optional). CPU only,
single thread, fixed seeds. Both models take RGB CHW input in [0, 1] (pixel / 255) with no
further normalization, so ML.NET's ExtractPixels(scaleImage: 1/255) feeds them directly.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_shapes as ms  # noqa: E402

OPSET = 13
QCFS_LEVELS = 7
QCFS_LAMBDA_INIT = 4.0


# ---- models -------------------------------------------------------------------------------------

class FloorSTE(torch.autograd.Function):
    """floor(x) forward, identity gradient backward (straight-through); exported as ONNX Floor."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def symbolic(g, x):
        return g.op("Floor", x)


class Qcfs(nn.Module):
    """Quantization-clip-floor-shift activation (Bu et al., ICLR 2022) with a trainable scalar lambda.

    y = lambda * floor(clamp(x / lambda, 0, 1) * L + 1/2) / L
    """

    def __init__(self, levels=QCFS_LEVELS, lam=QCFS_LAMBDA_INIT):
        super().__init__()
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor([float(lam)]))

    def forward(self, x):
        x = x / self.lam
        # clamp(x, 0, 1); written as hardtanh because PyTorch 1.13 exports torch.clamp with its
        # bounds behind Cast nodes, whereas hardtanh gives a plain Clip with float constants.
        x = F.hardtanh(x, 0.0, 1.0)
        x = FloorSTE.apply(x * self.levels + 0.5) / self.levels
        return x * self.lam

    def extra_repr(self):
        return "levels=%d" % self.levels


class ShapesNet(nn.Module):
    """Conv(3->16)-BN-act, Conv(16->32,s2)-BN-act, Conv(32->32)-BN-act, Pool 2x2,
    Conv(32->64,s2)-BN-act, GlobalAveragePool, Flatten, Linear(64->10)."""

    def __init__(self, qcfs=False, num_classes=len(ms.CLASSES)):
        super().__init__()

        def act():
            return Qcfs() if qcfs else nn.ReLU()

        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), act(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), act(),
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), act(),
            # count_include_pad=False changes nothing without padding, but keeps PyTorch 1.13 from
            # exporting a no-op Pad node in front of the AveragePool.
            nn.AvgPool2d(2, count_include_pad=False) if qcfs else nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), act(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# ---- training -----------------------------------------------------------------------------------

def to_input(images_u8):
    """uint8 NHWC RGB -> float32 NCHW in [0, 1]: the pixel pipeline of the sample."""
    return torch.from_numpy(np.ascontiguousarray(images_u8.transpose(0, 3, 1, 2))).float() / 255.0


def accuracy(model, images_u8, labels, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            logits = model(to_input(images_u8[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == labels[i:i + batch]).sum())
    return correct / len(labels)


def train(model, images_u8, labels, epochs, lr, seed, batch=128, log=print, val=None):
    g = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = (len(labels) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.2)
    y_all = torch.from_numpy(labels)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(labels), generator=g).numpy()
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            x = to_input(images_u8[idx])
            # Cheap augmentation: random horizontal/vertical flips (every class is flip-invariant,
            # diagonal stripes map onto diagonal stripes).
            if torch.rand(1, generator=g).item() < 0.5:
                x = torch.flip(x, dims=[3])
            if torch.rand(1, generator=g).item() < 0.5:
                x = torch.flip(x, dims=[2])
            y = y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            total += len(idx)
        msg = "  epoch %d/%d  loss %.4f  train-acc %.4f  %.0fs" % (
            epoch + 1, epochs, loss_sum / total, correct / total, time.time() - t0)
        if val is not None:
            msg += "  val-acc %.4f" % accuracy(model, *val)
        log(msg)
    model.eval()
    return model


# ---- export and checks --------------------------------------------------------------------------

def export(model, path):
    # Eval mode, but TrainingMode.PRESERVE: with the default (EVAL) PyTorch 1.13 folds every
    # BatchNormalization into the preceding Conv even with do_constant_folding=False, and the files
    # are meant to keep BatchNormalization nodes (the converter folds them itself). As the module is
    # in eval mode, PRESERVE exports inference-mode BatchNormalization with the running statistics.
    model.eval()
    dummy = torch.zeros(1, 3, ms.SIZE, ms.SIZE)
    torch.onnx.export(model, dummy, path, opset_version=OPSET, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def check_onnx(path):
    """onnx.checker + input shape; returns (op types in order, input shape)."""
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    return [n.op_type for n in m.graph.node], dims


class OnnxNumpyRunner:
    """A small numpy interpreter for exactly the ONNX ops these two models use, so the exported
    files themselves (not just the PyTorch modules) are evaluated without onnxruntime."""

    def __init__(self, path):
        import onnx
        from onnx import numpy_helper
        self.model = onnx.load(path)
        self.inits = {t.name: numpy_helper.to_array(t) for t in self.model.graph.initializer}
        self.numpy_helper = numpy_helper

    @staticmethod
    def _attrs(node):
        from onnx import helper
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    @staticmethod
    def _conv(x, w, b, strides, pads):
        n, c, h, wd = x.shape
        k, _, kh, kw = w.shape
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
        oh = (x.shape[2] - kh) // strides[0] + 1
        ow = (x.shape[3] - kw) // strides[1] + 1
        cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = x[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
        out = np.einsum("nckhij,dckh->ndij", cols.reshape(n, c, kh, kw, oh, ow), w, optimize=True)
        if b is not None:
            out = out + b[None, :, None, None]
        return out.astype(np.float32)

    @staticmethod
    def _pool(x, k, s, op):
        n, c, h, w = x.shape
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        windows = np.stack([x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
                            for i in range(k[0]) for j in range(k[1])])
        return op(windows, axis=0)

    def run(self, x):
        env = dict(self.inits)
        env[self.model.graph.input[0].name] = x.astype(np.float32)
        for node in self.model.graph.node:
            a = self._attrs(node)
            ins = [env[i] if i else None for i in node.input]
            op = node.op_type
            if op == "Constant":
                out = self.numpy_helper.to_array(a["value"])
            elif op == "Conv":
                out = self._conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                 a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]))
            elif op == "BatchNormalization":
                xx, scale, bias, mean, var = ins
                eps = a.get("epsilon", 1e-5)
                inv = scale / np.sqrt(var + eps)
                out = (xx - mean[None, :, None, None]) * inv[None, :, None, None] + bias[None, :, None, None]
            elif op == "Relu":
                out = np.maximum(ins[0], 0)
            elif op == "MaxPool":
                out = self._pool(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), np.max)
            elif op == "AveragePool":
                out = self._pool(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), np.mean)
            elif op == "GlobalAveragePool":
                out = ins[0].mean(axis=(2, 3), keepdims=True)
            elif op == "Flatten":
                axis = a.get("axis", 1)
                out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
            elif op == "Gemm":
                aa = ins[0].T if a.get("transA", 0) else ins[0]
                bb = ins[1].T if a.get("transB", 0) else ins[1]
                out = a.get("alpha", 1.0) * aa @ bb
                if len(ins) > 2 and ins[2] is not None:
                    out = out + a.get("beta", 1.0) * ins[2]
            elif op == "Div":
                out = ins[0] / ins[1]
            elif op == "Mul":
                out = ins[0] * ins[1]
            elif op == "Add":
                out = ins[0] + ins[1]
            elif op == "Clip":
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
                out = np.clip(ins[0], lo, hi)
            elif op == "Floor":
                out = np.floor(ins[0])
            else:
                raise NotImplementedError(op)
            env[node.output[0]] = np.asarray(out, dtype=np.float32)
        return env[self.model.graph.output[0].name]

    def accuracy(self, images_u8, labels, batch=250):
        correct = 0
        for i in range(0, len(labels), batch):
            logits = self.run(to_input(images_u8[i:i + batch]).numpy())
            correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
        return correct / len(labels)


# ---- main ---------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=30000)
    p.add_argument("--n-test", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--qcfs-epochs", type=int, default=4)
    p.add_argument("--out", default=ms.ASSETS_DIR)
    p.add_argument("--no-md", action="store_true", help="do not (re)write MODELS.md")
    args = p.parse_args()

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
    log("data: %d train, %d test, %d PNGs (%.0fs)" % (len(y_train), len(y_test), len(y_png), time.time() - t0))
    val = (x_test[:1000], y_test[:1000])

    results = {}

    # a. ReLU CNN.
    log("training shapes-cnn (ReLU, MaxPool), %d epochs" % args.epochs)
    torch.manual_seed(10)
    t0 = time.time()
    relu = train(ShapesNet(qcfs=False), x_train, y_train, args.epochs, lr=3e-3, seed=11, log=log, val=val)
    relu_time = time.time() - t0
    relu_path = os.path.join(args.out, "shapes-cnn.onnx")
    export(relu, relu_path)

    # b. QCFS CNN: fine-tuned from the ReLU weights (lambda starts at QCFS_LAMBDA_INIT).
    log("fine-tuning shapes-qcfs-l7 (QCFS L=%d, AvgPool), %d epochs" % (QCFS_LEVELS, args.qcfs_epochs))
    torch.manual_seed(20)
    t0 = time.time()
    qcfs = ShapesNet(qcfs=True)
    missing, unexpected = qcfs.load_state_dict(relu.state_dict(), strict=False)
    assert not unexpected and all(k.endswith(".lam") for k in missing), (missing, unexpected)
    qcfs = train(qcfs, x_train, y_train, args.qcfs_epochs, lr=1e-3, seed=21, log=log, val=val)
    qcfs_time = time.time() - t0
    qcfs_path = os.path.join(args.out, "shapes-qcfs-l7.onnx")
    export(qcfs, qcfs_path)
    lambdas = [float(m.lam) for m in qcfs.modules() if isinstance(m, Qcfs)]

    for name, model, path, secs in (("shapes-cnn.onnx", relu, relu_path, relu_time),
                                    ("shapes-qcfs-l7.onnx", qcfs, qcfs_path, qcfs_time)):
        ops, dims = check_onnx(path)
        runner = OnnxNumpyRunner(path)
        r = {
            "torch_test": accuracy(model, x_test, y_test),
            "torch_png": accuracy(model, x_png, y_png),
            "onnx_test": runner.accuracy(x_test, y_test),
            "onnx_png": runner.accuracy(x_png, y_png),
            "ops": ops,
            "dims": dims,
            "size": os.path.getsize(path),
            "seconds": secs,
        }
        # The exported file must compute what the module computes.
        with torch.no_grad():
            ref = model(to_input(x_png[:50])).numpy()
        r["max_abs_diff"] = float(np.abs(runner.run(to_input(x_png[:50]).numpy()) - ref).max())
        results[name] = r
        log("%s: test %.4f (onnx %.4f), PNGs %.4f (onnx %.4f), %d bytes, input %s, max |onnx-torch| %.2e"
            % (name, r["torch_test"], r["onnx_test"], r["torch_png"], r["onnx_png"], r["size"], dims,
               r["max_abs_diff"]))
        log("  ops: %s" % " ".join(ops))
    log("QCFS lambdas: %s" % ", ".join("%.3f" % v for v in lambdas))
    log("total %.0fs" % (time.time() - t_start))

    if not args.no_md:
        write_models_md(os.path.join(args.out, "MODELS.md"), args, results, lambdas)


def _op_summary(ops):
    counts = {}
    for o in ops:
        counts[o] = counts.get(o, 0) + 1
    return ", ".join("%s ×%d" % (k, v) for k, v in counts.items())


def write_models_md(path, args, results, lambdas):
    cnn, q = results["shapes-cnn.onnx"], results["shapes-qcfs-l7.onnx"]
    png_bytes = sum(os.path.getsize(os.path.join(dp, f))
                    for dp, _, fs in os.walk(os.path.join(os.path.dirname(path), "images")) for f in fs)
    lines = [
        "# Demo models",
        "",
        "The ImageClassification sample embeds two small ONNX image classifiers and 300 images, all made by",
        "this repository from a synthetic dataset; nothing is downloaded. Regenerate them with",
        "",
        "```",
        "/usr/bin/python3 eng/demo-model/train.py" + (
            "" if (args.n_train, args.n_test, args.epochs, args.qcfs_epochs) == (30000, 5000, 8, 4)
            else " --n-train %d --n-test %d --epochs %d --qcfs-epochs %d"
            % (args.n_train, args.n_test, args.epochs, args.qcfs_epochs)),
        "```",
        "",
        "(Debian's `python3-torch` 1.13 CPU, `python3-onnx`, `python3-numpy`; see `eng/demo-model/README.md`).",
        "Seeds are fixed; training runs on one CPU thread.",
        "",
        "## Data",
        "",
        "`eng/demo-model/make_shapes.py` draws 32×32 RGB images of ten classes, in this output order",
        "(also `images/labels.txt`): " + ", ".join("`%s`" % c for c in ms.CLASSES) + ".",
        "Each image has one object at a random position and size (rotated where meaningful), random",
        "foreground/background colours, a background gradient, 0–3 thin distractor strokes and Gaussian",
        "pixel noise. Training set: %d images (seed %d); test set: %d images (seed %d);"
        % (args.n_train, ms.TRAIN_SEED, args.n_test, ms.TEST_SEED),
        "`images/<class>/NNNN.png`: %d held-out images per class (seed %d), %d bytes in all."
        % (ms.PNGS_PER_CLASS, ms.PNG_SEED, png_bytes),
        "",
        "## Input",
        "",
        "`input`: float32 `[N, 3, 32, 32]`, RGB, CHW, pixel / 255 (range [0, 1]), no mean/std normalization.",
        "`logits`: float32 `[N, 10]` (unnormalized class scores; argmax is the prediction).",
        "",
        "## Architecture",
        "",
        "| layer | shapes-cnn.onnx | shapes-qcfs-l7.onnx |",
        "|---|---|---|",
        "| Conv 3→16, 3×3, pad 1 + BatchNorm | ReLU | QCFS |",
        "| Conv 16→32, 3×3, pad 1, stride 2 + BatchNorm | ReLU | QCFS |",
        "| Conv 32→32, 3×3, pad 1 + BatchNorm | ReLU | QCFS |",
        "| pool 2×2, stride 2 | MaxPool | AveragePool |",
        "| Conv 32→64, 3×3, pad 1, stride 2 + BatchNorm | ReLU | QCFS |",
        "| GlobalAveragePool, Flatten, Linear 64→10 (Gemm) | | |",
        "",
        "Convolutions have no bias (BatchNorm follows); BatchNormalization nodes are kept in the files",
        "(exported with `do_constant_folding=False` and `training=TrainingMode.PRESERVE` on the eval-mode\n"
        "module; PyTorch 1.13 folds them into the Conv otherwise). QCFS (Bu et al., ICLR 2022) with L = %d and one"
        % QCFS_LEVELS,
        "trainable λ per layer: `y = λ · floor(clip(x / λ, 0, 1) · L + 0.5) / L`, exported as the chain",
        "Div λ → Clip(0, 1) → Mul L → Add 0.5 → Floor → Div L → Mul λ (floor trained with a straight-through",
        "gradient). Learned λ: " + ", ".join("%.3f" % v for v in lambdas) + ".",
        "",
        "Training: AdamW, one-cycle learning rate, batch 128, random flips. shapes-cnn: %d epochs from scratch"
        % args.epochs,
        "(max lr 3e-3, %.0f s on one core); shapes-qcfs-l7: initialized from shapes-cnn (λ = %.1f), %d epochs"
        % (cnn["seconds"], QCFS_LAMBDA_INIT, args.qcfs_epochs),
        "(max lr 1e-3, %.0f s)." % q["seconds"],
        "",
        "## Accuracy",
        "",
        "Measured by running the exported ONNX files (a small numpy interpreter in `train.py`); the PNGs are",
        "read back from disk with the same pixel pipeline (RGB, / 255, CHW).",
        "",
        "| model | test set (%d) | shipped PNGs (%d) | size (bytes) |" % (args.n_test, 10 * ms.PNGS_PER_CLASS),
        "|---|---|---|---|",
        "| shapes-cnn.onnx | %.2f%% | %.2f%% | %d |" % (100 * cnn["onnx_test"], 100 * cnn["onnx_png"], cnn["size"]),
        "| shapes-qcfs-l7.onnx | %.2f%% | %.2f%% | %d |" % (100 * q["onnx_test"], 100 * q["onnx_png"], q["size"]),
        "",
        "## ONNX",
        "",
        "Opset %d, exported by PyTorch %s (`torch.onnx.export`, eval mode, input `input` `[N, 3, 32, 32]`,"
        % (OPSET, torch.__version__),
        "output `logits`, dynamic batch axis `N`). Both pass `onnx.checker.check_model`.",
        "",
        "- shapes-cnn.onnx: " + _op_summary(cnn["ops"]),
        "- shapes-qcfs-l7.onnx: " + _op_summary(q["ops"]),
        "",
    ]
    with open(path, "w", newline="\n", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
