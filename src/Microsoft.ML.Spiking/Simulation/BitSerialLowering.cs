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
    /// Lowers a bit-serial network (algorithms.md §4) to one ONNX graph for its T steps, layer-synchronous as in
    /// §4.8: each neuron layer accumulates its whole input current, then generates T bits MSB first.
    /// <list type="bullet">
    /// <item>The membrane is kept in units of λ/L (U = V·L/λ): the thresholds are then the powers of two 2^(T−t),
    /// every subtraction is exact in float, the bias shift λ/(2L) is +½, and U is computed with exactly the ops of
    /// the QCFS activation (x/λ·L + ½), so the bits are the binary digits of the quantized ANN's level k.</item>
    /// <item>The accumulation V = Σ_t W·(w_t·s[t]) + b is evaluated as W·(Σ_t w_t·s[t]) + b (linearity), with the
    /// received value rebuilt as (k/L)·λ by the QCFS ops: the network output equals the quantized ANN's.</item>
    /// <item>Output <c>output_steps</c> [T·B, K]: the output layer's accumulated value after the last neuron layers'
    /// first t bits (MSB first); at t = T it is the logits. <c>spikes_i</c> [T·B]: bits emitted at each step.
    /// <c>sops_j</c> [T·B]: every non-zero bit × fan-out, per step; an analog input (the image) counts at step 1.</item>
    /// </list>
    /// </summary>
    internal static class BitSerialLowering
    {
        /// <summary>Name of the optional per-neuron-layer check output: neurons per sample whose bits differ from the QCFS level.</summary>
        public static string CheckOutput(int neuron) => $"bitcheck_{neuron}";

        public static SnnChunkGraph Build(SpikingNetwork snn, int steps, IReadOnlyList<SynapticLayerPlan>? synapticLayers, bool withChecks = false)
        {
            Network network = snn.Network;
            int bits = BitsOf(snn);
            if (steps != bits)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), steps, $"The bit-serial network sends {bits} bits per activation; simulate it for T = {bits} steps.");
            }
            var b = new OnnxGraphBuilder($"bit_serial_{bits}");
            b.AddInput(SnnGraphBuilder.InputName, Batched("B", network.InputShape));
            var values = new Dictionary<string, string>(StringComparer.Ordinal) { [network.InputName] = SnnGraphBuilder.InputName };
            // Bit planes [T·B, ...] of values that reach a layer bit-serially: a neuron's bits, or cheap linear maps of them.
            var planes = new Dictionary<string, string>(StringComparer.Ordinal);
            // Cumulative received values [T·B, ...] after the first t bits, for the output read-out.
            var partial = new Dictionary<string, string>(StringComparer.Ordinal);
            // Levels k [B, ...] (exact integers) of neuron outputs and of max-pools over them.
            var levels = new Dictionary<string, string>(StringComparer.Ordinal);
            HashSet<string> tail = OutputTail(network);
            int neuronIndex = 0;
            int synapticIndex = 0;
            foreach (Layer layer in network.Layers)
            {
                if (layer is BitSerialNeuronLayer neuron)
                {
                    int[] shape = network.GetShape(neuron.Output);
                    (string value, string bitPlanes, string cumulative, string level) = EmitNeuron(b, network, neuron, shape, values[neuron.Inputs[0]], withChecks ? CheckOutput(neuronIndex) : null);
                    values[neuron.Output] = value;
                    levels[neuron.Output] = level;
                    planes[neuron.Output] = bitPlanes;
                    partial[neuron.Output] = cumulative;
                    string axes = b.Ints(Enumerable.Range(1, shape.Length).Select(a => (long)a).ToArray());
                    b.Node("ReduceSum", new[] { bitPlanes, axes }, SnnGraphBuilder.SpikeOutput(neuronIndex), Attr("keepdims", 0L));
                    b.AddOutput(SnnGraphBuilder.SpikeOutput(neuronIndex), new[] { "KB" });
                    neuronIndex++;
                    continue;
                }
                if (layer is SpikingNeuronLayer or GradedUnitLayer or MaxPoolNeuronLayer)
                {
                    throw new InvalidOperationException($"Layer '{layer.Name}' ({layer.GetType().Name}) cannot be simulated in a bit-serial network.");
                }
                if (synapticLayers != null && layer is ConvLayer or DenseLayer)
                {
                    SynapticLayerPlan plan = synapticLayers[synapticIndex];
                    string output = SnnGraphBuilder.SynapticOutput(synapticIndex);
                    if (planes.TryGetValue(layer.Inputs[0], out string? input))
                    {
                        SnnGraphBuilder.EmitIndicatorCount(b, plan, input, output);
                    }
                    else
                    {
                        // An analog current (the image) is received once, in the first step of the window.
                        string once = SnnGraphBuilder.EmitIndicatorCount(b, plan, values[layer.Inputs[0]], null);
                        string zeros = b.Node("Mul", new[] { once, b.Scalar(0f) });
                        b.Node("Concat", new[] { once }.Concat(Enumerable.Repeat(zeros, bits - 1)), output, Attr("axis", 0L));
                    }
                    b.AddOutput(output, Batched("KB", plan.KeptShape));
                    synapticIndex++;
                }
                values[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => values[i]).ToList());
                if (layer is PoolLayer { Kind: PoolKind.Max } && levels.TryGetValue(layer.Inputs[0], out string? inputLevel))
                {
                    // MSB first, the larger of two levels is found bit by bit: the pooled stream is the larger level's bits.
                    string level = LayerEmitter.Emit(b, network, layer, new[] { inputLevel });
                    levels[layer.Output] = level;
                    planes[layer.Output] = BitPlanes(b, level, bits);
                }
                else if (layer.Inputs.All(planes.ContainsKey) && CarriesPlanes(layer))
                {
                    planes[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => planes[i]).ToList());
                }
                if (tail.Contains(layer.Output))
                {
                    var inputs = layer.Inputs.Select(i => partial.TryGetValue(i, out string? p) ? p : Repeat(b, values[i], bits)).ToList();
                    partial[layer.Output] = LayerEmitter.Emit(b, network, layer, inputs);
                }
            }
            string readout = partial.TryGetValue(network.OutputName, out string? steps_) ? steps_ : Repeat(b, values[network.OutputName], bits);
            b.Node("Identity", new[] { readout }, SnnGraphBuilder.OutputName);
            b.AddOutput(SnnGraphBuilder.OutputName, Batched("KB", network.OutputShape));
            return new SnnChunkGraph(b.ToModelBytes("Microsoft.ML.Spiking"), Array.Empty<StateSpec>(), Differential: false);
        }

        /// <summary>T of a bit-serial network (every neuron layer must agree).</summary>
        public static int BitsOf(SpikingNetwork snn)
        {
            var bits = snn.Network.Layers.OfType<BitSerialNeuronLayer>().Select(l => l.Bits).Distinct().ToList();
            return bits.Count == 1 ? bits[0] : throw new InvalidOperationException(bits.Count == 0
                ? "The network has no bit-serial neurons."
                : $"The bit-serial neuron layers send different numbers of bits ({string.Join(", ", bits)}); one T for the network is needed.");
        }

        /// <summary>True for linear layers without constants, whose bit planes are the layer applied to the input's planes.</summary>
        private static bool CarriesPlanes(Layer layer) => layer switch
        {
            PoolLayer { Kind: PoolKind.Average } => true,
            GlobalAveragePoolLayer or ReshapeLayer or TransposeLayer or ConcatLayer => true,
            BinaryLayer { Op: BinaryOp.Add } => true,
            ConstBinaryLayer { Op: BinaryOp.Mul or BinaryOp.Div, ConstantOnLeft: false } => true,
            _ => false,
        };

        /// <summary>The values between the last neuron layers and the output: linear layers whose output reaches the network output without another neuron.</summary>
        private static HashSet<string> OutputTail(Network network)
        {
            var tail = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>();
            pending.Push(network.OutputName);
            while (pending.Count > 0)
            {
                string value = pending.Pop();
                Layer? producer = network.GetProducer(value);
                if (producer == null || producer is BitSerialNeuronLayer || !tail.Add(value))
                {
                    continue;
                }
                foreach (string input in producer.Inputs)
                {
                    pending.Push(input);
                }
            }
            return tail;
        }

        private static string Repeat(OnnxGraphBuilder b, string value, int times) =>
            times == 1 ? value : b.Node("Concat", Enumerable.Repeat(value, times), null, Attr("axis", 0L));

        /// <summary>
        /// U = x/λ·L (+ ½); for t = 1..T: s = U ≥ 2^(T−t), U −= s·2^(T−t); k = Σ s·2^(T−t); the value sent is (k/L)·λ.
        /// Returns the value, the bit planes [T·B, ...] and the cumulative values after each step [T·B, ...].
        /// </summary>
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
