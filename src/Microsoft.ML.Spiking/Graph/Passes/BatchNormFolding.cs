// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Folds inference batch normalization into the convolution or dense layer before it
    /// (algorithms.md §1.1 step 1): W' = W·γ/√(σ²+ε) per output channel, b' = γ(b − μ)/√(σ²+ε) + β.
    /// A batch normalization with no such producer becomes a <see cref="ChannelAffineLayer"/>.
    /// </summary>
    public static class BatchNormFolding
    {
        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network.</param>
        /// <returns>A network without <see cref="BatchNormLayer"/>s.</returns>
        public static Network Apply(Network network)
        {
            var layers = network.Layers.ToList();
            for (int i = 0; i < layers.Count; i++)
            {
                if (layers[i] is not BatchNormLayer bn)
                {
                    continue;
                }
                bn.GetAffine(out float[] scale, out float[] shift);
                int producerIndex = layers.FindIndex(l => l.Output == bn.Inputs[0]);
                Layer? producer = producerIndex >= 0 ? layers[producerIndex] : null;
                bool single = producer != null && PassUtil.ConsumerCount(layers, network, producer.Output) == 1;
                Layer? folded = single ? producer switch
                {
                    ConvLayer conv => conv.WithParameters(ScaleRows(conv.Weight, scale), ScaleBias(conv.Bias, scale, shift)).Rewire(conv.Inputs, bn.Output),
                    DenseLayer dense when network.GetShape(dense.Output).Length == 1 => dense.WithParameters(ScaleRows(dense.Weight, scale), ScaleBias(dense.Bias, scale, shift)).Rewire(dense.Inputs, bn.Output),
                    _ => null,
                } : null;
                if (folded != null)
                {
                    layers[producerIndex] = folded;
                    layers.RemoveAt(i);
                    i--;
                }
                else
                {
                    layers[i] = new ChannelAffineLayer(bn.Name, bn.SourceOpType, bn.Inputs[0], bn.Output, scale, shift);
                }
            }
            return network.WithLayers(layers);
        }

        private static FloatTensor ScaleRows(FloatTensor weight, float[] scale)
        {
            int rows = weight.Shape[0];
            int rowSize = weight.Length / rows;
            var data = new float[weight.Length];
            for (int o = 0; o < rows; o++)
            {
                for (int j = 0; j < rowSize; j++)
                {
                    data[o * rowSize + j] = weight.Data[o * rowSize + j] * scale[o];
                }
            }
            return new FloatTensor((int[])weight.Shape.Clone(), data);
        }

        private static float[] ScaleBias(float[]? bias, float[] scale, float[] shift) =>
            scale.Select((a, o) => (float)((double)a * (bias?[o] ?? 0f) + shift[o])).ToArray();
    }

    /// <summary>Helpers shared by the passes.</summary>
    internal static class PassUtil
    {
        /// <summary>How many layers read a value (the network output counts as one reader).</summary>
        public static int ConsumerCount(IReadOnlyList<Layer> layers, Network network, string value) =>
            layers.Sum(l => l.Inputs.Count(i => i == value)) + (network.OutputName == value ? 1 : 0);
    }
}
