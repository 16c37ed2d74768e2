// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Lowers the transformer layers of the IR to ONNX nodes. As everywhere in <see cref="LayerEmitter"/>, the leading
    /// axis is a free batch axis (ANN batch or time-folded SNN batch), so per-sample axes are shifted by one.
    /// </summary>
    internal static class TransformerEmitter
    {
        /// <summary>√2 as PyTorch writes it in exact GELU (float32).</summary>
        private const float Sqrt2 = 1.4142135381698608f;

        public static string Emit(OnnxGraphBuilder b, Layer layer, IReadOnlyList<string> inputs)
        {
            string x = inputs[0];
            switch (layer)
            {
                case LayerNormLayer norm:
                {
                    var ins = new List<string> { x, b.Initializer("ln_scale", new[] { norm.Scale.Length }, norm.Scale) };
                    if (norm.Bias != null)
                    {
                        ins.Add(b.Initializer("ln_bias", new[] { norm.Bias.Length }, norm.Bias));
                    }
                    return b.Node("LayerNormalization", ins, null, Attr("axis", -1L), Attr("epsilon", norm.Epsilon));
                }
                case GeluLayer { TanhApproximation: false }:
                {
                    // The op order of PyTorch's export: x·(1 + erf(x/√2))·½.
                    string erf = b.Node("Erf", new[] { b.Node("Div", new[] { x, b.Scalar(Sqrt2) }) });
                    string product = b.Node("Mul", new[] { x, b.Node("Add", new[] { erf, b.Scalar(1f) }) });
                    return b.Node("Mul", new[] { product, b.Scalar(0.5f) });
                }
                case GeluLayer:
                {
                    // ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
                    string cube = b.Node("Mul", new[] { b.Node("Mul", new[] { x, x }), x });
                    string inner = b.Node("Add", new[] { x, b.Node("Mul", new[] { cube, b.Scalar(0.044715f) }) });
                    string tanh = b.Node("Tanh", new[] { b.Node("Mul", new[] { inner, b.Scalar(MathF.Sqrt(2f / MathF.PI)) }) });
                    string product = b.Node("Mul", new[] { x, b.Node("Add", new[] { tanh, b.Scalar(1f) }) });
                    return b.Node("Mul", new[] { product, b.Scalar(0.5f) });
                }
                case MatMulLayer:
                    return b.Node("MatMul", new[] { x, inputs[1] });
                case GatherLayer gather:
                    return b.Node("Gather", new[] { x, b.Initializer("index", Array.Empty<int>(), new long[] { gather.Index }) }, null, Attr("axis", (long)(gather.Axis + 1)));
                case SliceLayer slice:
                    return b.Node("Slice", new[] { x, b.Ints(slice.Start), b.Ints(slice.End), b.Ints(slice.Axis + 1) });
                case BroadcastConstantLayer constant:
                {
                    int[] shape = new[] { 1 }.Concat(constant.Value.Shape).ToArray();
                    string value = b.Initializer("constant", shape, constant.Value.Data);
                    string batch = b.Node("Shape", new[] { x }, null, Attr("start", 0L), Attr("end", 1L));
                    string target = b.Node("Concat", new[] { batch, b.Ints(constant.Value.Shape.Select(d => (long)d).ToArray()) }, null, Attr("axis", 0L));
                    return b.Node("Expand", new[] { value, target });
                }
                default:
                    throw new NotSupportedException($"Layer '{layer.Name}' of type {layer.GetType().Name} is not a transformer layer.");
            }
        }

        /// <summary>A dense layer over the last axis of a [..., In] tensor: MatMul with Wᵀ, then the bias.</summary>
        public static string TokenDense(OnnxGraphBuilder b, DenseLayer dense, string x)
        {
            int outFeatures = dense.OutFeatures;
            int inFeatures = dense.InFeatures;
            var transposed = new float[dense.Weight.Length];
            for (int o = 0; o < outFeatures; o++)
            {
                for (int i = 0; i < inFeatures; i++)
                {
                    transposed[i * outFeatures + o] = dense.Weight.Data[o * inFeatures + i];
                }
            }
            string y = b.Node("MatMul", new[] { x, b.Initializer("Wt", new[] { inFeatures, outFeatures }, transposed) });
            return dense.Bias == null ? y : b.Node("Add", new[] { y, b.Initializer("B", new[] { outFeatures }, dense.Bias) });
        }
    }
}
