// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>Whether a chunk graph passes spikes as bits (<see cref="BitPackedPlan"/>), and with which kernel.</summary>
    internal enum BitPacking
    {
        /// <summary>Spikes are floats; convolutions are ONNX Runtime's.</summary>
        None,

        /// <summary>Bits, with the fastest kernel the CPU runs (AVX-512 where available).</summary>
        Native,

        /// <summary>Bits, with the portable kernel whatever the CPU (tests compare it with the AVX-512 one).</summary>
        Portable,
    }

    /// <summary>
    /// Bit-packed lowering of a rate-coded IF network (native kernels, <c>Native/bit_kernels.h</c>). A spike tensor is
    /// passed between layers as bits [K·B, H, W, words] (uint64; bit c of a pixel set when channel c fired), and an IF
    /// neuron whose input is a convolution of spikes, optionally plus spikes or a second convolution of spikes (a
    /// residual block), becomes one <c>SpikeConvIf</c> node: per tap and group of four input channels a table holds
    /// the 16 possible partial sums (the source neuron's θ folded in), and each output pixel runs the K steps of the
    /// chunk with its membrane potentials in registers. Neurons whose spikes feed such a node but whose own input is
    /// not of that form pack their spikes with <c>IfPack</c>; any other reader of a packed value gets floats back
    /// from <c>SpikeUnpack</c>. The convolution's sum is formed in another order than ONNX Runtime's, so potentials
    /// agree with the standard lowering to float rounding.
    /// </summary>
    internal sealed class BitPackedPlan
    {
        /// <summary>Largest table one convolution may have (4 × the weights, padded): beyond it the dense convolution is kept.</summary>
        public const long MaxTableBytes = 64L << 20;

        /// <summary>Most taps (kernel height × width) of a fused convolution (<c>kMaxTaps</c> of the kernel).</summary>
        public const int MaxTaps = 64;

        private readonly Dictionary<string, FusedNeuron> _fused = new Dictionary<string, FusedNeuron>(StringComparer.Ordinal);
        private readonly HashSet<string> _absorbed = new HashSet<string>(StringComparer.Ordinal);
        private readonly HashSet<string> _packed = new HashSet<string>(StringComparer.Ordinal);

        private BitPackedPlan()
        {
        }

        /// <summary>Neurons lowered to <c>SpikeConvIf</c>.</summary>
        public int FusedCount => _fused.Count;

        /// <summary>One fused neuron: its convolution sources (one or two) and its residual spikes (or null).</summary>
        internal sealed record FusedNeuron(IfNeuronLayer Neuron, IReadOnlyList<ConvLayer> Convolutions, IfNeuronLayer? Residual);

        /// <summary>The plan for a rate-coded network, or null when no neuron can be fused.</summary>
        public static BitPackedPlan? Create(Network network)
        {
            var plan = new BitPackedPlan();
            foreach (IfNeuronLayer neuron in network.Layers.OfType<IfNeuronLayer>())
            {
                FusedNeuron? fused = Match(network, neuron);
                if (fused == null)
                {
                    continue;
                }
                plan._fused[neuron.Name] = fused;
                Layer input = network.GetProducer(neuron.Inputs[0])!;
                if (input is BinaryLayer)
                {
                    plan._absorbed.Add(input.Name);
                }
                foreach (ConvLayer conv in fused.Convolutions)
                {
                    plan._absorbed.Add(conv.Name);
                    plan._packed.Add(conv.Inputs[0]);
                }
                if (fused.Residual != null)
                {
                    plan._packed.Add(fused.Residual.Output);
                }
            }
            return plan._fused.Count == 0 ? null : plan;
        }

        /// <summary>True for a convolution or addition that a fused neuron computes itself.</summary>
        public bool IsAbsorbed(Layer layer) => _absorbed.Contains(layer.Name);

        /// <summary>The fused form of a neuron, or null.</summary>
        public FusedNeuron? Fused(Layer layer) => _fused.TryGetValue(layer.Name, out FusedNeuron? f) ? f : null;

        /// <summary>True for an IF neuron whose spikes a fused neuron reads as bits (it is fused itself or packs them with IfPack).</summary>
        public bool IsPacked(Layer layer) => _fused.ContainsKey(layer.Name) || _packed.Contains(layer.Output);

        /// <summary>An IF neuron whose spikes can be bits: [C, H, W], θ one value or one per channel, positive and finite.</summary>
        private static bool Packable(Network network, Layer? layer) =>
            layer is IfNeuronLayer n && network.GetShape(n.Output).Length == 3 && PerChannel(n.Threshold, network.GetShape(n.Output)[0]) != null;

        private static float[]? PerChannel(float[] theta, int channels)
        {
            if (!theta.All(t => t > 0 && float.IsFinite(t)) || (theta.Length != 1 && theta.Length != channels))
            {
                return null;
            }
            return theta.Length == 1 ? Enumerable.Repeat(theta[0], channels).ToArray() : theta;
        }

        private static FusedNeuron? Match(Network network, IfNeuronLayer neuron)
        {
            int[] shape = network.GetShape(neuron.Output);
            if (shape.Length != 3 || PerChannel(neuron.Threshold, shape[0]) == null)
            {
                return null;
            }
            Layer? input = network.GetProducer(neuron.Inputs[0]);
            if (input == null || !OnlyFeeds(network, input, neuron))
            {
                return null;
            }
            if (input is ConvLayer single)
            {
                return Convolvable(network, single, shape) ? new FusedNeuron(neuron, new[] { single }, null) : null;
            }
            if (input is not BinaryLayer { Op: BinaryOp.Add } add || add.Inputs.Count != 2 || add.Inputs[0] == add.Inputs[1])
            {
                return null;
            }
            var convolutions = new List<ConvLayer>();
            IfNeuronLayer? residual = null;
            foreach (string operand in add.Inputs)
            {
                Layer? producer = network.GetProducer(operand);
                if (producer is ConvLayer conv && OnlyFeeds(network, conv, add) && Convolvable(network, conv, shape))
                {
                    convolutions.Add(conv);
                }
                else if (residual == null && Packable(network, producer) && network.GetShape(operand).SequenceEqual(shape))
                {
                    residual = (IfNeuronLayer)producer!;
                }
                else
                {
                    return null;
                }
            }
            return convolutions.Count == 0 ? null : new FusedNeuron(neuron, convolutions, residual);
        }

        /// <summary>A 2-D convolution of packable spikes, one group, no dilation, at most <see cref="MaxTaps"/> taps, producing exactly the neuron's shape, with a table of bounded size.</summary>
        private static bool Convolvable(Network network, ConvLayer conv, int[] shape)
        {
            if (conv.Weight.Shape.Length != 4 || conv.Group != 1 || conv.Dilations.Any(d => d != 1) || !network.GetShape(conv.Output).SequenceEqual(shape)
                || conv.Weight.Shape[2] * conv.Weight.Shape[3] > MaxTaps)
            {
                return false;
            }
            if (!Packable(network, network.GetProducer(conv.Inputs[0])))
            {
                return false;
            }
            long groups = (conv.Weight.Shape[1] + 3) / 4;
            long bytes = (long)conv.Weight.Shape[2] * conv.Weight.Shape[3] * groups * 16 * Padded(conv.OutChannels) * sizeof(float);
            return bytes <= MaxTableBytes;
        }

        /// <summary>True when <paramref name="layer"/>'s output is read by <paramref name="consumer"/> only (and is not the network output).</summary>
        private static bool OnlyFeeds(Network network, Layer layer, Layer consumer) =>
            layer.Output != network.OutputName && network.GetConsumers(layer.Output).All(c => ReferenceEquals(c, consumer));

        /// <summary>Channels rounded up to the 16 lanes of the kernel's vectors.</summary>
        public static int Padded(int channels) => (channels + 15) / 16 * 16;

        /// <summary>Words of 64 bits per pixel.</summary>
        public static int Words(int channels) => (channels + 63) / 64;

        /// <summary>θ per channel of a packable neuron.</summary>
        public static float[] ChannelThresholds(IfNeuronLayer neuron, int channels) =>
            PerChannel(neuron.Threshold, channels) ?? throw new InvalidOperationException($"Neuron '{neuron.Name}' has no per-channel threshold.");

        /// <summary>
        /// The lookup table of a convolution whose input spikes carry amplitude θ_in per channel: [kh·kw, ⌈C_in/4⌉, 16,
        /// padded C_out], entry (tap, g, idx, o) = Σ over the set bits b of idx of W[o, 4g + b, tap]·θ_in[4g + b].
        /// </summary>
        public static float[] Table(ConvLayer conv, float[] inputThresholds)
        {
            int outChannels = conv.Weight.Shape[0];
            int inChannels = conv.Weight.Shape[1];
            int taps = conv.Weight.Shape[2] * conv.Weight.Shape[3];
            int groups = (inChannels + 3) / 4;
            int padded = Padded(outChannels);
            float[] w = conv.Weight.Data;
            var table = new float[(long)taps * groups * 16 * padded];
            for (int tap = 0; tap < taps; tap++)
            {
                for (int g = 0; g < groups; g++)
                {
                    for (int idx = 0; idx < 16; idx++)
                    {
                        long row = (((long)tap * groups + g) * 16 + idx) * padded;
                        for (int o = 0; o < outChannels; o++)
                        {
                            float sum = 0f;
                            for (int bit = 0; bit < 4; bit++)
                            {
                                int c = 4 * g + bit;
                                if ((idx >> bit & 1) != 0 && c < inChannels)
                                {
                                    sum += w[((long)o * inChannels + c) * taps + tap] * inputThresholds[c];
                                }
                            }
                            table[row + o] = sum;
                        }
                    }
                }
            }
            return table;
        }

        /// <summary>A per-channel vector padded to the kernel's lanes with <paramref name="fill"/>.</summary>
        public static float[] PadChannels(float[] values, float fill)
        {
            var padded = new float[Padded(values.Length)];
            Array.Fill(padded, fill);
            Array.Copy(values, padded, values.Length);
            return padded;
        }
    }

    /// <summary>Emits the nodes of a <see cref="BitPackedPlan"/> into a chunk graph.</summary>
    internal static class BitPackedEmitters
    {
        /// <summary>A packed spike value: the bits tensor, its neuron's θ per channel and its per-sample shape [C, H, W].</summary>
        internal sealed record PackedValue(string Bits, float[] Theta, int[] Shape);

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
            return new PackedValue(bits, BitPackedPlan.ChannelThresholds(neuron, shape[0]), shape);
        }

        /// <summary>SpikeConvIf: the fused neuron's convolutions, residual and IF dynamics; its state is laid out [H, W, padded C].</summary>
        public static PackedValue SpikeConvIf(ChunkContext ctx, BitPackedPlan.FusedNeuron fused, int[] shape, Func<string, PackedValue> packed, string countName, bool portable)
        {
            OnnxGraphBuilder b = ctx.Builder;
            IfNeuronLayer neuron = fused.Neuron;
            int channels = shape[0];
            int padded = BitPackedPlan.Padded(channels);
            float[] theta = BitPackedPlan.ChannelThresholds(neuron, channels);
            var inputs = new string[9];
            var attributes = new List<Onnx.Proto.AttributeProto>
            {
                Attr("steps", (long)ctx.Steps),
                Attr("reset_to_zero", neuron.Reset == ResetMode.Zero ? 1L : 0L),
                Attr("channels", (long)channels),
                Attr("portable", portable ? 1L : 0L),
            };
            var bias = new float[padded];
            for (int s = 0; s < fused.Convolutions.Count; s++)
            {
                ConvLayer conv = fused.Convolutions[s];
                PackedValue source = packed(conv.Inputs[0]);
                inputs[2 * s] = source.Bits;
                float[] table = BitPackedPlan.Table(conv, source.Theta);
                inputs[2 * s + 1] = b.Initializer("conv_table", new[] { table.Length }, table);
                attributes.Add(Attr(s == 0 ? "geometry_a" : "geometry_b", new[] { conv.Weight.Shape[2], conv.Weight.Shape[3], conv.Strides[0], conv.Strides[1], conv.Pads[0], conv.Pads[1] }));
                for (int o = 0; conv.Bias != null && o < channels; o++)
                {
                    bias[o] += conv.Bias[o];
                }
            }
            if (fused.Residual != null)
            {
                PackedValue residual = packed(fused.Residual.Output);
                inputs[4] = residual.Bits;
                inputs[5] = b.Initializer("residual_theta", new[] { padded }, BitPackedPlan.PadChannels(residual.Theta, 0f));
            }
            inputs[6] = b.Initializer("bias", new[] { padded }, bias);
            inputs[7] = b.Initializer("theta", new[] { padded }, BitPackedPlan.PadChannels(theta, float.PositiveInfinity));
            int height = shape[1];
            int width = shape[2];
            var initial = new float[height * width * padded];
            for (int p = 0; p < height * width; p++)
            {
                for (int c = 0; c < channels; c++)
                {
                    initial[p * padded + c] = theta[c] * neuron.InitialMembrane;
                }
            }
            string v = ctx.BeginState("membrane_hwc", new[] { height, width, padded }, initial, channels);
            inputs[8] = v;
            string bits = b.Fresh("conv_bits");
            b.CustomNode(NativeKernels.Domain, "SpikeConvIf", inputs.Select(i => i ?? string.Empty), new[] { bits, ctx.StateOutput(v), countName }, attributes.ToArray());
            b.AddOutput(countName, new[] { "KB" });
            return new PackedValue(bits, theta, shape);
        }

        /// <summary>SpikeUnpack: the floats [K·B, C, H, W] of a packed value (θ_c where a spike is, else 0), as the standard lowering has them.</summary>
        public static string Unpack(OnnxGraphBuilder b, PackedValue value)
        {
            string output = b.Fresh("unpacked");
            b.CustomNode(NativeKernels.Domain, "SpikeUnpack", new[] { value.Bits, b.Initializer("theta_c", new[] { value.Theta.Length }, value.Theta) }, new[] { output },
                Attr("channels", (long)value.Shape[0]));
            return output;
        }

        /// <summary>SpikeFanOut: the synaptic operations of a convolution reading a packed value, per row and input channel (the plan's spike modes).</summary>
        public static void FanOut(OnnxGraphBuilder b, SynapticLayerPlan plan, PackedValue value, string output)
        {
            b.CustomNode(NativeKernels.Domain, "SpikeFanOut",
                new[] { value.Bits, b.Initializer("fanout_h", new[] { plan.RowFanOut!.Length }, plan.RowFanOut), b.Initializer("fanout_w", new[] { plan.ColumnFanOut!.Length }, plan.ColumnFanOut) },
                new[] { output }, Attr("channels", (long)value.Shape[0]));
            b.AddOutput(output, Batched("KB", plan.KeptShape));
        }
    }
}
