// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Rewrites every ReLU → MaxPool pair into MaxPool → ReLU (the two commute, since ReLU is monotone),
    /// so max-pooling acts on pre-activation currents and the neuron sits after it (algorithms.md §2.8).
    /// </summary>
    public static class ReluMaxPoolSwap
    {
        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network.</param>
        /// <returns>The network with the pairs swapped.</returns>
        public static Network Apply(Network network)
        {
            var layers = network.Layers.ToList();
            for (int i = 0; i < layers.Count; i++)
            {
                if (layers[i] is not PoolLayer { Kind: PoolKind.Max } pool)
                {
                    continue;
                }
                int reluIndex = layers.FindIndex(l => l.Output == pool.Inputs[0]);
                if (reluIndex < 0 || layers[reluIndex] is not ReluLayer relu || PassUtil.ConsumerCount(layers, network, relu.Output) != 1)
                {
                    continue;
                }
                // MaxPool now reads the ReLU's input and writes the value the ReLU used to write;
                // the ReLU reads that and writes the pool's old output, so no other layer changes.
                layers[reluIndex] = pool.Rewire(relu.Inputs, relu.Output);
                layers[i] = relu.Rewire(new[] { relu.Output }, pool.Output);
            }
            return network.WithLayers(layers);
        }
    }
}
