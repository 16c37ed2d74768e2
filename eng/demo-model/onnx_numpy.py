#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""A small numpy interpreter for the ONNX ops the demo models use, so that train.py and train_vit.py
evaluate the exported files themselves (not just the PyTorch modules) without onnxruntime.

CNN ops: Constant, Conv, BatchNormalization (inference), Relu, MaxPool, AveragePool (no padding, floor
mode), GlobalAveragePool, Flatten, Gemm, Div, Mul, Add, Clip, Floor.
Transformer ops (what torch.onnx.export writes for shapes_vit at opsets 13 and 17): Identity, Shape,
Gather, Slice, Unsqueeze, Squeeze, Concat, Reshape, Transpose, Split, Expand, ConstantOfShape, Equal,
Where, Cast, MatMul, Sub, Pow, Sqrt, Erf, ReduceMean, Softmax, LayerNormalization. Integer tensors (shape
arithmetic) keep their integer type; Div on integers truncates, as ONNX specifies.
The file is parsed with the onnx package.
"""

import math

import numpy as np

# ONNX TensorProto.DataType -> numpy, for Cast.
_ONNX_DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}

_erf = np.frompyfunc(math.erf, 1, 1)


def _axes(a, ins, index):
    """Axes of Squeeze/Unsqueeze/Split-style ops: an input from opset 13 on, an attribute before."""
    if len(ins) > index and ins[index] is not None:
        return [int(v) for v in np.asarray(ins[index]).reshape(-1)]
    return list(a.get("axes", []))


def to_input(images_u8):
    """uint8 NHWC RGB -> float32 NCHW in [0, 1]: the pixel pipeline of the sample."""
    return np.ascontiguousarray(images_u8.transpose(0, 3, 1, 2)).astype(np.float32) / np.float32(255.0)


class OnnxNumpyRunner:
    """Runs one ONNX file (batch of NCHW inputs -> first graph output).

    dtype float32 computes as an ONNX runtime would; float64 evaluates the file's function almost exactly
    (weights and constants widened), which is how train.py compares it with the PyTorch module: in float32
    two correct implementations can round a QCFS pre-activation to different sides of a floor boundary."""

    def __init__(self, path, dtype=np.float32):
        self.dtype = np.dtype(dtype)
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
        cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = x[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
        out = np.einsum("nckhij,dckh->ndij", cols.reshape(n, c, kh, kw, oh, ow), w, optimize=True)
        if b is not None:
            out = out + b[None, :, None, None]
        return out.astype(x.dtype)

    @staticmethod
    def _pool(x, k, s, op):
        n, c, h, w = x.shape
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        windows = np.stack([x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
                            for i in range(k[0]) for j in range(k[1])])
        return op(windows, axis=0)

    def run(self, x):
        env = {k: v.astype(self.dtype) if v.dtype.kind == "f" else v for k, v in self.inits.items()}
        env[self.model.graph.input[0].name] = x.astype(self.dtype)
        for node in self.model.graph.node:
            a = self._attrs(node)
            ins = [env[i] if i else None for i in node.input]
            op = node.op_type
            if op == "Constant":
                out = self.numpy_helper.to_array(a["value"])
            elif op == "Conv":
                if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1])):
                    raise NotImplementedError("grouped or dilated Conv")
                out = self._conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                 a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]))
            elif op == "BatchNormalization":
                xx, scale, bias, mean, var = ins
                eps = a.get("epsilon", 1e-5)
                inv = scale / np.sqrt(var + eps)
                out = (xx - mean[None, :, None, None]) * inv[None, :, None, None] + bias[None, :, None, None]
            elif op == "Relu":
                out = np.maximum(ins[0], 0)
            elif op in ("MaxPool", "AveragePool"):
                if any(a.get("pads", [0])) or a.get("ceil_mode", 0) or a.get("auto_pad", b"NOTSET") != b"NOTSET":
                    raise NotImplementedError("%s with padding or ceil_mode" % op)
                out = self._pool(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]),
                                 np.max if op == "MaxPool" else np.mean)
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
                if ins[0].dtype.kind in "iu" and ins[1].dtype.kind in "iu":
                    q = np.abs(ins[0]) // np.abs(ins[1])
                    out = np.where((ins[0] < 0) != (ins[1] < 0), -q, q).astype(ins[0].dtype)  # truncation
                else:
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
                out = self._transformer_op(op, a, ins)
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.output, outs):
                value = np.asarray(value)
                env[name] = value.astype(self.dtype) if value.dtype.kind == "f" else value
        return env[self.model.graph.output[0].name]

    def _transformer_op(self, op, a, ins):
        """The ops of the ViT exports (shape arithmetic, attention, LayerNorm, GELU)."""
        x = ins[0] if ins else None
        if op == "Identity":
            return x
        if op == "Shape":
            return np.array(x.shape, dtype=np.int64)
        if op == "Gather":
            return np.take(x, ins[1], axis=a.get("axis", 0))
        if op == "Slice":
            starts, ends = ins[1].reshape(-1), ins[2].reshape(-1)
            axes = ins[3].reshape(-1) if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
            steps = ins[4].reshape(-1) if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
            index = [slice(None)] * x.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                index[int(ax)] = slice(int(s), int(e), int(st))  # Python slices clamp like ONNX
            return x[tuple(index)]
        if op == "Unsqueeze":
            axes = sorted(ax % (x.ndim + len(_axes(a, ins, 1))) for ax in _axes(a, ins, 1))
            for ax in axes:
                x = np.expand_dims(x, ax)
            return x
        if op == "Squeeze":
            axes = _axes(a, ins, 1)
            return np.squeeze(x, axis=tuple(axes)) if axes else np.squeeze(x)
        if op == "Concat":
            return np.concatenate(ins, axis=a["axis"])
        if op == "Reshape":
            shape = [int(v) for v in ins[1]]
            if not a.get("allowzero", 0):
                shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
            return x.reshape(shape)
        if op == "Transpose":
            return np.transpose(x, a.get("perm", list(range(x.ndim))[::-1]))
        if op == "Split":
            axis = a.get("axis", 0)
            sizes = _axes({"axes": a.get("split", [])}, ins, 1)
            if not sizes:
                n = a.get("num_outputs")
                if n is None:
                    raise NotImplementedError("Split without sizes needs the node's output count")
                sizes = [x.shape[axis] // n] * n
            return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
        if op == "Expand":
            shape = np.broadcast_shapes(x.shape, tuple(int(v) for v in ins[1]))  # bidirectional broadcast
            return np.broadcast_to(x, shape).copy()
        if op == "ConstantOfShape":
            value = self.numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            return np.full([int(v) for v in ins[0]], value.reshape(-1)[0], dtype=value.dtype)
        if op == "Equal":
            return np.equal(x, ins[1])
        if op == "Where":
            return np.where(x, ins[1], ins[2])
        if op == "Cast":
            to = _ONNX_DTYPES[a["to"]]
            return x.astype(self.dtype if np.dtype(to).kind == "f" else to)
        if op == "MatMul":
            return np.matmul(x, ins[1])
        if op == "Sub":
            return x - ins[1]
        if op == "Pow":
            return np.power(x, ins[1])
        if op == "Sqrt":
            return np.sqrt(x)
        if op == "Erf":
            return _erf(x.astype(np.float64)).astype(np.float64)
        if op == "ReduceMean":
            axes = _axes(a, ins, 1)
            return np.mean(x, axis=tuple(axes) if axes else None, keepdims=bool(a.get("keepdims", 1)))
        if op == "Softmax":
            axis = a.get("axis", -1)
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        if op == "LayerNormalization":
            axis = a.get("axis", -1) % x.ndim
            axes = tuple(range(axis, x.ndim))
            mean = x.mean(axis=axes, keepdims=True)
            d = x - mean
            var = (d * d).mean(axis=axes, keepdims=True)
            y = d / np.sqrt(var + np.asarray(a.get("epsilon", 1e-5), dtype=x.dtype)) * ins[1]
            return y + ins[2] if len(ins) > 2 and ins[2] is not None else y
        raise NotImplementedError(op)

    def accuracy(self, images_u8, labels, batch=250):
        correct = 0
        for i in range(0, len(labels), batch):
            logits = self.run(to_input(images_u8[i:i + batch]))
            correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
        return correct / len(labels)

