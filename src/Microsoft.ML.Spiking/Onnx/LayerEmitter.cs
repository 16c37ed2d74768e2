// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Lowers one stateless IR layer to ONNX nodes. Every op it emits treats the leading axis as a
    /// free batch axis, so the same nodes serve an ANN batch [B, ...] and a time-folded SNN batch [K·B, ...].
    /// </summary>
    internal static class LayerEmitter
    {
        public static string Emit(OnnxGraphBuilder b, Network network, Layer layer, IReadOnlyList<string> inputs)
        {
            string x = inputs[0];
            switch (layer)
            {
                case ConvLayer conv:
                {
                    var ins = new List<string> { x, b.Initializer("W", conv.Weight.Shape, conv.Weight.Data) };
                    if (conv.Bias != null)
                    {
                        ins.Add(b.Initializer("B", new[] { conv.Bias.Length }, conv.Bias));
                    }
                    return b.Node("Conv", ins, null,
                        Attr("kernel_shape", new[] { conv.Weight.Shape[2], conv.Weight.Shape[3] }),
                        Attr("strides", conv.Strides), Attr("pads", conv.Pads), Attr("dilations", conv.Dilations),
                        Attr("group", conv.Group));
                }
                case DenseLayer dense when network.GetShape(dense.Inputs[0]).Length > 1:
                    return TransformerEmitter.TokenDense(b, dense, x);
                case LayerNormLayer or GeluLayer or MatMulLayer or GatherLayer or SliceLayer or BroadcastConstantLayer:
                    return TransformerEmitter.Emit(b, layer, inputs);
                case DenseLayer dense:
                {
                    var ins = new List<string> { x, b.Initializer("W", dense.Weight.Shape, dense.Weight.Data) };
                    if (dense.Bias != null)
                    {
                        ins.Add(b.Initializer("B", new[] { dense.Bias.Length }, dense.Bias));
                    }
                    return b.Node("Gemm", ins, null, Attr("transB", 1L));
                }
                case BatchNormLayer bn:
                {
                    int c = bn.Gamma.Length;
                    return b.Node("BatchNormalization", new[]
                    {
                        x, b.Initializer("gamma", new[] { c }, bn.Gamma), b.Initializer("beta", new[] { c }, bn.Beta),
                        b.Initializer("mean", new[] { c }, bn.Mean), b.Initializer("var", new[] { c }, bn.Variance),
                    }, null, Attr("epsilon", bn.Epsilon));
                }
                case ChannelAffineLayer affine:
                {
                    int[] shape = ChannelShape(affine.Scale.Length, network.GetShape(affine.Inputs[0]).Length);
                    string scaled = b.Node("Mul", new[] { x, b.Initializer("scale", shape, affine.Scale) });
                    return b.Node("Add", new[] { scaled, b.Initializer("shift", shape, affine.Shift) });
                }
                case ReluLayer:
                    return b.Node("Relu", new[] { x });
                case NeuronSiteLayer:
                    return b.Node("Identity", new[] { x });
                case ClipLayer clip:
                    return b.Node("Clip", new[] { x, b.Scalar(clip.Min), b.Scalar(clip.Max) });
                case FloorLayer:
                    return b.Node("Floor", new[] { x });
                case QcfsLayer q:
                {
                    // Same op order as the PyTorch export (x/λ·L + ½, floor, clip, /L·λ), so the
                    // quantization boundaries round exactly as in the source model.
                    string lambda = q.Lambda.Length == 1
                        ? b.Scalar(q.Lambda[0])
                        : b.Initializer("lambda", ChannelShape(q.Lambda.Length, network.GetShape(q.Inputs[0]).Length), q.Lambda);
                    string t = b.Node("Div", new[] { x, lambda });
                    t = b.Node("Mul", new[] { t, b.Scalar(q.Levels) });
                    t = b.Node("Add", new[] { t, b.Scalar(0.5f) });
                    t = b.Node("Floor", new[] { t });
                    t = b.Node("Clip", new[] { t, b.Scalar(0f), b.Scalar(q.Levels) });
                    t = b.Node("Div", new[] { t, b.Scalar(q.Levels) });
                    return b.Node("Mul", new[] { t, lambda });
                }
                case PoolLayer pool:
                {
                    var attributes = new List<Proto.AttributeProto>
                    {
                        Attr("kernel_shape", pool.Kernel), Attr("strides", pool.Strides), Attr("pads", pool.Pads),
                        Attr("ceil_mode", pool.CeilMode ? 1L : 0L),
                    };
                    if (pool.Kind == PoolKind.Average)
                    {
                        attributes.Add(Attr("count_include_pad", pool.CountIncludePad ? 1L : 0L));
                    }
                    return b.Node(pool.Kind == PoolKind.Max ? "MaxPool" : "AveragePool", new[] { x }, null, attributes.ToArray());
                }
                case GlobalAveragePoolLayer:
                    return b.Node("GlobalAveragePool", new[] { x });
                case BinaryLayer bin:
                    return b.Node(bin.Op.ToString(), new[] { x, inputs[1] });
                case ConstBinaryLayer cb:
                {
                    string c = b.Initializer("const", cb.Constant.Shape, cb.Constant.Data);
                    return b.Node(cb.Op.ToString(), cb.ConstantOnLeft ? new[] { c, x } : new[] { x, c });
                }
                case ConcatLayer concat:
                    return b.Node("Concat", inputs, null, Attr("axis", (long)(concat.Axis + 1)));
                case ReshapeLayer reshape:
                {
                    long[] target = new long[] { -1 }.Concat(network.GetShape(reshape.Output).Select(d => (long)d)).ToArray();
                    return b.Node("Reshape", new[] { x, b.Ints(target) });
                }
                case TransposeLayer transpose:
                    return b.Node("Transpose", new[] { x }, null, Attr("perm", new[] { 0 }.Concat(transpose.Permutation.Select(p => p + 1))));
                case SoftmaxLayer softmax:
                    return b.Node(softmax.Log ? "LogSoftmax" : "Softmax", new[] { x }, null, Attr("axis", (long)(softmax.Axis + 1)));
                default:
                    throw new NotSupportedException($"Layer '{layer.Name}' of type {layer.GetType().Name} has no stateless ONNX lowering.");
            }
        }

        /// <summary>Shape [C, 1, …, 1] that broadcasts a per-channel vector over a per-sample tensor of the given rank.</summary>
        public static int[] ChannelShape(int channels, int perSampleRank)
        {
            var shape = new int[Math.Max(perSampleRank, 1)];
            shape[0] = channels;
            for (int i = 1; i < shape.Length; i++)
            {
                shape[i] = 1;
            }
            return shape;
        }
    }

    /// <summary>Writes an IR network (without spiking neurons) as an ONNX model with a free batch axis.</summary>
    internal static class AnnExporter
    {
        public const string InputName = "input";
        public const string OutputName = "output";

        /// <summary>Exports the network; <paramref name="extraOutputs"/> exposes intermediate values (for calibration).</summary>
        public static byte[] Export(Network network, IReadOnlyList<string>? extraOutputs = null)
        {
            var b = new OnnxGraphBuilder("ann");
            b.AddInput(InputName, OnnxGraphBuilder.Batched("N", network.InputShape));
            var names = new Dictionary<string, string> { [network.InputName] = InputName };
            foreach (Layer layer in network.Layers)
            {
                names[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => names[i]).ToList());
            }
            b.Node("Identity", new[] { names[network.OutputName] }, OutputName);
            b.AddOutput(OutputName, OnnxGraphBuilder.Batched("N", network.OutputShape));
            if (extraOutputs != null)
            {
                // A probe renames the tensor it exposes, so that ONNX Runtime writes the producing node's result straight into
                // the caller's buffer; an Identity copy (another pass over every probed activation) is left only for the
                // tensors no node produces (the graph input) and for a tensor probed twice.
                var exposed = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < extraOutputs.Count; i++)
                {
                    string name = ExtraOutputName(i);
                    string tensor = names[extraOutputs[i]];
                    if (!exposed.Contains(tensor) && b.RenameTensor(tensor, name))
                    {
                        foreach (string key in names.Where(p => p.Value == tensor).Select(p => p.Key).ToList())
                        {
                            names[key] = name;
                        }
                    }
                    else
                    {
                        b.Node("Identity", new[] { tensor }, name);
                    }

                    exposed.Add(names[extraOutputs[i]]);
                    b.AddOutput(name, OnnxGraphBuilder.Batched("N", network.GetShape(extraOutputs[i])));
                }
            }
            return b.ToModelBytes("Microsoft.ML.Spiking");
        }

        public static string ExtraOutputName(int index) => $"probe_{index}";
    }
}
