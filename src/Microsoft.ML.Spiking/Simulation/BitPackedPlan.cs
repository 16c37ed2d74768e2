// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>Whether a chunk graph passes spikes packed (<see cref="BitPackedPlan"/>), and with which kernel.</summary>
    internal enum BitPacking
    {
        /// <summary>Spikes are floats; convolutions are ONNX Runtime's.</summary>
        None,

        /// <summary>Packed, with the fastest kernel the CPU runs (AVX-512 where available).</summary>
        Native,

        /// <summary>Packed, with the portable kernel whatever the CPU (tests compare it with the AVX-512 one).</summary>
        Portable,
    }

    /// <summary>
    /// Which neurons of a network pass their spikes packed (native kernels, <c>Native/bit_kernels.h</c> and
    /// <c>code_kernels.h</c>), and which are fused with the convolutions that drive them. Rate coding: an IF neuron's
    /// spikes are bits [K·B, H, W, ⌈C/64⌉] (uint64, bit c set when channel c fired), and an IF neuron whose input is a
    /// convolution of spikes, optionally plus spikes or a second convolution of spikes (a residual block), becomes one
    /// <c>SpikeConvIf</c> node: per tap and group of four input channels a table holds the 16 possible partial sums
    /// (the source's θ folded in), and each output pixel runs the chunk's K steps with its membranes in registers.
    /// Differential coding: a multi-threshold neuron's spikes (0 or ±θ·2^−k) are 4-bit codes [K·B, H, W, ⌈C/16⌉], and the
    /// same pattern becomes one <c>SpikeConvMt</c> node that visits only the non-zero codes. Neurons whose spikes feed
    /// such a node but whose own input is of another form pack them after their usual kernel (<c>IfPack</c>,
    /// <c>SpikeEncode</c>); other readers of a packed value get floats back. The convolutions add their terms in another
    /// order than ONNX Runtime's, so potentials agree with the standard lowering to float rounding.
    /// </summary>
    internal sealed class BitPackedPlan
    {
        /// <summary>Largest table one convolution may have (4 × the weights for bits, 1 × for codes, padded): beyond it the dense convolution is kept.</summary>
        public const long MaxTableBytes = 64L << 20;

        /// <summary>
        /// Largest total of a <c>SpikeConvMt</c> node's scaled row tables (<see cref="ScaledRowTable"/>, 2·levels rows per
        /// input channel): up to it, an event of the kernel is one added row; beyond it (the table would leave the core's
        /// second-level cache) the kernel multiplies one row per channel by the code's factor.
        /// </summary>
        public const long MaxScaledTableBytes = 128L << 10;

        /// <summary>Most taps (kernel height × width) of a fused convolution (<c>kMaxTaps</c> of the kernels).</summary>
        public const int MaxTaps = 64;

        /// <summary>Most threshold levels of a multi-threshold neuron whose spikes are codes (<c>kMaxCodeLevels</c>).</summary>
        public const int MaxCodeLevels = 7;

        private readonly Dictionary<string, FusedNeuron> _fused = new Dictionary<string, FusedNeuron>(StringComparer.Ordinal);
        private readonly Dictionary<string, FusedPool> _pools = new Dictionary<string, FusedPool>(StringComparer.Ordinal);
        private readonly HashSet<string> _absorbed = new HashSet<string>(StringComparer.Ordinal);
        private readonly HashSet<string> _pooled = new HashSet<string>(StringComparer.Ordinal);
        private readonly HashSet<string> _packed = new HashSet<string>(StringComparer.Ordinal);

        private BitPackedPlan(bool differential)
        {
            Differential = differential;
        }

        /// <summary>True for codes of multi-threshold neurons (differential coding), false for bits of IF neurons.</summary>
        public bool Differential { get; }

        /// <summary>Neurons lowered to <c>SpikeConvIf</c> or <c>SpikeConvMt</c>.</summary>
        public int FusedCount => _fused.Count;

        /// <summary>One fused neuron: its convolution sources (one or two) and its residual spikes (or null).</summary>
        internal sealed record FusedNeuron(SpikingNeuronLayer Neuron, IReadOnlyList<ConvLayer> Convolutions, SpikingNeuronLayer? Residual);

        /// <summary>A differential max-pool neuron lowered with the convolution of codes that feeds it (<c>SpikeConvPool</c>).</summary>
        internal sealed record FusedPool(MaxPoolNeuronLayer Pool, ConvLayer Convolution);

        /// <summary>Most map pixels in a window of a fused max-pool neuron (<c>kMaxPoolWindow</c>).</summary>
        public const int MaxPoolWindow = 9;

        /// <summary>The plan for a network of the given coding, or null when no neuron can be fused.</summary>
        public static BitPackedPlan? Create(Network network, bool differential)
        {
            var plan = new BitPackedPlan(differential);
            foreach (SpikingNeuronLayer neuron in network.Layers.OfType<SpikingNeuronLayer>())
            {
                FusedNeuron? fused = plan.Match(network, neuron);
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
                    if (plan.SpikePool(network, conv) is PoolLayer pool)
                    {
                        plan._pooled.Add(pool.Name);
                        plan._packed.Add(pool.Inputs[0]);
                    }
                }
                if (fused.Residual != null)
                {
                    plan._packed.Add(fused.Residual.Output);
                }
            }
            foreach (MaxPoolNeuronLayer pool in differential ? network.Layers.OfType<MaxPoolNeuronLayer>() : Enumerable.Empty<MaxPoolNeuronLayer>())
            {
                if (network.GetProducer(pool.Inputs[0]) is ConvLayer conv && OnlyFeeds(network, conv, pool) && pool.Pool.Kernel.Length == 2
                    && pool.Pool.Kernel[0] * pool.Pool.Kernel[1] <= MaxPoolWindow && network.GetShape(conv.Output).Length == 3
                    && (pool.Bias == null || pool.Bias.Length == ShapeUtil.Size(network.GetShape(conv.Output)))
                    && plan.Convolvable(network, conv, network.GetShape(conv.Output), null))
                {
                    plan._pools[pool.Name] = new FusedPool(pool, conv);
                    plan._absorbed.Add(conv.Name);
                    plan._packed.Add(conv.Inputs[0]);
                }
            }
            return plan._fused.Count == 0 && plan._pools.Count == 0 ? null : plan;
        }

        /// <summary>The fused form of a max-pool neuron (with its convolution), or null.</summary>
        public FusedPool? Pool(Layer layer) => _pools.TryGetValue(layer.Name, out FusedPool? f) ? f : null;

        /// <summary>True for a convolution or addition that a fused neuron (or max-pool neuron) computes itself.</summary>
        public bool IsAbsorbed(Layer layer) => _absorbed.Contains(layer.Name);

        /// <summary>True for a max-pooling of IF spikes that runs on their bits (<c>SpikeMaxPool</c>) for a fused convolution to read.</summary>
        public bool PoolsBits(Layer layer) => _pooled.Contains(layer.Name);

        /// <summary>The fused form of a neuron, or null.</summary>
        public FusedNeuron? Fused(Layer layer) => _fused.TryGetValue(layer.Name, out FusedNeuron? f) ? f : null;

        /// <summary>True for a neuron whose spikes a fused neuron reads packed (it is fused itself or packs them after its kernel).</summary>
        public bool IsPacked(Layer layer) => _fused.ContainsKey(layer.Name) || _packed.Contains(layer.Output);

        /// <summary>
        /// A neuron whose spikes can be packed: [C, H, W], θ one value or one per channel, positive and finite; an IF neuron
        /// under rate coding, a differential multi-threshold neuron of at most <see cref="MaxCodeLevels"/> levels (all of
        /// the plan's with as many levels as <paramref name="levels"/>, when given) under differential coding.
        /// </summary>
        private bool Packable(Network network, Layer? layer, int? levels = null)
        {
            if (layer is not SpikingNeuronLayer neuron || network.GetShape(neuron.Output).Length != 3 || PerChannel(neuron.Threshold, network.GetShape(neuron.Output)[0]) == null)
            {
                return false;
            }
            return Differential
                ? neuron is MultiThresholdNeuronLayer { Differential: true } mt && mt.Levels <= MaxCodeLevels && (levels == null || mt.Levels == levels)
                : neuron is IfNeuronLayer;
        }

        private static float[]? PerChannel(float[] theta, int channels)
        {
            if (!theta.All(t => t > 0 && float.IsFinite(t)) || (theta.Length != 1 && theta.Length != channels))
            {
                return null;
            }
            return theta.Length == 1 ? Enumerable.Repeat(theta[0], channels).ToArray() : theta;
        }

        private FusedNeuron? Match(Network network, SpikingNeuronLayer neuron)
        {
            int[] shape = network.GetShape(neuron.Output);
            if (!Packable(network, neuron))
            {
                return null;
            }
            int? levels = neuron is MultiThresholdNeuronLayer mt ? mt.Levels : null;
            if (neuron is MultiThresholdNeuronLayer { Bias: float[] bias } && bias.Length != ShapeUtil.Size(shape))
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
                return Convolvable(network, single, shape, levels) ? new FusedNeuron(neuron, new[] { single }, null) : null;
            }
            if (input is not BinaryLayer { Op: BinaryOp.Add } add || add.Inputs.Count != 2 || add.Inputs[0] == add.Inputs[1])
            {
                return null;
            }
            var convolutions = new List<ConvLayer>();
            SpikingNeuronLayer? residual = null;
            foreach (string operand in add.Inputs)
            {
                Layer? producer = network.GetProducer(operand);
                if (producer is ConvLayer conv && OnlyFeeds(network, conv, add) && Convolvable(network, conv, shape, levels))
                {
                    convolutions.Add(conv);
                }
                else if (residual == null && Packable(network, producer, levels) && network.GetShape(operand).SequenceEqual(shape))
                {
                    residual = (SpikingNeuronLayer)producer!;
                }
                else
                {
                    return null;
                }
            }
            return convolutions.Count == 0 ? null : new FusedNeuron(neuron, convolutions, residual);
        }

        /// <summary>A 2-D convolution of packable spikes, one group, no dilation, at most <see cref="MaxTaps"/> taps, producing exactly the neuron's shape, with a table of bounded size.</summary>
        private bool Convolvable(Network network, ConvLayer conv, int[] shape, int? levels)
        {
            if (conv.Weight.Shape.Length != 4 || conv.Group != 1 || conv.Dilations.Any(d => d != 1) || !network.GetShape(conv.Output).SequenceEqual(shape)
                || conv.Weight.Shape[2] * conv.Weight.Shape[3] > MaxTaps)
            {
                return false;
            }
            Layer? source = network.GetProducer(conv.Inputs[0]);
            if (SpikePool(network, conv) is PoolLayer pool)
            {
                source = network.GetProducer(pool.Inputs[0]);
            }
            if (!Packable(network, source, levels))
            {
                return false;
            }
            long rows = Differential ? conv.Weight.Shape[1] : (conv.Weight.Shape[1] + 3) / 4 * 16L;
            long bytes = (long)conv.Weight.Shape[2] * conv.Weight.Shape[3] * rows * Padded(conv.OutChannels) * sizeof(float);
            return bytes <= MaxTableBytes;
        }

        /// <summary>
        /// Rate coding: the max-pooling that <paramref name="conv"/> reads when it pools IF spikes with windows that tile the map
        /// (kernel = strides, no padding, floor mode), so that it can run on their bits; else null.
        /// </summary>
        private PoolLayer? SpikePool(Network network, ConvLayer conv) =>
            !Differential && network.GetProducer(conv.Inputs[0]) is PoolLayer { Kind: PoolKind.Max, CeilMode: false } pool && pool.Kernel.Length == 2
                && pool.Kernel.SequenceEqual(pool.Strides) && pool.Pads.All(p => p == 0) && network.GetProducer(pool.Inputs[0]) is IfNeuronLayer
                ? pool : null;

        /// <summary>True when <paramref name="layer"/>'s output is read by <paramref name="consumer"/> only (and is not the network output).</summary>
        private static bool OnlyFeeds(Network network, Layer layer, Layer consumer) =>
            layer.Output != network.OutputName && network.GetConsumers(layer.Output).All(c => ReferenceEquals(c, consumer));

        /// <summary>Channels rounded up to the 16 lanes of the kernels' vectors.</summary>
        public static int Padded(int channels) => (channels + 15) / 16 * 16;

        /// <summary>θ per channel of a packable neuron.</summary>
        public static float[] ChannelThresholds(SpikingNeuronLayer neuron, int channels) =>
            PerChannel(neuron.Threshold, channels) ?? throw new InvalidOperationException($"Neuron '{neuron.Name}' has no per-channel threshold.");

        /// <summary>
        /// The nibble table of a convolution whose input bits carry amplitude θ_in per channel: [kh·kw, ⌈C_in/4⌉, 16,
        /// padded C_out], entry (tap, g, idx, o) = Σ over the set bits b of idx of W[o, 4g + b, tap]·θ_in[4g + b].
        /// </summary>
        public static float[] NibbleTable(ConvLayer conv, float[] inputThresholds)
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

        /// <summary>The row table of a convolution whose input codes carry θ_in per channel: [kh·kw, C_in, padded C_out], entry W[o, c, tap]·θ_in[c].</summary>
        public static float[] RowTable(ConvLayer conv, float[] inputThresholds)
        {
            int outChannels = conv.Weight.Shape[0];
            int inChannels = conv.Weight.Shape[1];
            int taps = conv.Weight.Shape[2] * conv.Weight.Shape[3];
            int padded = Padded(outChannels);
            float[] w = conv.Weight.Data;
            var table = new float[(long)taps * inChannels * padded];
            for (int tap = 0; tap < taps; tap++)
            {
                for (int c = 0; c < inChannels; c++)
                {
                    for (int o = 0; o < outChannels; o++)
                    {
                        table[((long)tap * inChannels + c) * padded + o] = w[((long)o * inChannels + c) * taps + tap] * inputThresholds[c];
                    }
                }
            }
            return table;
        }

        /// <summary>
        /// The scaled row table of a convolution whose input codes carry θ_in per channel and the factors ±2^−k:
        /// [kh·kw, C_in, 2·levels, padded C_out], slot k (code 1 + k) the row of <see cref="RowTable"/> times scale[k] and
        /// slot levels + k (code 9 + k) times −scale[k]. The factors are powers of two, so each entry is the product the
        /// unscaled kernel forms exactly, and an added row gives its multiply-add's result.
        /// </summary>
        public static float[] ScaledRowTable(ConvLayer conv, float[] inputThresholds, float[] scales)
        {
            float[] rows = RowTable(conv, inputThresholds);
            int padded = Padded(conv.OutChannels);
            int levels = scales.Length;
            long channelRows = rows.Length / padded;
            var table = new float[channelRows * 2 * levels * padded];
            for (long r = 0; r < channelRows; r++)
            {
                for (int slot = 0; slot < 2 * levels; slot++)
                {
                    float factor = slot < levels ? scales[slot] : -scales[slot - levels];
                    long to = (r * 2 * levels + slot) * padded;
                    for (int o = 0; o < padded; o++)
                    {
                        table[to + o] = rows[r * padded + o] * factor;
                    }
                }
            }
            return table;
        }

        /// <summary>Bytes of a convolution's scaled row table (<see cref="ScaledRowTable"/>).</summary>
        public static long ScaledTableBytes(ConvLayer conv, int levels)
            => (long)conv.Weight.Shape[2] * conv.Weight.Shape[3] * conv.Weight.Shape[1] * 2 * levels * Padded(conv.OutChannels) * sizeof(float);

        /// <summary>A per-channel vector padded to the kernels' lanes with <paramref name="fill"/>.</summary>
        public static float[] PadChannels(float[] values, float fill)
        {
            var padded = new float[Padded(values.Length)];
            Array.Fill(padded, fill);
            Array.Copy(values, padded, values.Length);
            return padded;
        }

        /// <summary>Per-element values [C, H, W] laid out [H, W, padded C] (the fused kernels' state layout), padding with <paramref name="fill"/>.</summary>
        public static float[] ToPixelMajor(float[] values, int[] shape, float fill)
        {
            int channels = shape[0];
            int pixels = shape[1] * shape[2];
            int padded = Padded(channels);
            var result = new float[pixels * padded];
            Array.Fill(result, fill);
            for (int c = 0; c < channels; c++)
            {
                for (int p = 0; p < pixels; p++)
                {
                    result[p * padded + c] = values[c * pixels + p];
                }
            }
            return result;
        }
    }
}
