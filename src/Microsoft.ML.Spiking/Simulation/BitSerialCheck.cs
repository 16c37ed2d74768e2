// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// The spike-exactness check of bit-serial conversion (algorithms.md §4.8 step 5): simulates a batch and compares,
    /// for every neuron and sample, the T bits it emitted (read as a binary number, MSB first) with its QCFS level
    /// clip(floor(V·L/λ + ½), 0, L) computed from the same membrane. Any mismatch is a bug, not a conversion error.
    /// </summary>
    public sealed class BitSerialCheck
    {
        private BitSerialCheck(long neurons, IReadOnlyList<string> layers, IReadOnlyList<long> mismatchesPerLayer, IReadOnlyList<long> mismatchesPerSample)
        {
            MismatchesPerSample = mismatchesPerSample;
            Neurons = neurons;
            Layers = layers;
            MismatchesPerLayer = mismatchesPerLayer;
            Mismatches = mismatchesPerLayer.Sum();
        }

        /// <summary>Neuron-sample pairs checked (neurons per sample × samples).</summary>
        public long Neurons { get; }

        /// <summary>Neuron-sample pairs whose bits differ from their level; 0 for a correct conversion.</summary>
        public long Mismatches { get; }

        /// <summary>The bit-serial neuron layers, in network order.</summary>
        public IReadOnlyList<string> Layers { get; }

        /// <summary>Mismatches per sample of the batch.</summary>
        public IReadOnlyList<long> MismatchesPerSample { get; }

        /// <summary>Mismatches per layer, in the order of <see cref="Layers"/>.</summary>
        public IReadOnlyList<long> MismatchesPerLayer { get; }

        /// <summary>Runs the check on one batch.</summary>
        /// <param name="snn">A bit-serial network.</param>
        /// <param name="inputs">Samples back to back, each of the network's input size.</param>
        /// <param name="batchSize">Number of samples.</param>
        /// <param name="execution">Where ONNX Runtime runs, or null for the CPU.</param>
        public static BitSerialCheck Run(SpikingNetwork snn, float[] inputs, int batchSize, ExecutionOptions? execution = null)
        {
            ArgumentNullException.ThrowIfNull(snn, nameof(snn));
            ArgumentNullException.ThrowIfNull(inputs, nameof(inputs));
            if (snn.Method != ConversionMethod.BitSerial)
            {
                throw new ArgumentException($"The network was converted with {snn.Method}; the bit check applies to {ConversionMethod.BitSerial} networks.", nameof(snn));
            }
            int size = ShapeUtil.Size(snn.Network.InputShape);
            if (batchSize < 1 || inputs.Length != (long)batchSize * size)
            {
                throw new ArgumentException($"Expected {batchSize} samples of {size} values ([{string.Join(",", snn.Network.InputShape)}]); got {inputs.Length} values.", nameof(inputs));
            }
            int bits = BitSerialLowering.BitsOf(snn);
            SnnChunkGraph graph = BitSerialLowering.Build(snn, bits, null, withChecks: true);
            using var session = new OnnxSession(graph.Model, execution);
            var names = Enumerable.Range(0, snn.NeuronLayers.Count).Select(BitSerialLowering.CheckOutput).ToList();
            Dictionary<string, TensorBuffer> results = session.Run(new Dictionary<string, TensorBuffer>
            {
                [SnnGraphBuilder.InputName] = new TensorBuffer(inputs, new long[] { batchSize }.Concat(snn.Network.InputShape.Select(d => (long)d)).ToArray()),
            }, names);
            long[] perLayer = names.Select(n => results[n].Data.Sum(v => (long)Math.Round(v))).ToArray();
            long[] perSample = Enumerable.Range(0, batchSize).Select(b => names.Sum(n => (long)Math.Round(results[n].Data[b]))).ToArray();
            return new BitSerialCheck(snn.NeuronCounts.Sum() * batchSize, snn.NeuronLayers.Select(l => l.Name).ToList(), perLayer, perSample);
        }
    }
}
