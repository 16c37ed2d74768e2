// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>Per-op conversion of nodes that read activations.</summary>
    internal sealed partial class GraphImporter
    {
        /// <summary>Converts one node; returns null on success or why this form is not supported.</summary>
        private string? ConvertNode(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            if (node.Input.Any(i => _pending.ContainsKey(i)))
            {
                return ConvertOnPending(node, name, op, a, where);
            }
            bool takesEitherOrder = op is "Add" or "Sub" or "Mul" or "Div" or "MatMul" or "Concat" or "Shape";
            if (!takesEitherOrder && !IsActivation(node, 0))
            {
                return "its data input is a constant while a parameter input is computed from the image; only constant parameters are supported";
            }
            switch (op)
            {
                case "Identity":
                    Alias(node.Output[0], node.Input[0]);
                    return null;
                case "Dropout":
                    if (node.Output.Count > 1 && node.Output[1].Length > 0 && _model.Graph.Node.Any(n => n.Input.Contains(node.Output[1])))
                    {
                        return "its mask output is used; only inference-mode Dropout (an identity) is supported";
                    }
                    if (node.Input.Count > 2 && node.Input[2].Length > 0)
                    {
                        ConstValue? training = ConstInput(node, 2);
                        if (training == null)
                        {
                            return "its training_mode input is not a constant; only inference-mode Dropout (an identity) is supported";
                        }
                        if (training.Data.Any(v => v != 0))
                        {
                            return "training_mode is true (random masking); only inference-mode Dropout (an identity) is supported";
                        }
                    }
                    Alias(node.Output[0], node.Input[0]);
                    return null;
                case "Conv":
                    return ConvertConv(node, name, op, a, where);
                case "Gemm":
                    return ConvertGemm(node, name, op, a);
                case "MatMul":
                    return ConvertMatMul(node, name, op);
                case "Add":
                case "Sub":
                case "Mul":
                case "Div":
                    return ConvertArithmetic(node, name, op);
                case "Relu":
                    AddLayer(new ReluLayer(name, op, In(node, 0), node.Output[0]));
                    return null;
                case "Floor":
                    AddLayer(new FloorLayer(name, op, In(node, 0), node.Output[0]));
                    return null;
                case "Clip":
                    return ConvertClip(node, name, op, a);
                case "MaxPool":
                case "AveragePool":
                    return ConvertPool(node, name, op, a, where);
                case "GlobalAveragePool":
                    AddLayer(new GlobalAveragePoolLayer(name, op, In(node, 0), node.Output[0]));
                    return null;
                case "BatchNormalization":
                    return ConvertBatchNorm(node, name, op, a);
                case "Concat":
                    return ConvertConcat(node, name, op, a, where);
                case "Flatten":
                    return ConvertFlatten(node, name, op, a, where);
                case "Reshape":
                    return ConvertReshape(node, name, op, a);
                case "Transpose":
                    return ConvertTransposeAny(node, name, op, a, where);
                case "Gather":
                    return ConvertGather(node, name, op, a, where);
                case "Split":
                    return ConvertSplit(node, name, op, a, where);
                case "Slice":
                    return ConvertSlice(node, name, op, a, where);
                case "Squeeze":
                    return ConvertSqueeze(node, name, op, a, where);
                case "Unsqueeze":
                    return ConvertUnsqueeze(node, name, op, a, where);
                case "Expand":
                    return ConvertExpand(node, name, op);
                case "LayerNormalization":
                    return ConvertLayerNorm(node, name, op, a, where);
                case "Gelu":
                    return ConvertGelu(node, name, op, a);
                case "Softmax":
                case "LogSoftmax":
                    return ConvertSoftmax(node, name, op, a, where);
                case "Shape":
                    return ConvertShape(node, a);
                default:
                    return $"{op} is supported only on constants, not on activations";
            }
        }

        private string In(NodeProto node, int index) => _activations[node.Input[index]];

        private int[] ShapeOf(NodeProto node, int index) => _shapes[_activations[node.Input[index]]];

        private bool IsActivation(NodeProto node, int index) =>
            index < node.Input.Count && node.Input[index].Length > 0 && _activations.ContainsKey(node.Input[index]);

        private ConstValue? ConstInput(NodeProto node, int index) =>
            index < node.Input.Count && node.Input[index].Length > 0 && _constants.TryGetValue(node.Input[index], out ConstValue? c) ? c : null;

        private void Alias(string onnxOutput, string onnxInput)
        {
            _activations[onnxOutput] = _activations[onnxInput];
        }

        private void AddLayer(Layer layer)
        {
            var inputShapes = layer.Inputs.Select(i => _shapes[i]).ToList();
            _shapes[layer.Output] = layer.InferShape(inputShapes);
            _activations[layer.Output] = layer.Output;
            _layers.Add(layer);
        }

        private string? ConvertConv(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            if (!IsActivation(node, 0))
            {
                return "its data input is a constant";
            }
            ConstValue? w = ConstInput(node, 1);
            if (w == null)
            {
                return "its weights are not constant";
            }
            if (w.Shape.Length != 4)
            {
                return $"only 2-D convolutions are supported (weight shape {ShapeUtil.Format(w.Shape)})";
            }
            ConstValue? b = ConstInput(node, 2);
            if (node.Input.Count > 2 && node.Input[2].Length > 0 && b == null)
            {
                return "its bias is not constant";
            }
            int[] x = ShapeOf(node, 0);
            if (x.Length != 3)
            {
                return $"expects an NCHW input, got [N,{string.Join(",", x)}]";
            }
            int[] kernel = { w.Shape[2], w.Shape[3] };
            int[] strides = Ints(a, "strides", 2, 1, where, min: 1);
            int[] dilations = Ints(a, "dilations", 2, 1, where, min: 1);
            int[] pads = ResolvePads(a, x, kernel, strides, dilations, where);
            int group = (int)a.GetInt("group", 1);
            AddLayer(new ConvLayer(name, op, In(node, 0), node.Output[0], w.ToTensor(), b?.ToFloats(), strides, pads, dilations, group));
            return null;
        }

        private string? ConvertGemm(NodeProto node, string name, string op, NodeAttributes a)
        {
            if (!IsActivation(node, 0))
            {
                return "its first input (A) is a constant; only A = activations, B = constant weights is supported";
            }
            ConstValue? bMatrix = ConstInput(node, 1);
            if (bMatrix == null || bMatrix.Shape.Length != 2)
            {
                return "its weights (B) are not a constant matrix";
            }
            if (a.GetInt("transA", 0) != 0)
            {
                return "transA = 1 would transpose the batch axis";
            }
            int[] x = ShapeOf(node, 0);
            if (x.Length != 1)
            {
                return $"expects a [N,F] input, got [N,{string.Join(",", x)}]";
            }
            float alpha = a.GetFloat("alpha", 1f);
            float beta = a.GetFloat("beta", 1f);
            bool transB = a.GetInt("transB", 0) != 0;
            int outFeatures = transB ? bMatrix.Shape[0] : bMatrix.Shape[1];
            int inFeatures = transB ? bMatrix.Shape[1] : bMatrix.Shape[0];
            var weight = new float[outFeatures * inFeatures];
            for (int o = 0; o < outFeatures; o++)
            {
                for (int i = 0; i < inFeatures; i++)
                {
                    double v = transB ? bMatrix.Data[o * inFeatures + i] : bMatrix.Data[i * outFeatures + o];
                    weight[o * inFeatures + i] = (float)(alpha * v);
                }
            }
            float[]? bias = null;
            ConstValue? c = ConstInput(node, 2);
            if (node.Input.Count > 2 && node.Input[2].Length > 0 && c == null)
            {
                return "its bias (C) is not constant";
            }
            if (c != null)
            {
                if (ShapeUtil.Broadcast(c.Shape, new[] { 1, outFeatures }) is not { } s || s[0] != 1 || s[1] != outFeatures)
                {
                    return $"its bias shape {ShapeUtil.Format(c.Shape)} does not broadcast to [1,{outFeatures}] without involving the batch axis";
                }
                bias = ConstantFolding.BroadcastTo(c, new[] { 1, outFeatures }).Select(v => (float)(beta * v)).ToArray();
            }
            AddLayer(new DenseLayer(name, op, In(node, 0), node.Output[0], new FloatTensor(new[] { outFeatures, inFeatures }, weight), bias));
            return null;
        }

        private string? ConvertMatMul(NodeProto node, string name, string op)
        {
            if (IsActivation(node, 0) && IsActivation(node, 1))
            {
                int[] left = ShapeOf(node, 0);
                int[] right = ShapeOf(node, 1);
                if (left.Length < 2 || right.Length != left.Length)
                {
                    return $"a product of two activations needs operands of the same rank ≥ 2 per sample (matrices per sample, as in attention); got [N,{string.Join(",", left)}] @ [N,{string.Join(",", right)}]";
                }
                AddLayer(new MatMulLayer(name, op, In(node, 0), In(node, 1), node.Output[0]));
                return null;
            }
            if (!IsActivation(node, 0))
            {
                return "the activation is its second operand; only activations @ constant weights is supported";
            }
            ConstValue w = ConstInput(node, 1)!;
            int[] x = ShapeOf(node, 0);
            if (x.Length < 1 || w.Shape.Length != 2 || x[^1] != w.Shape[0])
            {
                return $"only [N,...,F] @ [F,K] with constant weights is supported (activation [N,{string.Join(",", x)}], weights {ShapeUtil.Format(w.Shape)})";
            }
            int inFeatures = w.Shape[0];
            int outFeatures = w.Shape[1];
            var weight = new float[outFeatures * inFeatures];
            for (int o = 0; o < outFeatures; o++)
            {
                for (int i = 0; i < inFeatures; i++)
                {
                    weight[o * inFeatures + i] = (float)w.Data[i * outFeatures + o];
                }
            }
            AddLayer(new DenseLayer(name, op, In(node, 0), node.Output[0], new FloatTensor(new[] { outFeatures, inFeatures }, weight), null));
            return null;
        }

        private string? ConvertArithmetic(NodeProto node, string name, string op)
        {
            var binaryOp = Enum.Parse<BinaryOp>(op);
            if (IsActivation(node, 0) && IsActivation(node, 1))
            {
                AddLayer(new BinaryLayer(name, op, In(node, 0), In(node, 1), node.Output[0], binaryOp));
                return null;
            }
            bool constantOnLeft = !IsActivation(node, 0);
            int actIndex = constantOnLeft ? 1 : 0;
            ConstValue c = ConstInput(node, constantOnLeft ? 0 : 1)!;
            int[] x = ShapeOf(node, actIndex);
            int fullRank = x.Length + 1;
            int[] shape = c.Shape;
            if (shape.Length > fullRank)
            {
                return $"the constant {ShapeUtil.Format(shape)} has more axes than the activation [N,{string.Join(",", x)}]";
            }
            if (shape.Length == fullRank)
            {
                if (shape[0] != 1)
                {
                    return $"the constant {ShapeUtil.Format(shape)} varies along the batch axis";
                }
                shape = shape.Skip(1).ToArray();
            }
            AddLayer(new ConstBinaryLayer(name, op, In(node, actIndex), node.Output[0], binaryOp, new FloatTensor(shape, c.ToFloats()), constantOnLeft));
            return null;
        }

        private string? ConvertClip(NodeProto node, string name, string op, NodeAttributes a)
        {
            float min;
            float max;
            if (_opset < 11)
            {
                min = a.GetFloat("min", float.NegativeInfinity);
                max = a.GetFloat("max", float.PositiveInfinity);
            }
            else
            {
                if ((node.Input.Count > 1 && node.Input[1].Length > 0 && ConstInput(node, 1) == null) ||
                    (node.Input.Count > 2 && node.Input[2].Length > 0 && ConstInput(node, 2) == null))
                {
                    return "its min/max inputs are not constant";
                }
                if ((ConstInput(node, 1)?.Data.Length ?? 1) != 1 || (ConstInput(node, 2)?.Data.Length ?? 1) != 1)
                {
                    return "its min/max inputs are not scalars";
                }
                min = ConstInput(node, 1) is { } lo ? (float)lo.Data[0] : float.NegativeInfinity;
                max = ConstInput(node, 2) is { } hi ? (float)hi.Data[0] : float.PositiveInfinity;
            }
            AddLayer(new ClipLayer(name, op, In(node, 0), node.Output[0], min, max));
            return null;
        }

        private string? ConvertPool(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            if (node.Output.Count > 1 && node.Output[1].Length > 0)
            {
                return "its Indices output is requested";
            }
            long[]? kernelAttr = a.GetInts("kernel_shape");
            if (kernelAttr == null || kernelAttr.Length != 2)
            {
                return "only 2-D pooling with a kernel_shape attribute is supported";
            }
            int[] dilations = Ints(a, "dilations", 2, 1, where, min: 1);
            if (dilations.Any(d => d != 1))
            {
                return "dilated pooling is not supported";
            }
            int[] x = ShapeOf(node, 0);
            if (x.Length != 3)
            {
                return $"expects an NCHW input, got [N,{string.Join(",", x)}]";
            }
            if (kernelAttr.Any(k => k < 1 || k > int.MaxValue))
            {
                throw new OnnxImportException($"{where}: attribute 'kernel_shape' [{string.Join(",", kernelAttr)}] must be positive.");
            }
            int[] kernel = kernelAttr.Select(k => (int)k).ToArray();
            int[] strides = Ints(a, "strides", 2, 1, where, min: 1);
            int[] pads = ResolvePads(a, x, kernel, strides, dilations, where);
            bool ceil = a.GetInt("ceil_mode", 0) != 0;
            bool includePad = a.GetInt("count_include_pad", 0) != 0;
            var kind = op == "MaxPool" ? PoolKind.Max : PoolKind.Average;
            AddLayer(new PoolLayer(name, op, In(node, 0), node.Output[0], kind, kernel, strides, pads, ceil, includePad));
            return null;
        }

        private string? ConvertBatchNorm(NodeProto node, string name, string op, NodeAttributes a)
        {
            var parameters = Enumerable.Range(1, 4).Select(i => ConstInput(node, i)).ToList();
            if (parameters.Any(p => p == null))
            {
                return "its scale, bias, mean and variance must all be constants";
            }
            if (node.Output.Skip(1).Any(o => o.Length > 0) || a.GetInt("training_mode", 0) != 0)
            {
                return "training-mode outputs are requested; only inference mode is supported";
            }
            if (_opset < 9 && a.GetInt("spatial", 1) != 1)
            {
                return "spatial = 0 (per-activation statistics) is not supported";
            }
            float epsilon = a.GetFloat("epsilon", 1e-5f);
            AddLayer(new BatchNormLayer(name, op, In(node, 0), node.Output[0],
                parameters[0]!.ToFloats(), parameters[1]!.ToFloats(), parameters[2]!.ToFloats(), parameters[3]!.ToFloats(), epsilon));
            return null;
        }

        private string? ConvertConcat(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            string reference = node.Input.First(i => _activations.ContainsKey(i));
            int rank = _shapes[_activations[reference]].Length + 1;
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 1), rank, where);
            if (axis == 0)
            {
                return "concatenation along the batch axis is not supported";
            }
            List<string>? parts = ConcatParts(node, name, out string? problem);
            if (parts == null)
            {
                return problem;
            }
            AddLayer(new ConcatLayer(name, op, parts, node.Output[0], axis - 1));
            return null;
        }

        private string? ConvertFlatten(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 1), x.Length + 1, where);
            if (axis > 1 || (axis == 0 && !_batchFixedToOne))
            {
                return $"axis {axis} would merge the batch axis with other axes; only axis 1 is supported";
            }
            AddLayer(new ReshapeLayer(name, op, In(node, 0), node.Output[0], new[] { ShapeUtil.Size(x) }));
            return null;
        }

        private string? ConvertReshape(NodeProto node, string name, string op, NodeAttributes a)
        {
            ConstValue? target = ConstInput(node, 1);
            if (target == null)
            {
                return "its target shape is not a constant (or a Shape-derived expression the importer can fold)";
            }
            long[] s = target.ToLongs();
            int[] x = ShapeOf(node, 0);
            if (s.Length == 0)
            {
                return "reshaping to a scalar would drop the batch axis";
            }
            if (a.GetInt("allowzero", 0) != 0 && s.Contains(0))
            {
                return "allowzero = 1 with a zero dimension is not supported";
            }
            for (int i = 1; i < s.Length; i++)
            {
                if (s[i] == (long)ConstValue.DynamicBatch)
                {
                    return $"target {FormatTarget(s)} puts the batch size on axis {i}";
                }
                if (s[i] < -1 || s[i] > int.MaxValue)
                {
                    return $"target {FormatTarget(s)} has a dimension outside [-1, {int.MaxValue}]";
                }
            }
            long first = s[0];
            bool batchKept = first == 0 || (long)ConstValue.DynamicBatch == first || (first == 1 && _batchFixedToOne);
            var perSample = new int[s.Length - 1];
            for (int i = 1; i < s.Length; i++)
            {
                if (s[i] == 0)
                {
                    if (i - 1 >= x.Length)
                    {
                        return $"target {FormatTarget(s)} copies axis {i}, which the input [N,{string.Join(",", x)}] lacks";
                    }
                    perSample[i - 1] = x[i - 1];
                }
                else
                {
                    perSample[i - 1] = (int)s[i];
                }
            }
            if (first == -1)
            {
                if (perSample.Contains(-1) || ShapeUtil.Product(perSample) != ShapeUtil.Product(x))
                {
                    return $"target {FormatTarget(s)} does not keep the batch axis apart from the per-sample [{string.Join(",", x)}]";
                }
                batchKept = true;
            }
            if (!batchKept)
            {
                return $"target {FormatTarget(s)} changes the batch axis";
            }
            AddLayer(new ReshapeLayer(name, op, In(node, 0), node.Output[0], perSample));
            return null;
        }

        /// <summary>A Reshape target for messages, with the free batch size shown as N.</summary>
        private static string FormatTarget(long[] target) =>
            "[" + string.Join(",", target.Select(d => d == (long)ConstValue.DynamicBatch ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

        private string? ConvertSoftmax(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int rank = x.Length + 1;
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", _opset < 13 ? 1 : -1), rank, where);
            if (axis == 0)
            {
                return "softmax over the batch axis";
            }
            if (_opset < 13 && axis != rank - 1)
            {
                return $"opset {_opset} softmax with axis {axis} flattens several axes; only the last axis is supported";
            }
            AddLayer(new SoftmaxLayer(name, op, In(node, 0), node.Output[0], axis - 1, op == "LogSoftmax"));
            return null;
        }

        private string? ConvertShape(NodeProto node, NodeAttributes a)
        {
            var full = new List<double>();
            if (ConstInput(node, 0) is { } constant)
            {
                // Shape of an initializer or folded constant: its full shape, no batch axis involved.
                full.AddRange(constant.Shape.Select(d => (double)d));
            }
            else
            {
                full.Add(_batchFixedToOne ? 1 : ConstValue.DynamicBatch);
                full.AddRange(ShapeOf(node, 0).Select(d => (double)d));
            }
            int rank = full.Count;
            int start = (int)a.GetInt("start", 0);
            int end = (int)a.GetInt("end", rank);
            start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
            end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
            double[] values = full.Skip(start).Take(Math.Max(0, end - start)).ToArray();
            _constants[node.Output[0]] = new ConstValue(new[] { values.Length }, values, true);
            return null;
        }

        private static int[] Ints(NodeAttributes a, string name, int count, int fallback, string where, int min = int.MinValue)
        {
            long[]? values = a.GetInts(name);
            if (values == null)
            {
                return Enumerable.Repeat(fallback, count).ToArray();
            }
            if (values.Length != count)
            {
                throw new OnnxImportException($"{where}: attribute '{name}' has {values.Length} values; expected {count}.");
            }
            if (values.Any(v => v < min || v > int.MaxValue))
            {
                string range = min == int.MinValue ? "the 32-bit range" : $"[{min}, {int.MaxValue}]";
                throw new OnnxImportException($"{where}: attribute '{name}' [{string.Join(",", values)}] has a value outside {range}.");
            }
            return values.Select(v => (int)v).ToArray();
        }

        /// <summary>Explicit [top, left, bottom, right] pads from 'pads' or 'auto_pad'.</summary>
        private static int[] ResolvePads(NodeAttributes a, int[] x, int[] kernel, int[] strides, int[] dilations, string where)
        {
            string autoPad = a.GetString("auto_pad", "NOTSET");
            switch (autoPad)
            {
                case "NOTSET":
                    return Ints(a, "pads", 4, 0, where, min: 0);
                case "VALID":
                    return new int[4];
                case "SAME_UPPER":
                case "SAME_LOWER":
                {
                    var pads = new int[4];
                    for (int d = 0; d < 2; d++)
                    {
                        int size = x[d + 1];
                        int output = (size + strides[d] - 1) / strides[d];
                        int total = Math.Max(0, (output - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size);
                        int small = total / 2;
                        pads[d] = autoPad == "SAME_UPPER" ? small : total - small;
                        pads[d + 2] = total - pads[d];
                    }
                    return pads;
                }
                default:
                    throw new OnnxImportException($"{where}: auto_pad '{autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER.");
            }
        }
    }
}
