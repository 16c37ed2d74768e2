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
        RateCoding = 0,

        /// <summary>
        /// Differential coding with multi-threshold neurons (DCGS, algorithms.md §2): training-free, neurons transmit
        /// the change of their running rate estimate, so a settled neuron stops spiking.
        /// </summary>
        DifferentialCoding = 1,

        /// <summary>
        /// Error-free bit-serial conversion (algorithms.md §4): QCFS activations with L = 2^T − 1 (trained, or by
        /// post-training quantization of ReLUs) become neurons that send their level's T binary digits, MSB first;
        /// the network equals the quantized ANN exactly.
        /// </summary>
        BitSerial = 2,

        /// <summary>
        /// Parallel conversion (algorithms.md §3): parallel spiking neurons compute each layer's whole block of T steps
        /// at once; QCFS networks convert losslessly at T = L, ReLU networks training-free with threshold recording and
        /// distribution-aware calibration.
        /// </summary>
        Parallel = 3,
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
        /// <param name="outputBias">
        /// For a differentially coded network, the output layer's value at step 0 (its constant term, from the step-0
        /// probe), which starts the decoded estimate (algorithms.md §2.2); null for a rate-coded network.
        /// </param>
        public SpikingNetwork(Network network, ConversionMethod method, IReadOnlyList<string> notes, float[]? outputBias = null)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentNullException.ThrowIfNull(notes, nameof(notes));
            if (outputBias != null && outputBias.Length != ShapeUtil.Size(network.OutputShape))
            {
                throw new ArgumentException($"The output bias has {outputBias.Length} values; the output {ShapeUtil.Format(network.OutputShape)} has {ShapeUtil.Size(network.OutputShape)}.", nameof(outputBias));
            }
            Network = network;
            Method = method;
            Notes = notes;
            OutputBias = outputBias;
            NeuronLayers = network.Layers.OfType<SpikingNeuronLayer>().ToList();
        }

        /// <summary>The IR with neuron layers.</summary>
        public Network Network { get; }

        /// <summary>The conversion method.</summary>
        public ConversionMethod Method { get; }

        /// <summary>The neuron layers, in topological order.</summary>
        public IReadOnlyList<SpikingNeuronLayer> NeuronLayers { get; }

        /// <summary>The output layer's value at step 0 for a differentially coded network; null for rate coding.</summary>
        public float[]? OutputBias { get; }

        /// <summary>
        /// True when the network is differentially coded: its input is presented once, its units transmit
        /// differences, and the output is decoded as r[t] = x_out[0] + Σ_(i ≤ t) (x_out[i] − x_out[0])/i.
        /// </summary>
        public bool IsDifferential => OutputBias != null;

        /// <summary>True when every T-step block is computed in one graph call (bit-serial and parallel networks), so the simulation is not split into chunks.</summary>
        public bool SimulatesWholeBlock => Method is ConversionMethod.BitSerial or ConversionMethod.Parallel;

        /// <summary>
        /// The number of steps the network must be simulated for, when the method fixes it (bit-serial conversion: T,
        /// the bits per activation); null when any T works.
        /// </summary>
        public int? FixedTimeSteps => NeuronLayers.OfType<BitSerialNeuronLayer>().Select(l => (int?)l.Bits).FirstOrDefault();

        /// <summary>Approximations and decisions worth reporting.</summary>
        public IReadOnlyList<string> Notes { get; }

        /// <summary>Neurons per sample in each neuron layer.</summary>
        public IReadOnlyList<long> NeuronCounts => NeuronLayers.Select(l => ShapeUtil.Product(Network.GetShape(l.Output))).ToList();
    }
}
