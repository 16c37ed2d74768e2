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
    /// Lowers a spiking network to an ONNX graph that simulates a chunk of K time steps in one call.
    /// Values that change over time are laid out [K·B, ...] with time folded into the batch axis (step-major:
    /// row t·B + b), so each stateless layer runs once per chunk as one large batch. Values that do not change
    /// over time (the part of the network before the first neuron, under direct input encoding) stay [B, ...]
    /// and are computed once. Neuron dynamics are unrolled over the K steps as element-wise ops. State (membranes,
    /// rate estimates) enters as graph inputs and leaves as outputs, so consecutive chunks continue one simulation.
    /// Under differential coding the image is presented once: a constant value reaching a stateful unit counts at
    /// step 1 only, the graph takes a <c>step_offset</c> input for t and 1/t, and the output is decoded in the graph
    /// (<c>output_steps</c> then holds r[t], not the step outputs).
    /// When asked, every convolution and dense layer also gets an output <c>sops_j</c> [K·B, ...] with its
    /// synaptic operations per step and sample (see <see cref="SynapticLayerPlan"/>).
    /// </summary>
    internal static class SnnGraphBuilder
    {
        public const string InputName = "input";
        public const string OutputName = "output_steps";

        public static string SpikeOutput(int neuron) => $"spikes_{neuron}";

        public static string SynapticOutput(int layer) => $"sops_{layer}";

        /// <summary>
        /// True when a differential-coding network must be fed its input at every step ([image, 0, 0, ...]): a
        /// value computed from the input alone reaches a stateless layer that also reads a time-varying value, so
        /// it cannot be presented once. Otherwise only stateful units read such values and the input is given once.
        /// </summary>
        public static bool RequiresInputPerStep(SpikingNetwork snn)
        {
            if (!snn.IsDifferential)
            {
                return false;
            }
            Network network = snn.Network;
            var varying = new HashSet<string>(StringComparer.Ordinal);
            foreach (Layer layer in network.Layers)
            {
                if (IsStateful(layer))
                {
                    varying.Add(layer.Output);
                    continue;
                }
                bool any = layer.Inputs.Any(varying.Contains);
                if (any && layer.Inputs.Any(i => !varying.Contains(i)))
                {
                    return true;
                }
                if (any)
                {
                    varying.Add(layer.Output);
                }
            }
            return false;
        }

        /// <summary>True for the layers that keep state across steps.</summary>
        public static bool IsStateful(Layer layer) => layer is SpikingNeuronLayer or GradedUnitLayer or MaxPoolNeuronLayer;

        /// <summary>Builds the chunk graph.</summary>
        /// <param name="snn">The spiking network.</param>
        /// <param name="steps">K, the steps in one chunk.</param>
        /// <param name="timeVaryingInput">True when the input is given per step as [K·B, ...]; false for a constant input [B, ...].</param>
        /// <param name="synapticLayers">Plans of the convolution and dense layers, in network order, to count synaptic operations; null for none.</param>
        /// <param name="fusedNeurons">
        /// Lower IF and multi-threshold neurons to the fused kernels (<see cref="FusedNeuronEmitters"/>; sessions must register
        /// <see cref="NativeKernels"/>) instead of standard ops. Same results; exported models keep the standard ops.
        /// </param>
        /// <param name="fusedIfNeurons">With <paramref name="fusedNeurons"/>: IF neurons too (else only multi-threshold neurons).</param>
        /// <param name="packing">
        /// Rate coding: pass spikes between layers as bits and fuse each IF neuron with the convolutions of spikes that drive it
        /// (<see cref="BitPackedPlan"/>; sessions must register <see cref="NativeKernels"/>). Agrees with the standard lowering to
        /// float rounding (the convolutions sum in another order).
        /// </param>
        /// <param name="scaledTableBytes">With <paramref name="packing"/>: the budget of a differential node's scaled row tables (<see cref="BitPackedPlan.MaxScaledTableBytes"/>).</param>
        /// <param name="nativeTrainCounts">A parallel network counts its spikes and synaptic operations with the native <c>TrainCounts</c> operator.</param>
        /// <param name="startsRun">The chunk starts the run: the states kernels hold have no inputs (the kernels form their initial values).</param>
        /// <param name="finalStateRead">Something reads the chunk's final states; without it the states kernels hold have no outputs.</param>
        public static SnnChunkGraph Build(SpikingNetwork snn, int steps, bool timeVaryingInput, IReadOnlyList<SynapticLayerPlan>? synapticLayers = null, bool fusedNeurons = false, bool fusedIfNeurons = true, BitPacking packing = BitPacking.None, long scaledTableBytes = BitPackedPlan.MaxScaledTableBytes, bool nativeTrainCounts = false,
            bool startsRun = false, bool finalStateRead = true)
        {
            if (steps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), steps, "A chunk needs at least one step.");
            }
            if (snn.Method == ConversionMethod.Parallel)
            {
                return ParallelLowering.Build(snn, steps, synapticLayers, timeVaryingInput, nativeTrainCounts);
            }
            if (snn.Method == ConversionMethod.BitSerial)
            {
                if (timeVaryingInput)
                {
                    throw new NotSupportedException("A bit-serial network receives its input once, as a current; per-step inputs do not apply.");
                }
                return BitSerialLowering.Build(snn, steps, synapticLayers);
            }
            Network network = snn.Network;
            bool differential = snn.IsDifferential;
            if (differential && !timeVaryingInput && RequiresInputPerStep(snn))
            {
                throw new InvalidOperationException("This differential network needs its input at every step; build the chunk graph with timeVaryingInput.");
            }
            var b = new OnnxGraphBuilder($"snn_chunk_{steps}");
            b.AddInput(InputName, Batched(timeVaryingInput ? "KB" : "B", network.InputShape));
            var ctx = new ChunkContext(b, network, steps, differential, startsRun, finalStateRead);
            var values = new Dictionary<string, (string Name, bool Varying)> { [network.InputName] = (InputName, timeVaryingInput) };
            var tiled = new Dictionary<string, string>();
            int neuronIndex = 0;
            int synapticIndex = 0;
            BitPackedPlan? bitPlan = packing != BitPacking.None ? BitPackedPlan.Create(network, differential) : null;
            var packed = new Dictionary<string, BitPackedEmitters.PackedValue>(StringComparer.Ordinal);
            var kernelCounts = new Dictionary<string, (string Output, SynapticLayerPlan Plan)>(StringComparer.Ordinal);

            // A value as floats: packed spikes are unpacked once, for the first reader that needs floats.
            (string Name, bool Varying) Value(string irValue)
            {
                if (!values.TryGetValue(irValue, out var value))
                {
                    value = (BitPackedEmitters.Unpack(b, packed[irValue]), true);
                    values[irValue] = value;
                }
                return value;
            }

            SynapticLayerPlan NextPlan(Layer layer)
            {
                SynapticLayerPlan plan = synapticLayers![synapticIndex];
                if (plan.Name != layer.Name)
                {
                    throw new InvalidOperationException($"Synaptic plan {synapticIndex} is for '{plan.Name}', not '{layer.Name}'.");
                }
                return plan;
            }

            // A multi-threshold neuron whose spikes a fused neuron reads, simulated by its usual kernel: its spikes as codes too.
            void EncodeIfPacked(Layer layer)
            {
                if (bitPlan != null && layer is MultiThresholdNeuronLayer neuron && bitPlan.IsPacked(neuron) && bitPlan.Fused(neuron) == null)
                {
                    packed[neuron.Output] = BitPackedEmitters.Encode(b, neuron, network.GetShape(neuron.Output), values[neuron.Output].Name);
                }
            }

            string Tiled(string irValue)
            {
                (string name, bool varying) = Value(irValue);
                if (varying)
                {
                    return name;
                }
                if (differential)
                {
                    throw new InvalidOperationException($"Value '{irValue}' is presented once in differential coding and cannot be repeated at every step.");
                }
                if (!tiled.TryGetValue(irValue, out string? t))
                {
                    t = steps == 1 ? name : b.Node("Concat", Enumerable.Repeat(name, steps), null, Attr("axis", 0L));
                    tiled[irValue] = t;
                }
                return t;
            }

            // The product unit counts its own synaptic operations (it holds the operands' rates).
            string? ProductCount(GradedUnitLayer unit)
            {
                if (synapticLayers == null || unit.Function is not MatMulLayer)
                {
                    return null;
                }
                SynapticLayerPlan plan = synapticLayers[synapticIndex];
                if (plan.Name != unit.Name || plan.Mode != SynapticCountMode.Product)
                {
                    throw new InvalidOperationException($"Synaptic plan {synapticIndex} is for '{plan.Name}', not the product unit '{unit.Name}'.");
                }
                string output = SynapticOutput(synapticIndex);
                synapticIndex++;
                b.AddOutput(output, Batched("KB", plan.KeptShape));
                return output;
            }

            foreach (Layer layer in network.Layers)
            {
                if (bitPlan != null && bitPlan.IsAbsorbed(layer))
                {
                    // Computed by the fused neuron it feeds; its synaptic operations are counted by that node or on its packed input.
                    if (synapticLayers != null && layer is ConvLayer absorbed)
                    {
                        SynapticLayerPlan plan = NextPlan(layer);
                        if (BitPackedEmitters.CountsInKernel(plan, packed[absorbed.Inputs[0]]))
                        {
                            kernelCounts[absorbed.Name] = (SynapticOutput(synapticIndex), plan);
                        }
                        else if (BitPackedEmitters.CountsPacked(plan, packed[absorbed.Inputs[0]]))
                        {
                            BitPackedEmitters.FanOut(b, plan, packed[absorbed.Inputs[0]], SynapticOutput(synapticIndex));
                        }
                        else
                        {
                            EmitSynapticCount(ctx, plan, Value(absorbed.Inputs[0]).Name, true, synapticIndex);
                        }
                        synapticIndex++;
                    }
                    continue;
                }
                if (bitPlan != null && layer is SpikingNeuronLayer packedNeuron && bitPlan.IsPacked(packedNeuron))
                {
                    int[] shape = network.GetShape(packedNeuron.Output);
                    if (bitPlan.Fused(packedNeuron) is BitPackedPlan.FusedNeuron fusedConv)
                    {
                        packed[packedNeuron.Output] = BitPackedEmitters.SpikeConv(ctx, fusedConv, shape, ir => packed[ir], SpikeOutput(neuronIndex), packing == BitPacking.Portable, scaledTableBytes, kernelCounts);
                        neuronIndex++;
                        continue;
                    }
                    if (packedNeuron is IfNeuronLayer entry)
                    {
                        (string current, bool currentVarying) = Value(entry.Inputs[0]);
                        packed[entry.Output] = BitPackedEmitters.IfPack(ctx, entry, shape, current, currentVarying, SpikeOutput(neuronIndex));
                        neuronIndex++;
                        continue;
                    }
                    if (fusedNeurons && packedNeuron is MultiThresholdNeuronLayer encoding && FusedNeuronEmitters.Supports(encoding, differential))
                    {
                        // A multi-threshold neuron on an analog input: its fused kernel writes codes (floats only if a reader asks).
                        (string current, bool currentVarying) = Value(encoding.Inputs[0]);
                        packed[encoding.Output] = BitPackedEmitters.EncodingNeuron(ctx, encoding, shape, current, currentVarying, SpikeOutput(neuronIndex), packing == BitPacking.Portable);
                        neuronIndex++;
                        continue;
                    }
                    // Otherwise it runs its usual lowering below; its spikes are then encoded.
                }
                if (IsStateful(layer))
                {
                    if (bitPlan?.Pool(layer) is BitPackedPlan.FusedPool fusedPool)
                    {
                        var counted = kernelCounts.TryGetValue(fusedPool.Convolution.Name, out var target) ? target : ((string, SynapticLayerPlan)?)null;
                        values[layer.Output] = (BitPackedEmitters.SpikeConvPool(ctx, fusedPool, packed[fusedPool.Convolution.Inputs[0]], packing == BitPacking.Portable, scaledTableBytes, counted), true);
                        continue;
                    }
                    (string name, bool varying) = Value(layer.Inputs[0]);
                    if (fusedNeurons && differential && layer is MaxPoolNeuronLayer pool)
                    {
                        values[layer.Output] = (FusedNeuronEmitters.MaxPoolNeuron(ctx, pool, name, varying, packing == BitPacking.Portable), true);
                        continue;
                    }
                    if (fusedNeurons && layer is SpikingNeuronLayer fused && FusedNeuronEmitters.Supports(fused, differential, fusedIfNeurons))
                    {
                        values[layer.Output] = (FusedNeuronEmitters.Emit(ctx, fused, network.GetShape(fused.Output), name, varying, SpikeOutput(neuronIndex), packing == BitPacking.Portable), true);
                        neuronIndex++;
                        EncodeIfPacked(layer);
                        continue;
                    }
                    string[] perStep = layer switch
                    {
                        IfNeuronLayer n when !differential => NeuronEmitters.IfNeuron(ctx, n, network.GetShape(n.Output), name, varying),
                        MultiThresholdNeuronLayer n when n.Differential == differential => NeuronEmitters.MultiThresholdNeuron(ctx, n, network.GetShape(n.Output), name, varying),
                        MaxPoolNeuronLayer p when differential => NeuronEmitters.MaxPoolNeuron(ctx, p, name, varying),
                        GradedUnitLayer g when differential => NeuronEmitters.GradedUnit(ctx, g, g.Inputs.Select(Value).ToList(), ProductCount(g)),
                        _ => throw new InvalidOperationException($"Layer '{layer.Name}' ({layer.GetType().Name}) cannot be simulated in a {(differential ? "differential" : "rate")}-coded network."),
                    };
                    string all = ctx.Concat(perStep);
                    if (layer is SpikingNeuronLayer neuron)
                    {
                        NeuronEmitters.SpikeCount(ctx, neuron, network.GetShape(neuron.Output), all, SpikeOutput(neuronIndex));
                        neuronIndex++;
                    }
                    values[layer.Output] = (all, true);
                    EncodeIfPacked(layer);
                    continue;
                }
                if (bitPlan != null && layer is PoolLayer spikePool && bitPlan.PoolsBits(spikePool))
                {
                    packed[spikePool.Output] = BitPackedEmitters.SpikeMaxPool(b, spikePool, packed[spikePool.Inputs[0]], network.GetShape(spikePool.Output));
                    continue;
                }
                if (synapticLayers != null && layer is ConvLayer or DenseLayer)
                {
                    SynapticLayerPlan plan = NextPlan(layer);
                    if (packed.TryGetValue(layer.Inputs[0], out BitPackedEmitters.PackedValue? spikes) && BitPackedEmitters.CountsPacked(plan, spikes))
                    {
                        // Counted on the packed spikes (one read of the codes or bits) rather than on their unpacked floats.
                        BitPackedEmitters.FanOut(b, plan, spikes, SynapticOutput(synapticIndex));
                    }
                    else
                    {
                        (string name, bool varying) = Value(layer.Inputs[0]);
                        EmitSynapticCount(ctx, plan, name, varying, synapticIndex);
                    }
                    synapticIndex++;
                }
                bool anyVarying = layer.Inputs.Any(i => Value(i).Varying);
                var inputs = layer.Inputs.Select(i => anyVarying ? Tiled(i) : Value(i).Name).ToList();
                values[layer.Output] = (LayerEmitter.Emit(b, network, layer, inputs), anyVarying);
            }
            if (differential)
            {
                (string name, bool varying) = Value(network.OutputName);
                string estimates = NeuronEmitters.Decoder(ctx, name, varying, snn.OutputBias!, network.OutputShape);
                b.Node("Identity", new[] { estimates }, OutputName);
            }
            else
            {
                b.Node("Identity", new[] { Tiled(network.OutputName) }, OutputName);
            }
            b.AddOutput(OutputName, Batched("KB", network.OutputShape));
            return new SnnChunkGraph(b.ToModelBytes("Microsoft.ML.Spiking"), ctx.States, differential, OutputsAreEstimates: differential) { NodeCount = b.NodeCount };
        }

        /// <summary>
        /// SOPs of one layer per step and sample, as exact integer partial sums [K·B, kept...] (see
        /// <see cref="SynapticCountMode"/>). A static input [B, ...] is counted once and tiled K times: it is
        /// presented, and counted, at every step.
        /// </summary>
        private static void EmitSynapticCount(ChunkContext ctx, SynapticLayerPlan plan, string input, bool varying, int index)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int steps = ctx.Steps;
            string output = SynapticOutput(index);
            bool tile = !varying && (steps > 1 || ctx.Differential);
            string? target = tile ? null : output;
            string sums = EmitCount(b, plan, input, target);
            if (tile && ctx.Differential)
            {
                // Presented once: the input is non-zero at step 1 only.
                string[] perStep = Enumerable.Range(0, steps).Select(k => b.Node("Mul", new[] { sums, ctx.IsFirst(k) })).ToArray();
                b.Node("Identity", new[] { ctx.Concat(perStep) }, output);
            }
            else if (tile)
            {
                b.Node("Concat", Enumerable.Repeat(sums, steps), output, Attr("axis", 0L));
            }
            b.AddOutput(output, Batched("KB", plan.KeptShape));
        }

        /// <summary>Where(x = 0, 0, F) summed over the trailing axes: three passes over the input, valid for any values.</summary>
        /// <summary>The plan's counting graph on <paramref name="input"/>: the MatMul forms for spike inputs, else the indicator form.</summary>
        internal static string EmitCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output) => plan.Mode switch
        {
            SynapticCountMode.SpikeChannels => EmitSpikeChannelCount(b, plan, input, output),
            SynapticCountMode.SpikeRows => EmitSpikeRowCount(b, plan, input, output),
            _ => EmitIndicatorCount(b, plan, input, output),
        };

        internal static string EmitIndicatorCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            string zero = b.Scalar(0f);
            string isZero = b.Node("Equal", new[] { input, zero });
            string fanOut = plan.FanOut == null ? b.Scalar(1f) : b.Initializer("fanout", plan.InputShape, plan.FanOut);
            string events = b.Node("Where", new[] { isZero, zero, fanOut });
            int rank = plan.InputShape.Length;
            long[] axes = Enumerable.Range(rank - plan.ReducedAxes + 1, plan.ReducedAxes).Select(a => (long)a).ToArray();
            return b.Node("ReduceSum", new[] { events, b.Ints(axes) }, output, Attr("keepdims", 0L));
        }

        /// <summary>
        /// Spikes x ∈ {0, θ_c}: per channel Round(Σ_hw (f_h ⊗ f_w)·x / θ_c) = Σ_hw F/g over the spiking elements,
        /// by one read-only MatMul over each channel's H·W values; [K·B, C], times g (out channels per group) on the host.
        /// </summary>
        private static string EmitSpikeChannelCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            int channels = plan.InputShape[0];
            int height = plan.InputShape[1];
            int width = plan.InputShape[2];
            float[] fh = plan.RowFanOut!;
            float[] fw = plan.ColumnFanOut!;
            var weights = new float[height * width];
            for (int h = 0; h < height; h++)
            {
                for (int w = 0; w < width; w++)
                {
                    weights[h * width + w] = fh[h] * fw[w];
                }
            }
            string flat = b.Node("Reshape", new[] { input, b.Ints(-1, (long)height * width) });
            string sums = b.Node("MatMul", new[] { flat, b.Initializer("fanout_hw", new[] { height * width, 1 }, weights) });
            string perChannel = b.Node("Reshape", new[] { sums, b.Ints(-1, channels) });
            string counts = b.Node("Div", new[] { perChannel, b.Initializer("theta_c", new[] { channels }, plan.Thresholds!) });
            return b.Node("Round", new[] { counts }, output);
        }

        /// <summary>
        /// Spikes x ∈ {0, θ_c} on maps too large for <see cref="EmitSpikeChannelCount"/>: per row
        /// Round(Σ_w f_w·x / θ_c), then Σ_h f_h·(row count) by a MatMul on the small [K·B, C, H] result.
        /// </summary>
        private static string EmitSpikeRowCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            int channels = plan.InputShape[0];
            int height = plan.InputShape[1];
            int width = plan.InputShape[2];
            string flat = b.Node("Reshape", new[] { input, b.Ints(-1, width) });
            string rowSums = b.Node("MatMul", new[] { flat, b.Initializer("fanout_w", new[] { width, 1 }, plan.ColumnFanOut!) });
            string rows = b.Node("Reshape", new[] { rowSums, b.Ints(-1, channels, height) });
            string counts = b.Node("Div", new[] { rows, b.Initializer("theta_c", new[] { channels, 1 }, plan.Thresholds!) });
            string rounded = b.Node("Round", new[] { counts });
            string perChannel = b.Node("MatMul", new[] { rounded, b.Initializer("fanout_h", new[] { height, 1 }, plan.RowFanOut!) });
            return b.Node("Reshape", new[] { perChannel, b.Ints(-1, channels) }, output);
        }
    }

    /// <summary>A chunk graph and the state tensors it carries, in the order of its state inputs.</summary>
    /// <param name="Model">The ONNX model.</param>
    /// <param name="States">The state tensors, in the order of the state inputs.</param>
    /// <param name="Differential">True when the graph takes <c>step_offset</c> (differential coding).</param>
    /// <param name="OutputsAreEstimates">True when <c>output_steps</c> holds the estimate after each step (decoded or accumulated), false when it holds the step outputs to be averaged.</param>
    internal sealed record SnnChunkGraph(byte[] Model, IReadOnlyList<StateSpec> States, bool Differential, bool OutputsAreEstimates)
    {
        /// <summary>Nodes in the graph (the chunk length is chosen to keep it small enough for ONNX Runtime to plan quickly).</summary>
        public int NodeCount { get; init; }
    }
}
