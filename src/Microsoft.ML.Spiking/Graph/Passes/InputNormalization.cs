// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Puts a per-channel input normalization x' = (x − mean[c]) / std[c] into the network, since
    /// ML.NET's ExtractPixels has one offset and one scale for all channels. When the only reader of
    /// the input is an unpadded, ungrouped convolution, the normalization is folded into its weights and
    /// bias exactly. A padded convolution pads the normalized image with zeros, which the raw image cannot
    /// reproduce, so there the normalization stays as an explicit per-channel affine layer (also exact).
    /// </summary>
    public static class InputNormalization
    {
        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network.</param>
        /// <param name="mean">Per-channel mean, in the units the network receives.</param>
        /// <param name="std">Per-channel standard deviation.</param>
        /// <returns>The network that takes un-normalized input.</returns>
        /// <exception cref="ArgumentException">The vectors do not have one value per input channel, or a std is not positive.</exception>
        public static Network Apply(Network network, float[] mean, float[] std)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentNullException.ThrowIfNull(mean, nameof(mean));
            ArgumentNullException.ThrowIfNull(std, nameof(std));
            int channels = network.InputShape[0];
            if (mean.Length != channels || std.Length != channels)
            {
                throw new ArgumentException($"Input normalization needs {channels} mean and std values (input [N,{string.Join(",", network.InputShape)}]); got {mean.Length} and {std.Length}.", nameof(mean));
            }
            if (std.Any(s => !(s > 0)))
            {
                throw new ArgumentException($"Every std must be positive; got [{string.Join(", ", std)}].", nameof(std));
            }
            float[] scale = std.Select(s => 1f / s).ToArray();
            float[] shift = mean.Select((m, c) => -m / std[c]).ToArray();

            var consumers = network.GetConsumers(network.InputName);
            if (consumers.Count == 1 && consumers[0] is ConvLayer conv && conv.Group == 1 && conv.Pads.All(p => p == 0) && network.OutputName != network.InputName)
            {
                var layers = network.Layers.ToList();
                layers[layers.IndexOf(conv)] = Fold(conv, mean, std);
                return network.WithLayers(layers);
            }

            string normalized = network.InputName + "__normalized";
            var affine = new ChannelAffineLayer("input_normalization", "InputNormalization", network.InputName, normalized, scale, shift);
            var rewired = network.Layers.Select(l => l.Inputs.Contains(network.InputName)
                ? l.Rewire(l.Inputs.Select(i => i == network.InputName ? normalized : i).ToList(), l.Output)
                : l);
            return network.WithLayers(new[] { (Layer)affine }.Concat(rewired).ToList());
        }

        private static ConvLayer Fold(ConvLayer conv, float[] mean, float[] std)
        {
            int outChannels = conv.Weight.Shape[0];
            int inChannels = conv.Weight.Shape[1];
            int kernel = conv.Weight.Shape[2] * conv.Weight.Shape[3];
            var weight = new float[conv.Weight.Length];
            var bias = new float[outChannels];
            for (int o = 0; o < outChannels; o++)
            {
                double b = conv.Bias?[o] ?? 0;
                for (int c = 0; c < inChannels; c++)
                {
                    for (int k = 0; k < kernel; k++)
                    {
                        int index = (o * inChannels + c) * kernel + k;
                        float w = conv.Weight.Data[index];
                        weight[index] = w / std[c];
                        b -= (double)w * mean[c] / std[c];
                    }
                }
                bias[o] = (float)b;
            }
            return conv.WithParameters(new FloatTensor((int[])conv.Weight.Shape.Clone(), weight), bias);
        }
    }
}
