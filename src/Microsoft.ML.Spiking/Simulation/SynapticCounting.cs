// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>How the chunk graph counts the synaptic operations of one layer.</summary>
    internal enum SynapticCountMode
    {
        /// <summary>
        /// Any input: Where(x = 0, 0, F) summed over the trailing <see cref="SynapticLayerPlan.ReducedAxes"/> axes
        /// (three passes over the input: compare, select, sum).
        /// </summary>
        Indicator,

        /// <summary>
        /// A convolution reading spikes (every value exactly 0 or θ_c of its channel, θ_c &gt; 0): per channel,
        /// Σ_hw F_hw·x / θ_c, rounded, by one read-only MatMul over each channel's H·W values.
        /// </summary>
        SpikeChannels,

        /// <summary>As <see cref="SpikeChannels"/> with the MatMul over each row's W values, for maps too large to round exactly per channel.</summary>
        SpikeRows,

        /// <summary>
        /// The product unit A@B of differential coding (§2.12): 1(A_t≠0)@1(B_t≠0) + 1(A_t≠0)@1(B̄≠0) + 1(Ā≠0)@1(B_t≠0),
        /// summed, with Ā, B̄ the operands' rates before step t; counted by the unit's emitter, one value per row.
        /// </summary>
        Product,
    }

    /// <summary>
    /// How the synaptic operations (algorithms.md §2.12) of one convolution or dense layer are counted in the
    /// chunk graph. SOP_t = Σ over input elements of 1[x_t ≠ 0] × F, where the fan-out F of an element is the
    /// number of (output channel, output position) pairs that read it: the convolution of the indicator with an
    /// all-ones kernel, summed. The graph leaves exact integer partial sums ([K·B, <see cref="KeptShape"/>]); the
    /// host adds them in 64-bit integers and multiplies by <see cref="HostScale"/>.
    /// </summary>
    internal sealed class SynapticLayerPlan
    {
        private SynapticLayerPlan(string name, int[] inputShape, SynapticCountMode mode, int[] keptShape, long hostScale, long denseMacs)
        {
            Name = name;
            InputShape = inputShape;
            Mode = mode;
            KeptShape = keptShape;
            KeptSize = ShapeUtil.Size(keptShape);
            HostScale = hostScale;
            DenseMacs = denseMacs;
        }

        /// <summary>The layer's name.</summary>
        public string Name { get; }

        /// <summary>Per-sample shape of the layer's input.</summary>
        public int[] InputShape { get; }

        /// <summary>How the graph counts.</summary>
        public SynapticCountMode Mode { get; }

        /// <summary>Per-sample axes the graph leaves for the host to sum.</summary>
        public int[] KeptShape { get; }

        /// <summary>Values per row of the graph output (product of <see cref="KeptShape"/>).</summary>
        public int KeptSize { get; }

        /// <summary>Factor the host applies to the device sums.</summary>
        public long HostScale { get; }

        /// <summary>TOT: the layer's dense multiply-accumulates per sample and step, Σ F (taps on zero padding excluded).</summary>
        public long DenseMacs { get; }

        /// <summary>Indicator mode: F laid out like the per-sample input, or null when F is uniform (a dense layer) and folded into <see cref="HostScale"/>.</summary>
        public float[]? FanOut { get; private set; }

        /// <summary>Indicator mode: trailing per-sample axes summed in the graph.</summary>
        public int ReducedAxes { get; private set; }

        /// <summary>Spike modes: θ_c per input channel.</summary>
        public float[]? Thresholds { get; private set; }

        /// <summary>Spike modes and convolutions in indicator mode: f_h, the output rows reading each input row.</summary>
        public float[]? RowFanOut { get; private set; }

        /// <summary>Spike modes and convolutions in indicator mode: f_w, the output columns reading each input column.</summary>
        public float[]? ColumnFanOut { get; private set; }

        public static SynapticLayerPlan Indicator(string name, int[] inputShape, float[]? fanOut, long hostScale, int reducedAxes, long denseMacs,
            float[]? rowFanOut = null, float[]? columnFanOut = null, long channelFanOut = 1) =>
            new SynapticLayerPlan(name, inputShape, SynapticCountMode.Indicator, inputShape.Take(inputShape.Length - reducedAxes).ToArray(), hostScale, denseMacs)
            {
                FanOut = fanOut,
                ReducedAxes = reducedAxes,
                RowFanOut = rowFanOut,
                ColumnFanOut = columnFanOut,
                ChannelFanOut = channelFanOut,
            };

        /// <summary>Out channels per group of a convolution (F = that × f_h × f_w); 1 for other layers.</summary>
        public long ChannelFanOut { get; private init; } = 1;

        public static SynapticLayerPlan Product(string name, int[] leftShape, long denseMacs) =>
            new SynapticLayerPlan(name, leftShape, SynapticCountMode.Product, Array.Empty<int>(), 1, denseMacs);

        public static SynapticLayerPlan Spikes(string name, int[] inputShape, SynapticCountMode mode, float[] thresholds, float[] rowFanOut, float[] columnFanOut, long perGroup, long denseMacs) =>
            new SynapticLayerPlan(name, inputShape, mode, new[] { inputShape[0] }, perGroup, denseMacs)
            {
                Thresholds = thresholds,
                RowFanOut = rowFanOut,
                ColumnFanOut = columnFanOut,
            };
    }

    /// <summary>Builds the <see cref="SynapticLayerPlan"/> of every convolution and dense layer.</summary>
    internal static class SynapticCounting
    {
        /// <summary>Largest integer up to which every integer is exact in float32.</summary>
        public const long ExactFloatLimit = 1L << 24;

        /// <summary>
        /// Bound on n·S for a float32 sum of n spike terms θ·f with Σ f = S that is divided by θ and rounded: the
        /// rounding error of the sum is at most about n·S·2^-24 (in units of θ), so n·S ≤ 2^21 keeps it under 1/8.
        /// </summary>
        public const long SpikeSumLimit = 1L << 21;

        /// <summary>Plans for the convolution and dense layers of a network, in network order.</summary>
        /// <param name="network">The spiking network.</param>
        /// <param name="spikeModes">
        /// Allow the MatMul-based <see cref="SynapticCountMode.SpikeChannels"/> and <see cref="SynapticCountMode.SpikeRows"/>
        /// for convolutions reading spikes. Their exactness rests on float32 MatMul: true on the CPU provider; GPUs
        /// may run MatMul in TF32 (10-bit mantissa), so the simulator passes false there.
        /// </param>
        public static IReadOnlyList<SynapticLayerPlan> Plan(Network network, bool spikeModes = true)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            var plans = new List<SynapticLayerPlan>();

            // Values known to hold only 0 or θ_c of their channel: IF outputs [C,H,W], and max-pools of them.
            var spikeThresholds = new Dictionary<string, float[]>(StringComparer.Ordinal);
            foreach (Layer layer in network.Layers)
            {
                switch (layer)
                {
                    case IfNeuronLayer neuron:
                    {
                        int[] shape = network.GetShape(neuron.Output);
                        if (shape.Length == 3 && neuron.Threshold.All(t => t > 0 && float.IsFinite(t)) && (neuron.Threshold.Length == 1 || neuron.Threshold.Length == shape[0]))
                        {
                            spikeThresholds[neuron.Output] = neuron.Threshold.Length == 1 ? Enumerable.Repeat(neuron.Threshold[0], shape[0]).ToArray() : neuron.Threshold;
                        }
                        break;
                    }
                    case BitSerialNeuronLayer or ParallelNeuronLayer:
                    {
                        // Block neurons are counted on their spike planes, which hold 0 or 1 (θ = 1 for the count).
                        int[] shape = network.GetShape(layer.Output);
                        if (shape.Length == 3)
                        {
                            spikeThresholds[layer.Output] = Enumerable.Repeat(1f, shape[0]).ToArray();
                        }
                        break;
                    }
                    case PoolLayer { Kind: PoolKind.Max } pool when spikeThresholds.TryGetValue(pool.Inputs[0], out float[]? theta):
                        spikeThresholds[pool.Output] = theta;
                        break;
                    case ConvLayer conv:
                        plans.Add(PlanConv(network, conv, spikeModes && spikeThresholds.TryGetValue(conv.Inputs[0], out float[]? t) ? t : null));
                        break;
                    case GradedUnitLayer { Function: MatMulLayer } unit:
                    {
                        int[] left = network.GetShape(unit.Inputs[0]);
                        plans.Add(SynapticLayerPlan.Product(unit.Name, left, MatMulLayer.MacsPerSample(left, network.GetShape(unit.Output))));
                        break;
                    }
                    case DenseLayer dense:
                    {
                        // F is out-features everywhere: the graph counts the non-zero inputs (at most In,
                        // exact in float) and the host multiplies by out-features.
                        int[] input = network.GetShape(dense.Inputs[0]);
                        plans.Add(SynapticLayerPlan.Indicator(dense.Name, input, null, dense.OutFeatures, input.Length, ShapeUtil.Product(input) * dense.OutFeatures));
                        break;
                    }
                }
            }
            return plans;
        }

        private static SynapticLayerPlan PlanConv(Network network, ConvLayer conv, float[]? thresholds)
        {
            int[] input = network.GetShape(conv.Inputs[0]);
            int[] output = network.GetShape(conv.Output);
            long perGroup = conv.OutChannels / conv.Group;
            long[] rows = AxisFanOut(input[1], output[1], conv.Weight.Shape[2], conv.Strides[0], conv.Pads[0], conv.Dilations[0]);
            long[] columns = AxisFanOut(input[2], output[2], conv.Weight.Shape[3], conv.Strides[1], conv.Pads[1], conv.Dilations[1]);
            long rowSum = rows.Sum();
            long columnSum = columns.Sum();
            long macs = input[0] * perGroup * rowSum * columnSum;
            float[] fh = rows.Select(v => (float)v).ToArray();
            float[] fw = columns.Select(v => (float)v).ToArray();
            if (thresholds != null)
            {
                if ((long)input[1] * input[2] * rowSum * columnSum <= SpikeSumLimit)
                {
                    return SynapticLayerPlan.Spikes(conv.Name, input, SynapticCountMode.SpikeChannels, thresholds, fh, fw, perGroup, macs);
                }
                if ((long)input[2] * columnSum <= SpikeSumLimit && rowSum * columnSum <= ExactFloatLimit)
                {
                    return SynapticLayerPlan.Spikes(conv.Name, input, SynapticCountMode.SpikeRows, thresholds, fh, fw, perGroup, macs);
                }
            }
            float[] fanOut = ConvFanOut(conv, input, output);
            return SynapticLayerPlan.Indicator(conv.Name, input, fanOut, 1, ChooseReducedAxes(input, fanOut), macs, fh, fw, perGroup);
        }

        /// <summary>
        /// F[c,h,w] for a convolution: the number of (output channel, output position) pairs whose receptive
        /// field contains input element (c,h,w), honouring pads, strides, dilations and groups. It factors as
        /// (out channels per group) × f_h[h] × f_w[w], where f_h[h] counts the output rows one of whose kernel
        /// taps lands on row h (a row is reached by at most one tap of a given output row).
        /// </summary>
        public static float[] ConvFanOut(ConvLayer conv, int[] inputShape, int[] outputShape)
        {
            ArgumentNullException.ThrowIfNull(conv, nameof(conv));
            int channels = inputShape[0];
            int height = inputShape[1];
            int width = inputShape[2];
            long perGroup = conv.OutChannels / conv.Group;
            long[] rows = AxisFanOut(height, outputShape[1], conv.Weight.Shape[2], conv.Strides[0], conv.Pads[0], conv.Dilations[0]);
            long[] columns = AxisFanOut(width, outputShape[2], conv.Weight.Shape[3], conv.Strides[1], conv.Pads[1], conv.Dilations[1]);
            var fanOut = new float[channels * height * width];
            for (int c = 0; c < channels; c++)
            {
                for (int h = 0; h < height; h++)
                {
                    for (int w = 0; w < width; w++)
                    {
                        fanOut[(c * height + h) * width + w] = perGroup * rows[h] * columns[w];
                    }
                }
            }
            return fanOut;
        }

        private static long[] AxisFanOut(int size, int outputs, int kernel, int stride, int padBegin, int dilation)
        {
            var counts = new long[size];
            for (int o = 0; o < outputs; o++)
            {
                for (int k = 0; k < kernel; k++)
                {
                    int i = o * stride - padBegin + k * dilation;
                    if (i >= 0 && i < size)
                    {
                        counts[i]++;
                    }
                }
            }
            return counts;
        }

        /// <summary>
        /// The most trailing axes whose every block sum of F stays within <see cref="ExactFloatLimit"/>
        /// (all terms are non-negative integers, so every partial sum of a block is exact too); at least one axis.
        /// </summary>
        private static int ChooseReducedAxes(int[] shape, float[] fanOut)
        {
            for (int axes = shape.Length; axes > 1; axes--)
            {
                int block = ShapeUtil.Size(shape[(shape.Length - axes)..]);
                long largest = 0;
                for (int start = 0; start < fanOut.Length; start += block)
                {
                    long sum = 0;
                    for (int i = start; i < start + block; i++)
                    {
                        sum += (long)fanOut[i];
                    }
                    largest = Math.Max(largest, sum);
                }
                if (largest <= ExactFloatLimit)
                {
                    return axes;
                }
            }
            return 1;
        }
    }
}
