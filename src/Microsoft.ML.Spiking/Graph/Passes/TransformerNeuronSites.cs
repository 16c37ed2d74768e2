// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Marks the neuron sites of a transformer for differential coding (algorithms.md §2.9): a
    /// <see cref="NeuronSiteLayer"/> on the input of every convolution and dense layer (the patch embedding on the
    /// image and the head included) and on each operand of a product of two activations. A value read by several
    /// such layers gets one site (the neurons would be identical). The network computes the same function.
    /// </summary>
    public static class TransformerNeuronSites
    {
        /// <summary>True when the network has transformer layers (LayerNorm, GELU, a product of activations, an inner softmax).</summary>
        /// <param name="network">The network.</param>
        public static bool IsTransformer(Network network)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            return network.Layers.Any(l => l is LayerNormLayer or GeluLayer or MatMulLayer || (l is SoftmaxLayer && l.Output != network.OutputName));
        }

        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network (without sites).</param>
        /// <returns>The network with a site before every linear layer's and product's inputs.</returns>
        public static Network Apply(Network network)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            var layers = new List<Layer>();
            var sites = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Layer layer in network.Layers)
            {
                if (layer is NeuronSiteLayer)
                {
                    throw new ArgumentException($"{network.Source}: the network already has neuron sites ('{layer.Name}').", nameof(network));
                }
                if (layer is ConvLayer or DenseLayer or MatMulLayer)
                {
                    var inputs = new List<string>();
                    for (int i = 0; i < layer.Inputs.Count; i++)
                    {
                        string value = layer.Inputs[i];
                        if (!sites.TryGetValue(value, out string? site))
                        {
                            site = $"{value}::site";
                            string name = layer.Inputs.Count == 1 ? $"{layer.Name}:input" : $"{layer.Name}:operand{i}";
                            layers.Add(new NeuronSiteLayer(name, value, site));
                            sites[value] = site;
                        }
                        inputs.Add(site);
                    }
                    layers.Add(layer.Rewire(inputs, layer.Output));
                    continue;
                }
                layers.Add(layer);
            }
            return network.WithLayers(layers);
        }
    }
}
