#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""Writes a trained ShapesNet as ONNX (opset 13) through the project's own writer, onnx_writer.py.

The graph is the one torch.onnx.export (PyTorch 1.13, opset 13, eval mode, do_constant_folding=False,
training=TrainingMode.PRESERVE, dynamic batch axis "N") writes for the same module: same nodes in the
same order, same node and value names, same attributes, Constant nodes for the Python-number operands
of QCFS, BatchNormalization kept (not folded into the Conv), initializers named after the state dict.
Per QCFS activation the chain is

    Div(x, lam) -> Clip(x, Constant 0, Constant 1) -> Mul(x, Constant L) -> Add(x, Constant 0.5)
    -> Floor -> Div(x, Constant L) -> Mul(x, lam)

train.py checks that the graph is identical to torch.onnx.export's (torch_onnx_graph below); only the
model's producer fields differ.
"""

import io
import warnings

import numpy as np
import torch
import torch.nn as nn

import make_shapes as ms
import onnx_writer as ow
from shapes_model import Qcfs

OPSET = 13
PRODUCER_NAME = "Microsoft.ML.Spiking eng/demo-model"
PRODUCER_VERSION = "1"


def _array(t):
    return t.detach().cpu().numpy().astype(np.float32)


def _pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def _pool_attributes(m):
    if _pair(m.padding) != [0, 0]:
        raise NotImplementedError("padded pooling is not written (PyTorch would emit a Pad node)")
    kernel = _pair(m.kernel_size)
    return {"ceil_mode": int(m.ceil_mode), "kernel_shape": kernel, "pads": [0, 0, 0, 0],
            "strides": _pair(m.stride if m.stride is not None else m.kernel_size)}


def _qcfs(b, x, m, prefix, scope):
    """The QCFS chain, op for op and constant for constant as PyTorch exports Qcfs.forward."""
    lam = b.initializer(prefix + ".lam", _array(m.lam))
    x = b.node("Div", [x, lam], scope)
    x = b.node("Clip", [x, b.constant(0.0, scope), b.constant(1.0, scope)], scope)
    x = b.node("Mul", [x, b.constant(float(m.levels), scope)], scope)
    x = b.node("Add", [x, b.constant(0.5, scope)], scope)
    x = b.node("Floor", [x], scope)
    x = b.node("Div", [x, b.constant(float(m.levels), scope)], scope)
    return b.node("Mul", [x, lam], scope)


def onnx_bytes(model, input_name="input", output_name="logits"):
    """ModelProto bytes of a ShapesNet (eval-mode semantics: BatchNormalization with running statistics)."""
    b = ow.GraphBuilder("torch_jit")
    x = b.input(input_name, ow.FLOAT, ["N", 3, ms.SIZE, ms.SIZE])
    for i, m in enumerate(model.features):
        prefix = "features.%d" % i
        scope = "/features/" + prefix
        if isinstance(m, nn.Conv2d):
            ins = [x, b.initializer(prefix + ".weight", _array(m.weight))]
            if m.bias is not None:
                ins.append(b.initializer(prefix + ".bias", _array(m.bias)))
            x = b.node("Conv", ins, scope, {
                "dilations": _pair(m.dilation), "group": m.groups, "kernel_shape": _pair(m.kernel_size),
                "pads": _pair(m.padding) * 2, "strides": _pair(m.stride)})
        elif isinstance(m, nn.BatchNorm2d):
            ins = [x] + [b.initializer(prefix + "." + k, _array(getattr(m, k)))
                         for k in ("weight", "bias", "running_mean", "running_var")]
            # PyTorch writes ONNX momentum as 1 - its own momentum; it does not affect inference.
            x = b.node("BatchNormalization", ins, scope, {"epsilon": float(m.eps), "momentum": 1.0 - m.momentum})
        elif isinstance(m, nn.ReLU):
            x = b.node("Relu", [x], scope)
        elif isinstance(m, Qcfs):
            x = _qcfs(b, x, m, prefix, scope)
        elif isinstance(m, nn.MaxPool2d):
            x = b.node("MaxPool", [x], scope, _pool_attributes(m))
        elif isinstance(m, nn.AvgPool2d):
            if m.count_include_pad and _pair(m.padding) != [0, 0]:
                raise NotImplementedError("AvgPool2d with count_include_pad and padding")
            x = b.node("AveragePool", [x], scope, _pool_attributes(m))
        elif isinstance(m, nn.AdaptiveAvgPool2d) and _pair(m.output_size) == [1, 1]:
            x = b.node("GlobalAveragePool", [x], scope)
        else:
            raise NotImplementedError(type(m).__name__)
    x = b.node("Flatten", [x], "", {"axis": 1})
    fc = model.classifier
    x = b.node("Gemm", [x, b.initializer("classifier.weight", _array(fc.weight)),
                        b.initializer("classifier.bias", _array(fc.bias))],
               "/classifier", {"alpha": 1.0, "beta": 1.0, "transB": 1}, output=output_name)
    b.output(x, ow.FLOAT, ["N", fc.out_features])
    return ow.model_proto(b.graph(), OPSET, ir_version=7,
                          producer_name=PRODUCER_NAME, producer_version=PRODUCER_VERSION)


def export(model, path):
    model.eval()
    data = onnx_bytes(model)
    with open(path, "wb") as f:
        f.write(data)
    return data


def torch_onnx_graph(model):
    """GraphProto bytes of torch.onnx.export's export of the same module (the reference for the check).

    TrainingMode.PRESERVE on the eval-mode module: with the default (EVAL) PyTorch 1.13 folds every
    BatchNormalization into the preceding Conv even with do_constant_folding=False."""
    import onnx
    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # PyTorch 1.13 warns that g.op in FloorSTE.symbolic is deprecated; the export is unaffected.
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(model, torch.zeros(1, 3, ms.SIZE, ms.SIZE), buf, opset_version=OPSET,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    return onnx.load_from_string(buf.getvalue()).graph.SerializeToString()
