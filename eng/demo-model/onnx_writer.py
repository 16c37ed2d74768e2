#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""A small hand-written ONNX writer: protobuf wire encoding of the few ONNX messages a plain
feed-forward image classifier needs, with numpy only (no onnx, no protobuf package).

Messages written (field numbers and types are those of the ONNX format, onnx.proto, proto2 syntax):

    ModelProto          ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5,
                        doc_string 6, graph 7, opset_import 8
    OperatorSetIdProto  domain 1, version 2
    GraphProto          node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13
    NodeProto           input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7
    AttributeProto      name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, type 20
    TensorProto         dims 1, data_type 2, float_data 4 (packed), int64_data 7 (packed), name 8, raw_data 9
    ValueInfoProto      name 1, type 2
    TypeProto           tensor_type 1;  TypeProto.Tensor: elem_type 1, shape 2
    TensorShapeProto    dim 1;  Dimension: dim_value 1, dim_param 2

Fields are written in field-number order, which is the order protobuf's own serializers use, so a file
written here is byte-identical to the same model parsed and re-serialized by the protobuf runtime.
Optional fields have explicit presence (proto2): None leaves a field out, 0 or "" writes it. Repeated
scalars are written unpacked, except the ones onnx.proto declares [packed = true].

    b = GraphBuilder("torch_jit")
    x = b.input("input", FLOAT, ["N", 3, 32, 32])
    w = b.initializer("conv.weight", weights)
    y = b.node("Conv", [x, w], scope="/conv", attributes={"kernel_shape": [3, 3]})
    b.output(b.node("Relu", [y], scope="/act", output="y"), FLOAT, ["N", 16, 32, 32])
    data = model_proto(b.graph(), opset=13)           # bytes of a ModelProto
"""

import struct

import numpy as np

# TensorProto.DataType values used here.
FLOAT = 1
INT64 = 7

# AttributeProto.AttributeType values.
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR = 1, 2, 3, 4
ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 6, 7, 8

# Wire types.
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5

_NUMPY_TYPES = {FLOAT: np.dtype("<f4"), INT64: np.dtype("<i8")}


# ---- wire encoding ------------------------------------------------------------------------------

def varint(value):
    """Base-128 varint of an integer; negative values as their 64-bit two's complement (10 bytes)."""
    value = int(value)
    if value < 0:
        value += 1 << 64
    if not 0 <= value < 1 << 64:
        raise ValueError("varint out of 64-bit range: %d" % value)
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field, wire_type):
    return varint((field << 3) | wire_type)


def int_field(field, value):
    """An int32/int64/enum field (varint); nothing when value is None."""
    return b"" if value is None else _key(field, _VARINT) + varint(value)


def float_field(field, value):
    """A float field (fixed32, little-endian IEEE 754 single); nothing when value is None."""
    return b"" if value is None else _key(field, _FIXED32) + struct.pack("<f", value)


def bytes_field(field, value):
    """A length-delimited field: bytes, a UTF-8 string or an already encoded message; nothing for None."""
    if value is None:
        return b""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _key(field, _LEN) + varint(len(value)) + bytes(value)


def repeated(field_writer, field, values):
    """An unpacked repeated field: one key + value per element (proto2 default)."""
    return b"".join(field_writer(field, v) for v in values)


def packed_varints(field, values):
    """A packed repeated varint field: one key, the length, then the varints; nothing when empty."""
    values = list(values)
    return bytes_field(field, b"".join(varint(v) for v in values)) if values else b""


def packed_floats(field, values):
    """A packed repeated float field (fixed32 each); nothing when empty."""
    values = np.asarray(values, dtype="<f4").ravel()
    return bytes_field(field, values.tobytes()) if values.size else b""


# ---- ONNX messages ------------------------------------------------------------------------------

def tensor_proto(array, name=None, raw=True):
    """TensorProto of a float32 or int64 array: dims, data_type, name, and the data as raw_data
    (little-endian) or, with raw=False, as packed float_data / int64_data."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        data_type = FLOAT
    elif array.dtype.kind in "iu":
        data_type = INT64
    else:
        raise TypeError("only float32 and int64 tensors are written, not %s" % array.dtype)
    array = np.asarray(array, dtype=_NUMPY_TYPES[data_type])  # keeps 0-d arrays 0-d (dims [])
    out = repeated(int_field, 1, array.shape) + int_field(2, data_type)
    if not raw:
        out += packed_floats(4, array) if data_type == FLOAT else b""
        out += packed_varints(7, array.ravel().tolist()) if data_type == INT64 else b""
    out += bytes_field(8, name)
    if raw:
        out += bytes_field(9, array.tobytes(order="C"))
    return out


def attribute_proto(name, value):
    """AttributeProto with its type: int, float, str, int list, float list, str list or numpy array (tensor).

    A list is typed by its elements (all int: INTS; otherwise FLOATS); an empty list is written as INTS."""
    out = bytes_field(1, name)
    if isinstance(value, (bool, int, np.integer)):
        return out + int_field(3, int(value)) + int_field(20, ATTR_INT)
    if isinstance(value, (float, np.floating)):
        return out + float_field(2, float(value)) + int_field(20, ATTR_FLOAT)
    if isinstance(value, (str, bytes)):
        return out + bytes_field(4, value) + int_field(20, ATTR_STRING)
    if isinstance(value, np.ndarray):
        return out + bytes_field(5, tensor_proto(value)) + int_field(20, ATTR_TENSOR)
    values = list(value)
    if all(isinstance(v, (str, bytes)) for v in values) and values:
        return out + repeated(bytes_field, 9, values) + int_field(20, ATTR_STRINGS)
    if all(isinstance(v, (bool, int, np.integer)) for v in values):
        return out + repeated(int_field, 8, [int(v) for v in values]) + int_field(20, ATTR_INTS)
    return out + repeated(float_field, 7, [float(v) for v in values]) + int_field(20, ATTR_FLOATS)


def node_proto(op_type, inputs, outputs, name=None, attributes=None, domain=None, doc_string=None):
    """NodeProto. Attributes (a dict) are written in name order, as PyTorch's exporter does."""
    attributes = attributes or {}
    return (repeated(bytes_field, 1, inputs)
            + repeated(bytes_field, 2, outputs)
            + bytes_field(3, name)
            + bytes_field(4, op_type)
            + b"".join(bytes_field(5, attribute_proto(k, attributes[k])) for k in sorted(attributes))
            + bytes_field(6, doc_string)
            + bytes_field(7, domain))


def value_info_proto(name, elem_type, shape):
    """ValueInfoProto of a tensor; each dimension is a number (dim_value) or a name (dim_param)."""
    dims = b"".join(bytes_field(1, bytes_field(2, d) if isinstance(d, str) else int_field(1, d)) for d in shape)
    tensor_type = int_field(1, elem_type) + bytes_field(2, dims)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))


def graph_proto(name, nodes, initializers, inputs, outputs, value_infos=(), doc_string=None):
    """GraphProto from encoded NodeProto / TensorProto / ValueInfoProto messages."""
    return (repeated(bytes_field, 1, nodes)
            + bytes_field(2, name)
            + repeated(bytes_field, 5, initializers)
            + bytes_field(10, doc_string)
            + repeated(bytes_field, 11, inputs)
            + repeated(bytes_field, 12, outputs)
            + repeated(bytes_field, 13, value_infos))


def opset_proto(version, domain=None):
    """OperatorSetIdProto (domain None: the default ONNX domain, left out as PyTorch does)."""
    return bytes_field(1, domain) + int_field(2, version)


def model_proto(graph, opset, ir_version=7, producer_name=None, producer_version=None, domain=None,
                model_version=None, doc_string=None):
    """ModelProto around an encoded GraphProto; opset is the default-domain opset version.
    ir_version 7 is the IR version of opsets 12-13 (the one PyTorch 1.13 writes for opset 13)."""
    return (int_field(1, ir_version)
            + bytes_field(2, producer_name)
            + bytes_field(3, producer_version)
            + bytes_field(4, domain)
            + int_field(5, model_version)
            + bytes_field(6, doc_string)
            + bytes_field(7, graph)
            + bytes_field(8, opset_proto(opset)))


# ---- graph building -----------------------------------------------------------------------------

class GraphBuilder:
    """Collects nodes, initializers, inputs and outputs, naming nodes the way torch.onnx.export does:
    node "<scope>/<OpType>", then "<scope>/<OpType>_1", ... within one scope, and its output
    "<node name>_output_0"."""

    def __init__(self, name):
        self.name = name
        self._nodes, self._initializers, self._inputs, self._outputs = [], [], [], []
        self._counts = {}

    def _node_name(self, scope, op_type):
        key = (scope, op_type)
        k = self._counts.get(key, 0)
        self._counts[key] = k + 1
        return "%s/%s" % (scope, op_type) + ("_%d" % k if k else "")

    def input(self, name, elem_type, shape):
        self._inputs.append(value_info_proto(name, elem_type, shape))
        return name

    def output(self, name, elem_type, shape):
        self._outputs.append(value_info_proto(name, elem_type, shape))
        return name

    def initializer(self, name, array):
        self._initializers.append(tensor_proto(array, name=name))
        return name

    def node(self, op_type, inputs, scope="", attributes=None, output=None):
        """Adds a node with one output; returns the output's name."""
        name = self._node_name(scope, op_type)
        output = output or name + "_output_0"
        self._nodes.append(node_proto(op_type, inputs, [output], name=name, attributes=attributes))
        return output

    def constant(self, value, scope=""):
        """A Constant node holding a float32 scalar (dims []), as PyTorch writes Python-number operands."""
        return self.node("Constant", [], scope=scope,
                         attributes={"value": np.asarray(value, dtype=np.float32).reshape(())})

    def graph(self):
        return graph_proto(self.name, self._nodes, self._initializers, self._inputs, self._outputs)
