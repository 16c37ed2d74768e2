// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Merges a constant Add or Sub that follows a convolution or dense layer, and that is constant
    /// across all but the channel axis, into that layer's bias (the MatMul + Add and Conv + Add forms
    /// older exporters write).
    /// </summary>
    public static class BiasFusion
    {
        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network.</param>
        /// <returns>The network with bias additions merged.</returns>
        public static Network Apply(Network network)
        {
            var layers = network.Layers.ToList();
            for (int i = 0; i < layers.Count; i++)
            {
                if (layers[i] is not ConstBinaryLayer add || (add.Op != BinaryOp.Add && add.Op != BinaryOp.Sub) || (add.Op == BinaryOp.Sub && add.ConstantOnLeft))
                {
                    continue;
                }
                int producerIndex = layers.FindIndex(l => l.Output == add.Inputs[0]);
                if (producerIndex < 0 || PassUtil.ConsumerCount(layers, network, add.Inputs[0]) != 1)
                {
                    continue;
                }
                Layer producer = layers[producerIndex];
                int channels = producer switch
                {
                    ConvLayer c => c.OutChannels,
                    DenseLayer d => d.OutFeatures,
                    _ => 0,
                };
                int rank = network.GetShape(producer.Output).Length;
                float[]? perChannel = producer is DenseLayer && rank > 1
                    ? PerLastAxis(add.Constant, channels, rank)
                    : channels > 0 ? PerChannel(add.Constant, channels, rank) : null;
                if (perChannel == null)
                {
                    continue;
                }
                float sign = add.Op == BinaryOp.Add ? 1f : -1f;
                Layer fused = producer switch
                {
                    ConvLayer c => c.WithParameters(c.Weight, Combine(c.Bias, perChannel, sign)).Rewire(c.Inputs, add.Output),
                    DenseLayer d => d.WithParameters(d.Weight, Combine(d.Bias, perChannel, sign)).Rewire(d.Inputs, add.Output),
                    _ => producer,
                };
                layers[producerIndex] = fused;
                layers.RemoveAt(i);
                i--;
            }
            return network.WithLayers(layers);
        }

        /// <summary>For a dense layer over the last axis of a [..., F] tensor: the constant as one value per feature, or null.</summary>
        private static float[]? PerLastAxis(FloatTensor constant, int features, int perSampleRank)
        {
            int[] shape = constant.Shape;
            if (shape.Length > perSampleRank || shape.Take(shape.Length - 1).Any(d => d != 1))
            {
                return null;
            }
            if (shape.Length == 0 || shape[^1] == 1)
            {
                return constant.Length == 1 ? Enumerable.Repeat(constant.Data[0], features).ToArray() : null;
            }
            return shape[^1] == features ? (float[])constant.Data.Clone() : null;
        }

        /// <summary>The constant as one value per channel, or null when it varies along another axis.</summary>
        private static float[]? PerChannel(FloatTensor constant, int channels, int perSampleRank)
        {
            int[] shape = constant.Shape;
            if (shape.Length > perSampleRank)
            {
                return null;
            }
            // Right-align the constant against the per-sample shape [C, ...].
            int channelAxis = shape.Length - perSampleRank;
            for (int d = 0; d < shape.Length; d++)
            {
                if (d != channelAxis && shape[d] != 1)
                {
                    return null;
                }
            }
            if (channelAxis < 0 || shape[channelAxis] == 1)
            {
                return constant.Length == 1 ? Enumerable.Repeat(constant.Data[0], channels).ToArray() : null;
            }
            return shape[channelAxis] == channels ? (float[])constant.Data.Clone() : null;
        }

        private static float[] Combine(float[]? bias, float[] add, float sign) =>
            add.Select((v, o) => (bias?[o] ?? 0f) + sign * v).ToArray();
    }
}
