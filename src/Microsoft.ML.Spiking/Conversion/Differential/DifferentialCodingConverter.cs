// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>
    /// Differential coding (DCGS, algorithms.md §2), training-free: every ReLU becomes a ReLU-gated multi-threshold
    /// neuron (or a differential IF neuron); max-pools after the first neuron become max-pool neurons (kernel =
    /// stride) or graded units (any other kernel); other non-linear layers that see time-varying values (Clip, QCFS,
    /// Floor, an inner Softmax, products of two activations) become graded units, exact on rates. Linear layers are
    /// unchanged; their constants enter once, through the step-0 probe. The image is presented once, at step 1, and
    /// everything before the first neuron is computed once. The read-out decodes r[t] = b + Σ_(i ≤ t) (x_out[i] − b)/i.
    /// </summary>
    public static class DifferentialCodingConverter
    {
        /// <summary>Converts a prepared ANN (ReLU → MaxPool pairs swapped, see <see cref="Graph.Passes.PreparationOptions.SwapReluMaxPool"/>).</summary>
        /// <param name="ann">The prepared network.</param>
        /// <param name="statistics">
        /// Calibration statistics of the same network: of the ReLU outputs for max and percentile thresholds, and of
        /// their inputs (<see cref="CalibrationOptions.IncludePreActivations"/>) for threshold iteration.
        /// </param>
        /// <param name="options">Options, or null for the defaults.</param>
        /// <returns>The spiking network.</returns>
        /// <exception cref="NotSupportedException">A layer has no differential form (all such layers are listed).</exception>
        /// <exception cref="ArgumentException">Statistics are missing for a ReLU, or an option is out of range.</exception>
        public static SpikingNetwork Convert(Network ann, CalibrationResult? statistics, DifferentialCodingOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            options ??= new DifferentialCodingOptions();
            CheckOptions(options);
            bool integrateAndFire = options.Neuron == DifferentialNeuron.IntegrateAndFire;
            int n = integrateAndFire ? 1 : options.ThresholdLevels;
            FiringRule rule = integrateAndFire ? FiringRule.Nearest : options.Rule;
            int levels = options.IterationLevels > 0 ? options.IterationLevels : ThresholdIteration.LevelCount(options.TimeSteps, integrateAndFire ? 0 : n);

            var notes = new List<string>();
            var problems = new List<string>();
            var layers = new List<Layer>();
            var varying = new HashSet<string>(StringComparer.Ordinal);
            var graded = new List<string>();
            int neurons = 0;
            int siteNeurons = 0;
            int poolNeurons = 0;
            string output = ann.OutputName;
            foreach (Layer layer in ann.Layers)
            {
                bool timeVarying = layer.Inputs.Any(varying.Contains);
                Layer? converted = layer switch
                {
                    SoftmaxLayer softmax when softmax.Output == ann.OutputName => null,
                    NeuronSiteLayer site =>
                        new MultiThresholdNeuronLayer(site.Name, site.SourceOpType, site.Inputs[0], site.Output,
                            SiteThresholdsScaled(site, statistics, options, notes), n, gated: false, rule, differential: true, bias: null),
                    ReluLayer or ClipLayer { Min: 0f, Max: float.PositiveInfinity } =>
                        new MultiThresholdNeuronLayer(layer.Name, layer.SourceOpType, layer.Inputs[0], layer.Output,
                            Thresholds(layer, statistics, options, levels, notes), n, gated: true, rule, differential: true, bias: null),
                    _ when !timeVarying && !options.GradedStaticPrefix => layer,
                    PoolLayer { Kind: PoolKind.Max } pool when options.UseMaxPoolNeurons && MaxPoolNeuronLayer.Supports(pool) => new MaxPoolNeuronLayer(pool, null),
                    PoolLayer { Kind: PoolKind.Max } pool => new GradedUnitLayer(pool, null),
                    ClipLayer or QcfsLayer or FloorLayer or SoftmaxLayer or BinaryLayer { Op: BinaryOp.Mul or BinaryOp.Div } or
                        LayerNormLayer or GeluLayer or MatMulLayer => new GradedUnitLayer(layer, null),
                    _ when layer.IsLinear || layer is PoolLayer => layer,
                    _ => null,
                };
                if (converted == null)
                {
                    if (layer is SoftmaxLayer outputSoftmax && outputSoftmax.Output == ann.OutputName)
                    {
                        output = outputSoftmax.Inputs[0];
                        notes.Add($"Output {outputSoftmax.SourceOpType} '{outputSoftmax.Name}' removed: the spiking network decodes the logits (arg-max unchanged).");
                    }
                    else
                    {
                        problems.Add($"'{layer.Name}' ({layer.SourceOpType}, {layer.GetType().Name}): non-linear layer with no differential-coding form");
                    }
                    continue;
                }
                switch (converted)
                {
                    case MultiThresholdNeuronLayer when layer is NeuronSiteLayer:
                        siteNeurons++;
                        break;
                    case MultiThresholdNeuronLayer:
                        neurons++;
                        break;
                    case MaxPoolNeuronLayer:
                        poolNeurons++;
                        break;
                    case GradedUnitLayer unit:
                        graded.Add($"'{unit.Name}' ({unit.SourceOpType})");
                        break;
                }
                if (timeVarying || converted is MultiThresholdNeuronLayer or MaxPoolNeuronLayer or GradedUnitLayer)
                {
                    varying.Add(converted.Output);
                }
                layers.Add(converted);
            }
            if (problems.Count > 0)
            {
                throw new NotSupportedException($"{ann.Source}: differential coding cannot convert {problems.Count} layer(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
            }

            if (siteNeurons > 0)
            {
                notes.Add($"Transformer recipe: {siteNeurons} identity {(integrateAndFire ? "IF" : $"multi-threshold (n = {n})")} neuron(s) without the ReLU gate on the inputs of the linear layers and of both operands of each product, base thresholds {options.ThresholdScale.ToString(CultureInfo.InvariantCulture)} × the {(options.Thresholds == ThresholdMethod.Max ? "maximum" : options.Percentile.ToString(CultureInfo.InvariantCulture) + "th percentile")} of the input ({statistics?.Granularity.ToString().ToLowerInvariant()}-wise).");
            }
            notes.Add(integrateAndFire
                ? $"{neurons} ReLU(s) became differential IF neurons (one threshold, ReLU gate)."
                : $"{neurons} ReLU(s) became differential multi-threshold neurons with n = {n} thresholds θ/2^k, the {(rule == FiringRule.Midpoint ? "reference code's 0.75 midpoint" : "nearest-threshold")} firing rule and the ReLU gate.");
            notes.Add(options.Thresholds switch
            {
                ThresholdMethod.Iteration => $"Base thresholds by threshold iteration on the ReLU inputs' mean and variance ({statistics?.Granularity.ToString().ToLowerInvariant()}-wise), N = {levels} levels, {(options.IterationMode == ThresholdIterationMode.Converge ? "solved to |k − 1| < 1e-6" : "100 iterations from θ = 1 as in the reference code")}.",
                ThresholdMethod.Max => $"Base thresholds: the ReLU outputs' maximum ({statistics?.Granularity.ToString().ToLowerInvariant()}-wise).",
                _ => $"Base thresholds: the ReLU outputs' {options.Percentile.ToString(CultureInfo.InvariantCulture)}th percentile ({statistics?.Granularity.ToString().ToLowerInvariant()}-wise).",
            });
            if (poolNeurons > 0)
            {
                notes.Add($"{poolNeurons} max-pool(s) with kernel = stride became max-pool neurons.");
            }
            if (graded.Count > 0)
            {
                notes.Add($"{graded.Count} layer(s) became graded units, exact on rates but sending graded values rather than spikes: {string.Join(", ", graded)}.");
            }

            var snn = new Network(ann.InputName, ann.InputShape, layers, output, ann.Source).Prune();
            (Network probed, float[] outputBias) = StepZeroProbe.Apply(snn, options.Execution);
            return new SpikingNetwork(probed, ConversionMethod.DifferentialCoding, notes, outputBias);
        }

        private static void CheckOptions(DifferentialCodingOptions options)
        {
            if (options.ThresholdLevels < 1 || options.ThresholdLevels > MultiThresholdNeuronLayer.MaxLevels)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.ThresholdLevels, $"ThresholdLevels must be between 1 and {MultiThresholdNeuronLayer.MaxLevels}.");
            }
            if (options.TimeSteps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.TimeSteps, "TimeSteps must be at least 1.");
            }
            if (options.IterationLevels < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.IterationLevels, "IterationLevels must be 0 (T·2^n) or positive.");
            }
            if (!(options.ThresholdScale > 0 && float.IsFinite(options.ThresholdScale)))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.ThresholdScale, "ThresholdScale must be positive and finite.");
            }
            if (!(options.Percentile > 0 && options.Percentile <= 100))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Percentile, "Percentile must be in (0, 100].");
            }
        }

        private static float[] SiteThresholdsScaled(NeuronSiteLayer site, CalibrationResult? statistics, DifferentialCodingOptions options, List<string> notes)
        {
            if (options.Thresholds == ThresholdMethod.Iteration)
            {
                throw new ArgumentException($"Neuron site '{site.Name}' of a transformer: threshold iteration models ReLU pre-activations (algorithms.md §2.11) and does not apply to transformers; use Percentile (the reference: {DifferentialCodingOptions.DefaultThresholdScale.ToString(CultureInfo.InvariantCulture)} × the 99.9th percentile) or Max.", nameof(options));
            }
            SiteStatistics stats = SiteThresholds.Of(site, statistics, "neuron site");
            float[] values = options.Thresholds == ThresholdMethod.Max ? stats.Output.GetMax() : stats.Output.GetPercentile(options.Percentile);
            float scale = options.ThresholdScale;
            return SiteThresholds.ReplaceDead(site, values.Select(v => v * scale).ToArray(), "threshold(s)", notes);
        }

        private static float[] Thresholds(Layer site, CalibrationResult? statistics, DifferentialCodingOptions options, int levels, List<string> notes)
        {
            SiteStatistics stats = SiteThresholds.Of(site, statistics, "ReLU");
            float[] values;
            if (options.Thresholds == ThresholdMethod.Iteration)
            {
                ChannelStatistics input = stats.Input
                    ?? throw new ArgumentException($"Threshold iteration needs the statistics of the input of ReLU '{site.Name}'; calibrate with CalibrationOptions.IncludePreActivations.", nameof(statistics));
                values = ThresholdIteration.Solve(input.GetMean(), input.GetVariance(), levels, options.IterationMode);
            }
            else
            {
                values = options.Thresholds == ThresholdMethod.Max ? stats.Output.GetMax() : stats.Output.GetPercentile(options.Percentile);
            }
            return SiteThresholds.ReplaceDead(site, values, "threshold(s)", notes);
        }
    }
}
