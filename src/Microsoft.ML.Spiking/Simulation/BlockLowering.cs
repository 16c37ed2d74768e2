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
    /// <summary>What a block neuron layer produces in the lowered graph.</summary>
    /// <param name="Value">[B, ...] the value the next layers integrate over the block (bit-serial: the level's value; parallel: the mean rate).</param>
    /// <param name="Planes">Emits (when first asked for) [T·B, ...] 1 where a neuron spikes at step t, else 0 (spike and synaptic-operation counts).</param>
    /// <param name="Readout">Emits (when first asked for) [T·B, ...] the value the output layer sees at step t (bit-serial: cumulative; parallel: the step's spikes × amplitude).</param>
    /// <param name="Level">[B, ...] the neuron's integer state (bit-serial level k; parallel spike count N), for max-pooling.</param>
    internal sealed record BlockNeuronOutput(string Value, Func<string> Planes, Func<string> Readout, string Level);

    /// <summary>A neuron whose whole T-step block is computed at once, without a sequential loop over t (bit-serial, parallel).</summary>
    internal interface IBlockNeuronEmitter
    {
        /// <summary>True when the analog input is presented at every step (its synaptic operations count every step), false for once.</summary>
        bool AnalogInputEveryStep { get; }

        /// <summary>True when the read-out at step t is already the estimate (cumulative), false when it is the step's output (averaged over steps).</summary>
        bool ReadoutIsCumulative { get; }

        bool Handles(Layer layer);

        BlockNeuronOutput Emit(OnnxGraphBuilder b, Network network, SpikingNeuronLayer layer, int[] shape, string input, int steps, int index);

        /// <summary>The spike planes of a max-pool over neuron outputs, given the pooled level and the max-pool of the input planes.</summary>
        string PooledPlanes(OnnxGraphBuilder b, string pooledLevel, Func<string> pooledInputPlanes, int steps);

        /// <summary>True when <see cref="TrainCounts"/> gives counts (then a neuron's spikes are counted without planes unless something else builds them).</summary>
        bool CountsFromLevels { get; }

        /// <summary>
        /// Counts of the spike trains of a neuron's level (or of a max-pool of one: <paramref name="neuron"/> is the pooled neuron) without their planes: [T·B, C], per step
        /// and channel Σ f_h·f_w over the elements that fire (1 each when <paramref name="rowFanOut"/> is null), written to
        /// <paramref name="output"/> or a fresh name; null where the emitter has no such form (the planes are counted then).
        /// </summary>
        string? TrainCounts(OnnxGraphBuilder b, SpikingNeuronLayer neuron, string level, int steps, float[]? rowFanOut, float[]? columnFanOut, string? output);
    }

    /// <summary>
    /// Lowers a network of block neurons to one ONNX graph for its T steps. Values are computed once per batch ([B, ...])
    /// by linearity: a layer integrates the block's input Σ_t W·x[t] + b as W·(Σ_t x[t]) + b. Beside them the graph
    /// builds [T·B, ...] spike planes where something reads them (spike counts, and synaptic operations: every non-zero
    /// input × fan-out, per step; the output layer's value per step), and only there: a plane nothing reads (a residual
    /// sum's, say) is never emitted (ONNX Runtime would compute it anyway). Outputs: <c>output_steps</c> [T·B, K], <c>spikes_i</c> [T·B],
    /// <c>sops_j</c> [T·B, ...].
    /// </summary>
    internal static class BlockLowering
    {
        public static SnnChunkGraph Build(SpikingNetwork snn, int steps, IReadOnlyList<SynapticLayerPlan>? synapticLayers, IBlockNeuronEmitter neurons, bool timeVaryingInput = false)
        {
            Network network = snn.Network;
            var b = new OnnxGraphBuilder($"{snn.Method}_{steps}");
            b.AddInput(SnnGraphBuilder.InputName, Batched(timeVaryingInput ? "KB" : "B", network.InputShape));
            var values = new Dictionary<string, string>(StringComparer.Ordinal) { [network.InputName] = SnnGraphBuilder.InputName };
            // Planes are emitted when first read: no node builds [T·B, ...] values that nothing uses.
            var planes = new Dictionary<string, Lazy<string>>(StringComparer.Ordinal);
            if (timeVaryingInput)
            {
                // A different input at every step [T·B, ...]: the layers integrate its block mean; each step's input counts.
                string blocks = b.Node("Reshape", new[] { SnnGraphBuilder.InputName, b.Ints(new long[] { steps, -1 }.Concat(network.InputShape.Select(d => (long)d)).ToArray()) });
                values[network.InputName] = b.Node("ReduceMean", new[] { blocks, b.Ints(0) }, null, Attr("keepdims", 0L));
                planes[network.InputName] = new Lazy<string>(() => SnnGraphBuilder.InputName);
            }
            var readouts = new Dictionary<string, Lazy<string>>(StringComparer.Ordinal);
            var levels = new Dictionary<string, string>(StringComparer.Ordinal);
            // The neuron whose trains a level counts (a max-pool's: its input's).
            var levelNeurons = new Dictionary<string, SpikingNeuronLayer>(StringComparer.Ordinal);
            var spikeCounts = new List<(string Output, SpikingNeuronLayer Neuron, string Level, Lazy<string> Planes)>();
            HashSet<string> tail = OutputTail(network);
            int neuronIndex = 0;
            int synapticIndex = 0;
            foreach (Layer layer in network.Layers)
            {
                if (neurons.Handles(layer))
                {
                    var neuron = (SpikingNeuronLayer)layer;
                    int[] shape = network.GetShape(neuron.Output);
                    BlockNeuronOutput o = neurons.Emit(b, network, neuron, shape, values[neuron.Inputs[0]], steps, neuronIndex);
                    values[neuron.Output] = o.Value;
                    levels[neuron.Output] = o.Level;
                    planes[neuron.Output] = new Lazy<string>(o.Planes);
                    readouts[neuron.Output] = new Lazy<string>(o.Readout);
                    levelNeurons[neuron.Output] = neuron;
                    string spikeOutput = SnnGraphBuilder.SpikeOutput(neuronIndex);
                    long[] countAxes = Enumerable.Range(1, shape.Length).Select(a => (long)a).ToArray();
                    string CountPlanes(string p) => b.Node("ReduceSum", new[] { p, b.Ints(countAxes) }, spikeOutput, Attr("keepdims", 0L));
                    if (neurons.CountsFromLevels)
                    {
                        // Counted from the planes right where something else builds them (so that they need not live on),
                        // else from the level once the graph is built (then no planes at all).
                        Lazy<string> built = planes[neuron.Output];
                        planes[neuron.Output] = new Lazy<string>(() =>
                        {
                            CountPlanes(built.Value);
                            return built.Value;
                        });
                        spikeCounts.Add((spikeOutput, neuron, o.Level, planes[neuron.Output]));
                    }
                    else
                    {
                        CountPlanes(planes[neuron.Output].Value);
                    }
                    b.AddOutput(spikeOutput, new[] { "KB" });
                    neuronIndex++;
                    continue;
                }
                if (SnnGraphBuilder.IsStateful(layer))
                {
                    throw new InvalidOperationException($"Layer '{layer.Name}' ({layer.GetType().Name}) cannot be simulated in a {snn.Method} network.");
                }
                if (synapticLayers != null && layer is ConvLayer or DenseLayer)
                {
                    SynapticLayerPlan plan = synapticLayers[synapticIndex];
                    string output = SnnGraphBuilder.SynapticOutput(synapticIndex);
                    if (planes.TryGetValue(layer.Inputs[0], out Lazy<string>? input))
                    {
                        // Spike planes hold 0 or 1: convolutions reading them straight from a neuron (or a max-pool
                        // of one) are planned with the MatMul forms (θ = 1), the others with the indicator form. The
                        // per-channel form is counted from the neuron's level where the emitter can (no planes).
                        bool fromLevel = plan.Mode == SynapticCountMode.SpikeChannels && plan.Thresholds!.All(t => t == 1f)
                            && levels.TryGetValue(layer.Inputs[0], out string? level)
                            && neurons.TrainCounts(b, levelNeurons[layer.Inputs[0]], level, steps, plan.RowFanOut, plan.ColumnFanOut, output) != null;
                        if (!fromLevel)
                        {
                            SnnGraphBuilder.EmitCount(b, plan, input.Value, output);
                        }
                    }
                    else
                    {
                        // An analog current (the image): presented at every step, or received once at step 1.
                        string once = SnnGraphBuilder.EmitIndicatorCount(b, plan, values[layer.Inputs[0]], null);
                        string later = neurons.AnalogInputEveryStep ? once : b.Node("Mul", new[] { once, b.Scalar(0f) });
                        b.Node("Concat", new[] { once }.Concat(Enumerable.Repeat(later, steps - 1)), output, Attr("axis", 0L));
                    }
                    b.AddOutput(output, Batched("KB", plan.KeptShape));
                    synapticIndex++;
                }
                values[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => values[i]).ToList());
                if (layer is PoolLayer { Kind: PoolKind.Max } && levels.TryGetValue(layer.Inputs[0], out string? inputLevel))
                {
                    string level = LayerEmitter.Emit(b, network, layer, new[] { inputLevel });
                    levels[layer.Output] = level;
                    levelNeurons[layer.Output] = levelNeurons[layer.Inputs[0]];
                    Lazy<string> inputPlanes = planes[layer.Inputs[0]];
                    Layer pool = layer;
                    planes[layer.Output] = new Lazy<string>(() => neurons.PooledPlanes(b, level, () => LayerEmitter.Emit(b, network, pool, new[] { inputPlanes.Value }), steps));
                }
                else if (layer.Inputs.All(planes.ContainsKey) && CarriesPlanes(layer))
                {
                    List<Lazy<string>> inputPlanes = layer.Inputs.Select(i => planes[i]).ToList();
                    Layer carrier = layer;
                    planes[layer.Output] = new Lazy<string>(() => LayerEmitter.Emit(b, network, carrier, inputPlanes.Select(p => p.Value).ToList()));
                }
                if (tail.Contains(layer.Output))
                {
                    var inputs = layer.Inputs.Select(i => readouts.TryGetValue(i, out Lazy<string>? p) ? p.Value : Repeat(b, values[i], steps)).ToList();
                    string readoutValue = LayerEmitter.Emit(b, network, layer, inputs);
                    readouts[layer.Output] = new Lazy<string>(() => readoutValue);
                }
            }
            string readout = readouts.TryGetValue(network.OutputName, out Lazy<string>? perStep) ? perStep.Value : Repeat(b, values[network.OutputName], steps);
            foreach ((string output, SpikingNeuronLayer neuron, string level, Lazy<string> neuronPlanes) in spikeCounts.Where(c => !c.Planes.IsValueCreated))
            {
                string trains = neurons.TrainCounts(b, neuron, level, steps, null, null, null)
                    ?? throw new InvalidOperationException($"Neuron '{neuron.Name}': the emitter counts from levels but gave no counts.");
                b.Node("ReduceSum", new[] { trains, b.Ints(1L) }, output, Attr("keepdims", 0L));
            }
            b.Node("Identity", new[] { readout }, SnnGraphBuilder.OutputName);
            b.AddOutput(SnnGraphBuilder.OutputName, Batched("KB", network.OutputShape));
            return new SnnChunkGraph(b.ToModelBytes("Microsoft.ML.Spiking"), Array.Empty<StateSpec>(), Differential: false, OutputsAreEstimates: neurons.ReadoutIsCumulative);
        }

        /// <summary>True for linear layers without constants, whose spike planes are the layer applied to the input's planes.</summary>
        private static bool CarriesPlanes(Layer layer) => layer switch
        {
            PoolLayer { Kind: PoolKind.Average } => true,
            GlobalAveragePoolLayer or ReshapeLayer or TransposeLayer or ConcatLayer => true,
            BinaryLayer { Op: BinaryOp.Add } => true,
            ConstBinaryLayer { Op: BinaryOp.Mul or BinaryOp.Div, ConstantOnLeft: false } => true,
            _ => false,
        };

        /// <summary>The values between the last neuron layers and the output: layers whose output reaches the network output without another neuron.</summary>
        private static HashSet<string> OutputTail(Network network)
        {
            var tail = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<string>();
            pending.Push(network.OutputName);
            while (pending.Count > 0)
            {
                string value = pending.Pop();
                Layer? producer = network.GetProducer(value);
                if (producer == null || producer is SpikingNeuronLayer || !tail.Add(value))
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
    }
}
