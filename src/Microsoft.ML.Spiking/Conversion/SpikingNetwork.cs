// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Conversion
{
    /// <summary>The conversion methods.</summary>
    public enum ConversionMethod
    {
        /// <summary>Rate coding with integrate-and-fire neurons (algorithms.md §1.1–1.2).</summary>
        RateCoding,
    }

    /// <summary>
    /// A converted network: the IR with spiking neuron layers in place of activations, plus what the
    /// conversion decided (method, thresholds, notes on approximations it made).
    /// </summary>
    public sealed class SpikingNetwork
    {
        /// <summary>Creates a spiking network.</summary>
        /// <param name="network">The IR with neuron layers.</param>
        /// <param name="method">The conversion method.</param>
        /// <param name="notes">Approximations and decisions worth reporting (e.g. max-pooling applied to spike trains).</param>
        public SpikingNetwork(Network network, ConversionMethod method, IReadOnlyList<string> notes)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentNullException.ThrowIfNull(notes, nameof(notes));
            Network = network;
            Method = method;
            Notes = notes;
            NeuronLayers = network.Layers.OfType<IfNeuronLayer>().ToList();
        }

        /// <summary>The IR with neuron layers.</summary>
        public Network Network { get; }

        /// <summary>The conversion method.</summary>
        public ConversionMethod Method { get; }

        /// <summary>The neuron layers, in topological order.</summary>
        public IReadOnlyList<IfNeuronLayer> NeuronLayers { get; }

        /// <summary>Approximations and decisions worth reporting.</summary>
        public IReadOnlyList<string> Notes { get; }

        /// <summary>Neurons per sample in each neuron layer.</summary>
        public IReadOnlyList<long> NeuronCounts => NeuronLayers.Select(l => ShapeUtil.Product(Network.GetShape(l.Output))).ToList();
    }
}
