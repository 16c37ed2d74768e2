// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// The bit-serial neuron in <see cref="BlockLowering"/> (algorithms.md §4), layer-synchronous as in §4.8: each
    /// neuron layer accumulates its whole input current, then generates T bits MSB first.
    /// <list type="bullet">
    /// <item>The membrane is kept in units of λ/L (U = V·L/λ): the thresholds are then the powers of two 2^(T−t),
    /// every subtraction is exact in float, the bias shift λ/(2L) is +½, and U is computed with exactly the ops of
    /// the QCFS activation (x/λ·L + ½), so the bits are the binary digits of the quantized ANN's level k.</item>
    /// <item>The accumulation V = Σ_t W·(w_t·s[t]) + b is evaluated as W·(Σ_t w_t·s[t]) + b (linearity), with the
    /// received value rebuilt as (k/L)·λ by the QCFS ops: the network output equals the quantized ANN's.</item>
    /// <item>The read-out at step t is the output layer's accumulated value after the last neuron layers' first t
    /// bits (MSB first); at t = T it is the logits. The image is received once, at step 1.</item>
    /// </list>
    /// </summary>
    internal sealed class BitSerialLowering : IBlockNeuronEmitter
    {
        private readonly bool _withChecks;

        private BitSerialLowering(bool withChecks) => _withChecks = withChecks;

        /// <summary>Name of the optional per-neuron-layer check output: neurons per sample whose bits differ from the QCFS level.</summary>
        public static string CheckOutput(int neuron) => $"bitcheck_{neuron}";

        public bool AnalogInputEveryStep => false;

        public bool ReadoutIsCumulative => true;

        public static SnnChunkGraph Build(SpikingNetwork snn, int steps, IReadOnlyList<SynapticLayerPlan>? synapticLayers, bool withChecks = false)
        {
            int bits = BitsOf(snn);
            if (steps != bits)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), steps, $"The bit-serial network sends {bits} bits per activation; simulate it for T = {bits} steps.");
            }
            return BlockLowering.Build(snn, steps, synapticLayers, new BitSerialLowering(withChecks));
        }

        /// <summary>T of a bit-serial network (every neuron layer must agree).</summary>
        public static int BitsOf(SpikingNetwork snn)
        {
            var bits = snn.Network.Layers.OfType<BitSerialNeuronLayer>().Select(l => l.Bits).Distinct().ToList();
            return bits.Count == 1 ? bits[0] : throw new InvalidOperationException(bits.Count == 0
                ? "The network has no bit-serial neurons."
                : $"The bit-serial neuron layers send different numbers of bits ({string.Join(", ", bits)}); one T for the network is needed.");
        }

        public bool Handles(Layer layer) => layer is BitSerialNeuronLayer;

        public BlockNeuronOutput Emit(OnnxGraphBuilder b, Network network, SpikingNeuronLayer layer, int[] shape, string input, int steps, int index)
        {
            (string value, string planes, string cumulative, string level) = EmitNeuron(b, network, (BitSerialNeuronLayer)layer, shape, input, _withChecks ? CheckOutput(index) : null);
            return new BlockNeuronOutput(value, () => planes, () => cumulative, level);
        }

        /// <summary>MSB first, the larger of two levels is found bit by bit: the pooled stream is the larger level's bits.</summary>
        public string PooledPlanes(OnnxGraphBuilder b, string pooledLevel, Func<string> pooledInputPlanes, int steps) => BitPlanes(b, pooledLevel, steps);

        public bool CountsFromLevels => false;

        /// <summary>Bit planes are counted as planes (no form from the level).</summary>
        public string? TrainCounts(OnnxGraphBuilder b, SpikingNeuronLayer neuron, string level, int steps, float[]? rowFanOut, float[]? columnFanOut, string? output) => null;

        /// <summary>The T bits of exact integer levels k ∈ [0, 2^T − 1], MSB first, as planes [T·B, ...].</summary>
        private static string BitPlanes(OnnxGraphBuilder b, string level, int bits)
        {
            var spikes = new string[bits];
            string rest = level;
            for (int t = 1; t <= bits; t++)
            {
                string weight = b.Scalar(MathF.Pow(2f, bits - t));
                spikes[t - 1] = b.Node("Cast", new[] { b.Node("GreaterOrEqual", new[] { rest, weight }) }, null, Attr("to", 1L));
                rest = b.Node("Sub", new[] { rest, b.Node("Mul", new[] { spikes[t - 1], weight }) });
            }
            return bits == 1 ? spikes[0] : b.Node("Concat", spikes, null, Attr("axis", 0L));
        }

        /// <summary>
        /// U = x/λ·L (+ ½); for t = 1..T: s = U ≥ 2^(T−t), U −= s·2^(T−t); k = Σ s·2^(T−t); the value sent is (k/L)·λ.
        /// Returns the value, the bit planes [T·B, ...], the cumulative values after each step [T·B, ...] and k.
        /// </summary>
        private static (string Value, string Planes, string Cumulative, string Level) EmitNeuron(OnnxGraphBuilder b, Network network, BitSerialNeuronLayer neuron, int[] shape, string input, string? checkOutput)
        {
            int bits = neuron.Bits;
            float levels = neuron.Levels;
            string lambda = neuron.Lambda.Length == 1
                ? b.Scalar(neuron.Lambda[0])
                : b.Initializer("lambda", LayerEmitter.ChannelShape(neuron.Lambda.Length, shape.Length), neuron.Lambda);
            // The same ops, in the same order, as the QCFS activation's lowering (LayerEmitter), so U is bit-identical.
            string u = b.Node("Mul", new[] { b.Node("Div", new[] { input, lambda }), b.Scalar(levels) });
            if (neuron.Shift)
            {
                u = b.Node("Add", new[] { u, b.Scalar(0.5f) });
            }
            string start = u;
            var spikes = new string[bits];
            var cumulative = new string[bits];
            string? level = null;
            for (int t = 1; t <= bits; t++)
            {
                string weight = b.Scalar(MathF.Pow(2f, bits - t));
                spikes[t - 1] = b.Node("Cast", new[] { b.Node("GreaterOrEqual", new[] { u, weight }) }, null, Attr("to", 1L));
                string sent = b.Node("Mul", new[] { spikes[t - 1], weight });
                u = b.Node("Sub", new[] { u, sent });
                level = level == null ? sent : b.Node("Add", new[] { level, sent });
                cumulative[t - 1] = b.Node("Mul", new[] { b.Node("Div", new[] { level, b.Scalar(levels) }), lambda });
            }
            if (checkOutput != null)
            {
                string expected = b.Node("Clip", new[] { b.Node("Floor", new[] { start }), b.Scalar(0f), b.Scalar(levels) });
                string differs = b.Node("Cast", new[] { b.Node("Not", new[] { b.Node("Equal", new[] { level!, expected }) }) }, null, Attr("to", 1L));
                string axes = b.Ints(Enumerable.Range(1, shape.Length).Select(a => (long)a).ToArray());
                b.Node("ReduceSum", new[] { differs, axes }, checkOutput, Attr("keepdims", 0L));
                b.AddOutput(checkOutput, new[] { "B" });
            }
            string planes = bits == 1 ? spikes[0] : b.Node("Concat", spikes, null, Attr("axis", 0L));
            string partial = bits == 1 ? cumulative[0] : b.Node("Concat", cumulative, null, Attr("axis", 0L));
            return (cumulative[bits - 1], planes, partial, level!);
        }
    }
}
