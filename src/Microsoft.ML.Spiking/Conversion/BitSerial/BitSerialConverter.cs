// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Conversion.BitSerial
{
    /// <summary>
    /// Error-free bit-serial conversion (algorithms.md §4): every QCFS activation with L = 2^T − 1 becomes a bit-serial
    /// neuron (λ, T); with post-training quantization, every ReLU first becomes a QCFS activation with L = 2^T − 1 and
    /// a calibrated λ. Average pooling and residual adds act on currents; the output layer accumulates. The spiking
    /// network then equals the quantized ANN (<see cref="QuantizedAnn"/>) exactly.
    /// </summary>
    public static class BitSerialConverter
    {
        /// <summary>Converts a prepared ANN.</summary>
        /// <param name="ann">The prepared network (QCFS chains detected, batch norm folded).</param>
        /// <param name="statistics">Calibration statistics, needed when the network has ReLUs to quantize (with pre-activations for <see cref="ThresholdMethod.Iteration"/>).</param>
        /// <param name="options">Options, or null for the defaults.</param>
        /// <returns>The spiking network.</returns>
        /// <exception cref="NotSupportedException">A layer has no bit-serial form, or a QCFS L is not 2^T − 1 (all such layers listed).</exception>
        /// <exception cref="ArgumentException">T is missing or out of range, or statistics are missing for a ReLU.</exception>
        public static SpikingNetwork Convert(Network ann, CalibrationResult? statistics, BitSerialOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            options ??= new BitSerialOptions();
            int bits = ResolveBits(ann, options);
            int levels = (1 << bits) - 1;
            var notes = new List<string>();
            var problems = new List<string>();
            var layers = new List<Layer>();
            string output = ann.OutputName;
            int trained = 0, quantized = 0, requantized = 0, maxPools = 0;
            foreach (Layer layer in ann.Layers)
            {
                switch (layer)
                {
                    case SoftmaxLayer softmax when softmax.Output == ann.OutputName:
                        output = softmax.Inputs[0];
                        notes.Add($"Output {softmax.SourceOpType} '{softmax.Name}' removed: the output layer accumulates the logits (arg-max unchanged).");
                        break;
                    case QcfsLayer qcfs when qcfs.Levels == levels || options.Requantize:
                        requantized += qcfs.Levels == levels ? 0 : 1;
                        trained++;
                        layers.Add(new BitSerialNeuronLayer(qcfs.Name, qcfs.SourceOpType, qcfs.Inputs[0], qcfs.Output, (float[])qcfs.Lambda.Clone(), bits, options.Shift));
                        break;
                    case QcfsLayer qcfs:
                        problems.Add($"'{qcfs.Name}' (QCFS, L = {qcfs.Levels}): bit-serial conversion with T = {bits} needs L = 2^T − 1 = {levels}; {(IsPowerOfTwoMinusOne(qcfs.Levels) ? $"use T = {Log2(qcfs.Levels + 1)}" : "L is not 2^T − 1 for any T")}, or set Requantize to re-quantize to L = {levels}");
                        break;
                    case ReluLayer or ClipLayer { Min: 0f }:
                        float cap = layer is ClipLayer clip ? clip.Max : float.PositiveInfinity;
                        layers.Add(new BitSerialNeuronLayer(layer.Name, layer.SourceOpType, layer.Inputs[0], layer.Output, Lambda(layer, statistics, options, levels, cap, notes), bits, options.Shift));
                        quantized++;
                        break;
                    case PoolLayer { Kind: PoolKind.Max } pool:
                        // On currents it is part of the accumulation; on bit-serial levels an MSB-first comparison
                        // selects the larger level exactly. Either way the quantized ANN is reproduced.
                        maxPools++;
                        layers.Add(pool);
                        break;
                    default:
                        if (!layer.IsLinear && layer is not PoolLayer)
                        {
                            problems.Add($"'{layer.Name}' ({layer.SourceOpType}): non-linear layer with no bit-serial form");
                            break;
                        }
                        layers.Add(layer);
                        break;
                }
            }
            if (problems.Count > 0)
            {
                throw new NotSupportedException($"{ann.Source}: bit-serial conversion cannot convert {problems.Count} layer(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
            }
            if (trained + quantized == 0)
            {
                throw new NotSupportedException($"{ann.Source}: the network has no activation to turn into bit-serial neurons.");
            }
            notes.Insert(0, $"T = {bits} bits per activation (L = {levels} levels), MSB first, thresholds λ·2^(T−t)/L, bias shift λ/(2L) {(options.Shift ? "applied" : "NOT applied: the network does not equal the quantized ANN")}.");
            if (trained > 0)
            {
                notes.Add($"{trained} trained QCFS activation(s) became bit-serial neurons with their λ{(requantized > 0 ? $"; {requantized} re-quantized from another L to L = {levels}" : string.Empty)}.");
            }
            if (maxPools > 0)
            {
                notes.Add($"{maxPools} max-pool(s) kept: on bit-serial levels an MSB-first comparison passes on the larger level's bits, exactly (the method's own training replaces MaxPool by AveragePool).");
            }
            if (quantized > 0)
            {
                notes.Add($"{quantized} ReLU(s) quantized after training to QCFS with L = {levels}, λ from {Describe(options, statistics)}; the quantized ANN's accuracy is the reference the spiking network equals.");
            }
            var snn = new Network(ann.InputName, ann.InputShape, layers, output, ann.Source).Prune();
            return new SpikingNetwork(snn, ConversionMethod.BitSerial, notes);
        }

        /// <summary>
        /// The quantized ANN a bit-serial network equals: every bit-serial neuron replaced by its QCFS activation (λ,
        /// L = 2^T − 1). Run it with <see cref="Simulation.AnnRunner"/> for the quantized accuracy.
        /// </summary>
        /// <param name="snn">A bit-serial network.</param>
        public static Network QuantizedAnn(SpikingNetwork snn)
        {
            ArgumentNullException.ThrowIfNull(snn, nameof(snn));
            if (snn.Method != ConversionMethod.BitSerial)
            {
                throw new ArgumentException($"The network was converted with {snn.Method}, not {ConversionMethod.BitSerial}.", nameof(snn));
            }
            var layers = snn.Network.Layers.Select(l => l is BitSerialNeuronLayer n
                ? new QcfsLayer(n.Name, n.SourceOpType, n.Inputs[0], n.Output, (float[])n.Lambda.Clone(), n.Levels)
                : l).ToList();
            return snn.Network.WithLayers(layers);
        }

        private static int ResolveBits(Network ann, BitSerialOptions options)
        {
            if (options.Bits < 0 || options.Bits > BitSerialNeuronLayer.MaxBits)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Bits, $"Bits must be 0 (from the model's QCFS L) or between 1 and {BitSerialNeuronLayer.MaxBits}.");
            }
            if (options.Bits > 0)
            {
                return options.Bits;
            }
            var levels = ann.Layers.OfType<QcfsLayer>().Select(q => q.Levels).Distinct().ToList();
            if (levels.Count == 1 && IsPowerOfTwoMinusOne(levels[0]))
            {
                return Log2(levels[0] + 1);
            }
            throw new ArgumentException(levels.Count == 0
                ? $"{ann.Source} has no QCFS activations to take T from; set Bits (T) to quantize its ReLUs to L = 2^T − 1 levels."
                : $"{ann.Source} has QCFS activations with L = {string.Join(", ", levels)}; T cannot be taken from them (one L = 2^T − 1 is needed). Set Bits, with Requantize if L differs.", nameof(options));
        }

        private static float[] Lambda(Layer site, CalibrationResult? statistics, BitSerialOptions options, int levels, float cap, List<string> notes)
        {
            SiteStatistics stats = SiteThresholds.Of(site, statistics, "ReLU", "post-training quantization needs them");
            float[] values;
            if (options.Quantization == ThresholdMethod.Iteration)
            {
                ChannelStatistics input = stats.Input
                    ?? throw new ArgumentException($"Error-minimising λ for ReLU '{site.Name}' needs the statistics of its input; calibrate with CalibrationOptions.IncludePreActivations.", nameof(statistics));
                values = ThresholdIteration.Solve(input.GetMean(), input.GetVariance(), levels, ThresholdIterationMode.Converge);
            }
            else
            {
                values = options.Quantization == ThresholdMethod.Max ? stats.Output.GetMax() : stats.Output.GetPercentile(options.Percentile);
            }
            values = values.Select(v => Math.Min(v, cap)).ToArray();
            return SiteThresholds.ReplaceDead(site, values, "λ", notes);
        }

        private static string Describe(BitSerialOptions options, CalibrationResult? statistics)
        {
            string level = statistics?.Granularity.ToString().ToLowerInvariant() ?? "layer";
            return options.Quantization switch
            {
                ThresholdMethod.Iteration => $"the quantization-error minimum for a Gaussian fit of the ReLU input ({level}-wise)",
                ThresholdMethod.Max => $"the ReLU output's maximum ({level}-wise)",
                _ => $"the ReLU output's {options.Percentile.ToString(CultureInfo.InvariantCulture)}th percentile ({level}-wise)",
            };
        }

        private static bool IsPowerOfTwoMinusOne(int levels) => levels > 0 && ((levels + 1) & levels) == 0;

        private static int Log2(int power) => System.Numerics.BitOperations.Log2((uint)power);
    }
}
