// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Onnx.Proto;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>Emits the nodes of a <see cref="BitPackedPlan"/> into a chunk graph.</summary>
    internal static class BitPackedEmitters
    {
        /// <summary>
        /// A packed spike value: the tensor (bits of IF spikes, or 4-bit codes of multi-threshold spikes), its neuron's θ
        /// per channel, its per-sample shape [C, H, W], and for codes the neuron's level factors (2^−k).
        /// </summary>
        internal sealed record PackedValue(string Tensor, float[] Theta, int[] Shape, float[]? Scales)
        {
            public bool IsCodes => Scales != null;
        }

        /// <summary>IfPack: the IF neuron of IfScan on a float current, writing bits; its state keeps IfScan's layout.</summary>
        public static PackedValue IfPack(ChunkContext ctx, IfNeuronLayer neuron, int[] shape, string input, bool varying, string countName)
        {
            OnnxGraphBuilder b = ctx.Builder;
            string theta = ctx.Broadcastable("theta", neuron.Threshold, shape);
            string v = ctx.BeginState("membrane", shape, ChunkContext.Expand(neuron.Threshold, shape, neuron.InitialMembrane));
            string bits = b.Fresh("if_bits");
            b.CustomNode(NativeKernels.Domain, "IfPack", new[] { input, theta, v }, new[] { bits, ctx.StateOutput(v), countName },
                Attr("steps", (long)ctx.Steps), Attr("varying", varying ? 1L : 0L), Attr("reset_to_zero", neuron.Reset == ResetMode.Zero ? 1L : 0L));
            b.AddOutput(countName, new[] { "KB" });
            return new PackedValue(bits, BitPackedPlan.ChannelThresholds(neuron, shape[0]), shape, null);
        }

        /// <summary>MtEncode: a multi-threshold neuron on an analog input simulated by its fused kernel, its spikes written as codes.</summary>
        public static PackedValue EncodingNeuron(ChunkContext ctx, MultiThresholdNeuronLayer neuron, int[] shape, string input, bool varying, string countName, bool portable)
        {
            string codes = FusedNeuronEmitters.EmitCodes(ctx, neuron, shape, input, varying, countName, portable);
            return new PackedValue(codes, BitPackedPlan.ChannelThresholds(neuron, shape[0]), shape, NeuronEmitters.ThresholdFactors(neuron).Scales);
        }

        /// <summary>SpikeEncode: a multi-threshold neuron's float spikes [K·B, C, H, W] (from its usual kernel) as codes.</summary>
        public static PackedValue Encode(OnnxGraphBuilder b, MultiThresholdNeuronLayer neuron, int[] shape, string spikes)
        {
            float[] theta = BitPackedPlan.ChannelThresholds(neuron, shape[0]);
            (float[] scales, _) = NeuronEmitters.ThresholdFactors(neuron);
            string codes = b.Fresh("mt_codes");
            b.CustomNode(NativeKernels.Domain, "SpikeEncode", new[] { spikes, b.Initializer("theta_c", new[] { theta.Length }, theta) }, new[] { codes }, Attr("scales", scales));
            return new PackedValue(codes, theta, shape, scales);
        }

        /// <summary>
        /// SpikeConvIf or SpikeConvMt: the fused neuron's convolutions, residual and dynamics; its states are laid out [H, W,
        /// padded C]. A SpikeConvMt node's tables are scaled where they total at most <paramref name="scaledTableBytes"/>.
        /// </summary>
        /// <param name="ctx">The chunk being built.</param>
        /// <param name="fused">The neuron and the convolutions (and residual) it absorbs.</param>
        /// <param name="shape">The neuron's per-sample shape [C, H, W].</param>
        /// <param name="packed">The packed value of a layer output the node reads.</param>
        /// <param name="countName">The graph output of its spike counts.</param>
        /// <param name="portable">Run the portable build of the kernel even where the CPU has AVX-512.</param>
        /// <param name="scaledTableBytes">The budget of a differential node's scaled row tables.</param>
        /// <param name="eventCounts">
        /// Convolutions (by name) whose synaptic operations a SpikeConvMt node counts itself (<see cref="CountsInKernel"/>): the
        /// graph output each goes to and its plan.
        /// </param>
        public static PackedValue SpikeConv(ChunkContext ctx, BitPackedPlan.FusedNeuron fused, int[] shape, Func<string, PackedValue> packed, string countName, bool portable, long scaledTableBytes,
            IReadOnlyDictionary<string, (string Output, SynapticLayerPlan Plan)>? eventCounts = null)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int channels = shape[0];
            int padded = BitPackedPlan.Padded(channels);
            float[] theta = BitPackedPlan.ChannelThresholds(fused.Neuron, channels);
            var multiThreshold = fused.Neuron as MultiThresholdNeuronLayer;
            bool codes = multiThreshold != null;
            var inputs = new string[codes ? 14 : 9];
            var attributes = new List<AttributeProto>
            {
                Attr("steps", (long)ctx.Steps),
                Attr("channels", (long)channels),
                Attr("portable", portable ? 1L : 0L),
            };
            var bias = new float[padded];
            // Codes: scaled rows (one added row per event) while the node's tables stay within the budget.
            bool scaled = codes && fused.Convolutions.Sum(conv => BitPackedPlan.ScaledTableBytes(conv, multiThreshold!.Levels)) <= scaledTableBytes;
            if (codes)
            {
                attributes.Add(Attr("scaled", scaled ? 1L : 0L));
            }
            for (int s = 0; s < fused.Convolutions.Count; s++)
            {
                ConvLayer conv = fused.Convolutions[s];
                PackedValue source = packed(conv.Inputs[0]);
                float[] table = !codes ? BitPackedPlan.NibbleTable(conv, source.Theta) : CodeTable(conv, source, scaled);
                inputs[2 * s] = source.Tensor;
                inputs[2 * s + 1] = b.Initializer("conv_table", new[] { table.Length }, table);
                attributes.Add(Geometry(s == 0 ? "geometry_a" : "geometry_b", conv));
                for (int o = 0; conv.Bias != null && o < channels; o++)
                {
                    bias[o] += conv.Bias[o];
                }
            }
            if (fused.Residual != null)
            {
                PackedValue residual = packed(fused.Residual.Output);
                inputs[4] = residual.Tensor;
                inputs[5] = b.Initializer("residual_theta", new[] { padded }, BitPackedPlan.PadChannels(residual.Theta, 0f));
            }
            inputs[6] = b.Initializer("bias", new[] { padded }, bias);
            string output = b.Fresh(codes ? "conv_codes" : "conv_bits");
            int[] stateShape = { shape[1], shape[2], padded };
            int stateSize = shape[1] * shape[2] * padded;
            if (fused.Neuron is MultiThresholdNeuronLayer neuron)
            {
                (float[] scales, float[] fractions) = NeuronEmitters.ThresholdFactors(neuron);
                inputs[7] = neuron.Bias != null ? b.Initializer("mt_bias", new[] { stateSize }, BitPackedPlan.ToPixelMajor(neuron.Bias, shape, 0f)) : string.Empty;
                inputs[8] = b.Initializer("theta", new[] { padded }, BitPackedPlan.PadChannels(theta, float.PositiveInfinity));
                inputs[9] = ChunkContext.StepOffsetName;
                // The kernel's initial state when a chunk starts the run: m = C = r_out = 0, c = b_n (its neuron_bias input).
                KernelStateSlot m = ctx.KernelState("m_hwc", stateShape, new float[stateSize], channels);
                KernelStateSlot c = ctx.KernelState("c_hwc", stateShape, neuron.Bias != null ? BitPackedPlan.ToPixelMajor(neuron.Bias, shape, 0f) : new float[stateSize], channels);
                KernelStateSlot cumulative = neuron.Gated ? ctx.KernelState("C_hwc", stateShape, new float[stateSize], channels) : KernelStateSlot.None;
                KernelStateSlot rOut = neuron.Gated ? ctx.KernelState("r_out_hwc", stateShape, new float[stateSize], channels) : KernelStateSlot.None;
                (inputs[10], inputs[11], inputs[12], inputs[13]) = (m.Input, c.Input, cumulative.Input, rOut.Input);
                attributes.Add(Attr("map", new[] { shape[1], shape[2] }));
                attributes.Add(Attr("levels", (long)neuron.Levels));
                attributes.Add(Attr("gated", neuron.Gated ? 1L : 0L));
                attributes.Add(Attr("scales", scales));
                attributes.Add(Attr("fractions", fractions));
                var outputs = new List<string> { output, countName, m.Output, c.Output, cumulative.Output, rOut.Output };
                // Synaptic operations counted by the node: each source's events per step and sample times its output channels.
                var counted = fused.Convolutions.Select(conv => eventCounts != null && eventCounts.TryGetValue(conv.Name, out var target) ? target : ((string Output, SynapticLayerPlan Plan)?)null).ToArray();
                string[] events = counted.Select(target => b.Fresh("events")).ToArray();
                if (counted.Any(target => target != null))
                {
                    attributes.Add(Attr("count_events", 1L));
                    outputs.AddRange(events);
                }
                b.CustomNode(NativeKernels.Domain, "SpikeConvMt", inputs.Select(i => i ?? string.Empty), outputs, attributes.ToArray());
                b.AddOutput(countName, new[] { "KB" });
                for (int s = 0; s < counted.Length; s++)
                {
                    if (counted[s] is (string target, SynapticLayerPlan plan))
                    {
                        SynapticOperationsFromEvents(b, events[s], target, plan);
                    }
                }
                return new PackedValue(output, theta, shape, scales);
            }
            var ifNeuron = (IfNeuronLayer)fused.Neuron;
            inputs[7] = b.Initializer("theta", new[] { padded }, BitPackedPlan.PadChannels(theta, float.PositiveInfinity));
            // v(0) = θ·v0 per element, as the standard lowering's state, laid out [H, W, padded C].
            float[] initial = BitPackedPlan.ToPixelMajor(ChunkContext.Expand(ifNeuron.Threshold, shape, ifNeuron.InitialMembrane), shape, 0f);
            string v = ctx.BeginState("membrane_hwc", stateShape, initial, channels);
            inputs[8] = v;
            attributes.Add(Attr("reset_to_zero", ifNeuron.Reset == ResetMode.Zero ? 1L : 0L));
            b.CustomNode(NativeKernels.Domain, "SpikeConvIf", inputs.Select(i => i ?? string.Empty), new[] { output, ctx.StateOutput(v), countName }, attributes.ToArray());
            b.AddOutput(countName, new[] { "KB" });
            return new PackedValue(output, theta, shape, null);
        }

        /// <summary>
        /// SpikeConvPool: a differential max-pool neuron with the convolution of codes that feeds it, in one node (the
        /// convolution's sums as SpikeConvMt forms them, the neuron's operations as MaxPoolScan's); states v and r_in laid out
        /// [H, W, padded C], r_out [H / kh, W / kw, padded C].
        /// </summary>
        /// <param name="ctx">The chunk being built.</param>
        /// <param name="fused">The max-pool neuron and its convolution.</param>
        /// <param name="source">The packed codes the convolution reads.</param>
        /// <param name="portable">Run the portable build of the kernel even where the CPU has AVX-512.</param>
        /// <param name="scaledTableBytes">The budget of the node's scaled row table.</param>
        /// <param name="eventCount">The graph output and plan of the convolution's synaptic operations when the node counts them, else null.</param>
        /// <returns>The neuron's output [K·B, C, H / kh, W / kw].</returns>
        public static string SpikeConvPool(ChunkContext ctx, BitPackedPlan.FusedPool fused, PackedValue source, bool portable, long scaledTableBytes, (string Output, SynapticLayerPlan Plan)? eventCount)
        {
            OnnxGraphBuilder b = ctx.Builder;
            ConvLayer conv = fused.Convolution;
            MaxPoolNeuronLayer pool = fused.Pool;
            int[] shape = ctx.Network.GetShape(conv.Output);
            int[] pooledShape = ctx.Network.GetShape(pool.Output);
            int channels = shape[0];
            int padded = BitPackedPlan.Padded(channels);
            float[] scales = source.Scales!;
            bool scaled = BitPackedPlan.ScaledTableBytes(conv, scales.Length) <= scaledTableBytes;
            float[] table = CodeTable(conv, source, scaled);
            var bias = new float[padded];
            for (int o = 0; conv.Bias != null && o < channels; o++)
            {
                bias[o] = conv.Bias[o];
            }
            int[] stateShape = { shape[1], shape[2], padded };
            int stateSize = shape[1] * shape[2] * padded;
            int[] pooledStateShape = { pooledShape[1], pooledShape[2], padded };
            float[]? poolBias = pool.Bias != null ? BitPackedPlan.ToPixelMajor(pool.Bias, shape, 0f) : null;
            // The kernel's initial state when a chunk starts the run: v = r_out = 0, r_in = the pool's bias (its neuron_bias input).
            KernelStateSlot v = ctx.KernelState("v_hwc", stateShape, new float[stateSize], channels);
            KernelStateSlot rIn = ctx.KernelState("r_in_hwc", stateShape, poolBias != null ? (float[])poolBias.Clone() : new float[stateSize], channels);
            KernelStateSlot rOut = ctx.KernelState("r_out_hwc", pooledStateShape, new float[pooledStateShape[0] * pooledStateShape[1] * padded], channels);
            string[] inputs =
            {
                source.Tensor,
                b.Initializer("conv_table", new[] { table.Length }, table),
                b.Initializer("bias", new[] { padded }, bias),
                poolBias != null ? b.Initializer("mp_bias", new[] { stateSize }, poolBias) : string.Empty,
                ChunkContext.StepOffsetName,
                v.Input, rIn.Input, rOut.Input,
            };
            string output = b.Fresh("mp_out");
            var outputs = new List<string> { output, v.Output, rIn.Output, rOut.Output };
            string events = b.Fresh("events");
            if (eventCount != null)
            {
                outputs.Add(events);
            }
            b.CustomNode(NativeKernels.Domain, "SpikeConvPool", inputs, outputs,
                Attr("steps", (long)ctx.Steps), Attr("channels", (long)channels), Attr("map", new[] { shape[1], shape[2] }),
                Attr("levels", (long)scales.Length), Attr("scales", scales),
                Attr("scaled", scaled ? 1L : 0L), Attr("portable", portable ? 1L : 0L), Attr("count_events", eventCount != null ? 1L : 0L),
                Geometry("geometry_a", conv),
                Attr("kernel_shape", pool.Pool.Kernel));
            if (eventCount is (string target, SynapticLayerPlan plan))
            {
                SynapticOperationsFromEvents(b, events, target, plan);
            }
            return output;
        }

        /// <summary>A convolution of codes' table: scaled (a row per code level) or unscaled (a row per input channel).</summary>
        private static float[] CodeTable(ConvLayer conv, PackedValue source, bool scaled) =>
            scaled ? BitPackedPlan.ScaledRowTable(conv, source.Theta, source.Scales!) : BitPackedPlan.RowTable(conv, source.Theta);

        /// <summary>A fused convolution's geometry attribute: [kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left].</summary>
        private static AttributeProto Geometry(string name, ConvLayer conv) =>
            Attr(name, new[] { conv.Weight.Shape[2], conv.Weight.Shape[3], conv.Strides[0], conv.Strides[1], conv.Pads[0], conv.Pads[1] });

        /// <summary>A convolution's synaptic operations per step and sample from a fused node's events (each reaches every output channel).</summary>
        private static void SynapticOperationsFromEvents(OnnxGraphBuilder b, string events, string target, SynapticLayerPlan plan)
        {
            b.Node("Mul", new[] { events, b.Scalar((float)plan.ChannelFanOut) }, target);
            b.AddOutput(target, Batched("KB", plan.KeptShape));
        }

        /// <summary>SpikeMaxPool: the max-pooling of IF spikes on their bits (the OR of each window's words; θ_c &gt; 0).</summary>
        public static PackedValue SpikeMaxPool(OnnxGraphBuilder b, PoolLayer pool, PackedValue source, int[] shape)
        {
            string bits = b.Fresh("pooled_bits");
            b.CustomNode(NativeKernels.Domain, "SpikeMaxPool", new[] { source.Tensor }, new[] { bits }, Attr("kernel_shape", pool.Kernel));
            return new PackedValue(bits, source.Theta, shape, source.Scales);
        }

        /// <summary>SpikeUnpack or CodeUnpack: the floats [K·B, C, H, W] of a packed value, as the standard lowering has them.</summary>
        public static string Unpack(OnnxGraphBuilder b, PackedValue value)
        {
            string output = b.Fresh("unpacked");
            string theta = b.Initializer("theta_c", new[] { value.Theta.Length }, value.Theta);
            if (value.IsCodes)
            {
                b.CustomNode(NativeKernels.Domain, "CodeUnpack", new[] { value.Tensor, theta }, new[] { output }, Attr("channels", (long)value.Shape[0]), Attr("scales", value.Scales!));
            }
            else
            {
                b.CustomNode(NativeKernels.Domain, "SpikeUnpack", new[] { value.Tensor, theta }, new[] { output }, Attr("channels", (long)value.Shape[0]));
            }
            return output;
        }

        /// <summary>
        /// True when the synaptic operations of a convolution reading <paramref name="value"/> can be counted on the packed
        /// tensor: per input channel, which is what the plan keeps (bits: the spike modes; codes: the indicator mode summed
        /// over H and W, or over everything).
        /// </summary>
        public static bool CountsPacked(SynapticLayerPlan plan, PackedValue value) => value.IsCodes
            ? plan.Mode == SynapticCountMode.Indicator && plan.RowFanOut != null && plan.ColumnFanOut != null && plan.KeptShape.Length <= 1 && plan.HostScale == 1
            : plan.Mode is SynapticCountMode.SpikeChannels or SynapticCountMode.SpikeRows;

        /// <summary>
        /// True when the SpikeConvMt node that fuses a convolution reading <paramref name="value"/> can count its synaptic
        /// operations while it gathers them: codes counted per sample over everything (the events under every output pixel's
        /// taps are Σ f_h·f_w over the input's spikes; times the output channels, the plan's count).
        /// </summary>
        public static bool CountsInKernel(SynapticLayerPlan plan, PackedValue value) => value.IsCodes && CountsPacked(plan, value) && plan.KeptShape.Length == 0;

        /// <summary>SpikeFanOut or CodeFanOut: the synaptic operations of a convolution reading a packed value (<see cref="CountsPacked"/>).</summary>
        public static void FanOut(OnnxGraphBuilder b, SynapticLayerPlan plan, PackedValue value, string output)
        {
            // Bits: the plan's host factor holds the out channels per group; codes (indicator mode): F itself, so f_h carries them.
            float[] rows = value.IsCodes ? plan.RowFanOut!.Select(f => f * plan.ChannelFanOut).ToArray() : plan.RowFanOut!;
            string[] inputs = { value.Tensor, b.Initializer("fanout_h", new[] { rows.Length }, rows), b.Initializer("fanout_w", new[] { plan.ColumnFanOut!.Length }, plan.ColumnFanOut) };
            if (value.IsCodes && plan.KeptShape.Length == 0)
            {
                string perChannel = b.Fresh("fanout_c");
                b.CustomNode(NativeKernels.Domain, "CodeFanOut", inputs, new[] { perChannel }, Attr("channels", (long)value.Shape[0]));
                b.Node("ReduceSum", new[] { perChannel, b.Ints(1) }, output, Attr("keepdims", 0L));
            }
            else
            {
                b.CustomNode(NativeKernels.Domain, value.IsCodes ? "CodeFanOut" : "SpikeFanOut", inputs, new[] { output }, Attr("channels", (long)value.Shape[0]));
            }
            b.AddOutput(output, Batched("KB", plan.KeptShape));
        }
    }
}
