// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Conversion.RateCoding
{
    /// <summary>Options of rate-coding conversion.</summary>
    public sealed class RateCodingOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public RateCodingOptions()
        {
            Thresholds = ThresholdMethod.Percentile;
            Percentile = 99.9;
            InitialMembrane = 0.5f;
            Reset = ResetMode.Subtract;
        }

        /// <summary>How thresholds of ReLU sites are chosen (QCFS sites always use their trained λ).</summary>
        public ThresholdMethod Thresholds { get; set; }

        /// <summary>p for <see cref="ThresholdMethod.Percentile"/> (99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>v(0) as a fraction of θ: 0.5 (the QCFS shift, default) or 0 (classic).</summary>
        public float InitialMembrane { get; set; }

        /// <summary>Reset rule (subtraction by default).</summary>
        public ResetMode Reset { get; set; }
    }

    /// <summary>
    /// Rate coding (algorithms.md §1.1–1.2): every ReLU becomes an integrate-and-fire neuron whose
    /// threshold is the calibrated max or percentile of that ReLU's output (threshold balancing, so weights
    /// stay as they are); a QCFS activation becomes an IF neuron with θ = λ; Clip(0, c) becomes an IF
    /// neuron with θ = min(statistic, c). The image enters as a constant current every step, and the output
    /// layer accumulates (its running mean is the estimate).
    /// </summary>
    public static class RateCodingConverter
    {
        /// <summary>Converts a prepared ANN.</summary>
        /// <param name="ann">The prepared network (see <see cref="Graph.Passes.NetworkPreparation"/>).</param>
        /// <param name="statistics">Calibration statistics; may be null only when every site is a QCFS activation.</param>
        /// <param name="options">Options, or null for the defaults.</param>
        /// <returns>The spiking network.</returns>
        /// <exception cref="NotSupportedException">A layer has no rate-coded form (all such layers are listed).</exception>
        /// <exception cref="ArgumentException">Statistics are missing for a site that needs them, or are per neuron.</exception>
        public static SpikingNetwork Convert(Network ann, CalibrationResult? statistics, RateCodingOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            options ??= new RateCodingOptions();
            var notes = new List<string>();
            var problems = new List<string>();
            var layers = new List<Layer>();
            string output = ann.OutputName;
            foreach (Layer layer in ann.Layers)
            {
                switch (layer)
                {
                    case SoftmaxLayer softmax when softmax.Output == ann.OutputName:
                        output = softmax.Inputs[0];
                        notes.Add($"Output {softmax.SourceOpType} '{softmax.Name}' removed: the spiking network reads out the accumulated logits (arg-max unchanged).");
                        break;
                    case ReluLayer relu:
                        layers.Add(Neuron(relu, Threshold(relu, statistics, options, float.PositiveInfinity, notes), options));
                        break;
                    case ClipLayer clip when clip.Min == 0f:
                        layers.Add(Neuron(clip, Threshold(clip, statistics, options, clip.Max, notes), options));
                        break;
                    case QcfsLayer qcfs:
                        layers.Add(Neuron(qcfs, (float[])qcfs.Lambda.Clone(), options));
                        break;
                    case PoolLayer { Kind: PoolKind.Max } pool:
                        notes.Add($"MaxPool '{pool.Name}' is applied to the spike trains at every step, which over-estimates the pooled rate.");
                        layers.Add(layer);
                        break;
                    case ClipLayer clip:
                        problems.Add($"'{clip.Name}' (Clip to [{clip.Min}, {clip.Max}]): only Clip with a lower bound of 0 becomes a neuron");
                        break;
                    case FloorLayer floor:
                        problems.Add($"'{floor.Name}' (Floor): a Floor outside a recognized QCFS pattern has no spiking form");
                        break;
                    case BinaryLayer { Op: BinaryOp.Mul or BinaryOp.Div } bin:
                        problems.Add($"'{bin.Name}' ({bin.SourceOpType} of two activations): products of spike trains are not rate-coded");
                        break;
                    case SoftmaxLayer softmax:
                        problems.Add($"'{softmax.Name}' ({softmax.SourceOpType}) is not at the output");
                        break;
                    default:
                        if (!layer.IsLinear && layer is not PoolLayer)
                        {
                            problems.Add($"'{layer.Name}' ({layer.SourceOpType}): non-linear layer with no rate-coded form");
                            break;
                        }
                        layers.Add(layer);
                        break;
                }
            }
            if (problems.Count > 0)
            {
                throw new NotSupportedException($"{ann.Source}: rate coding cannot convert {problems.Count} layer(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
            }
            var snn = new Network(ann.InputName, ann.InputShape, layers, output, ann.Source).Prune();
            return new SpikingNetwork(snn, ConversionMethod.RateCoding, notes);
        }

        private static IfNeuronLayer Neuron(Layer site, float[] threshold, RateCodingOptions options) =>
            new IfNeuronLayer(site.Name, site.SourceOpType, site.Inputs[0], site.Output, threshold, options.InitialMembrane, options.Reset);

        private static float[] Threshold(Layer site, CalibrationResult? statistics, RateCodingOptions options, float cap, List<string> notes)
        {
            SiteStatistics stats = SiteThresholds.Of(site, statistics, "activation");
            if (stats.Output.Granularity == StatisticsGranularity.Neuron)
            {
                throw new ArgumentException($"The statistics of activation '{site.Name}' are per neuron, but rate-coding thresholds (max or percentile) are per layer or per channel; calibrate with {nameof(StatisticsGranularity.Layer)} or {nameof(StatisticsGranularity.Channel)} granularity.", nameof(statistics));
            }
            float[] values = options.Thresholds switch
            {
                ThresholdMethod.Max => stats.Output.GetMax(),
                _ => stats.Output.GetPercentile(options.Percentile),
            };
            values = values.Select(v => Math.Min(v, cap)).ToArray();
            return SiteThresholds.ReplaceDead(site, values, "threshold(s)", notes);
        }
    }
}
