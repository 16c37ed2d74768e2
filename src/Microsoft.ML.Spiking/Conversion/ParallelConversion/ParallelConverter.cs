// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Conversion.ParallelConversion
{
    /// <summary>Options of parallel conversion (algorithms.md §3).</summary>
    public sealed class ParallelOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public ParallelOptions()
        {
            Thresholds = ThresholdMethod.Max;
            Percentile = 99.9;
            Order = SpikeOrder.FirstSteps;
            TimeSteps = 8;
            Alpha = 0.99;
            BatchSize = 64;
            Execution = new ExecutionOptions();
        }

        /// <summary>
        /// θ of a ReLU (training-free pipeline): <see cref="ThresholdMethod.Max"/> (default, the paper's threshold
        /// recording: the largest activation per channel) or <see cref="ThresholdMethod.Percentile"/>. QCFS activations use λ.
        /// </summary>
        public ThresholdMethod Thresholds { get; set; }

        /// <summary>p for <see cref="ThresholdMethod.Percentile"/> (99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>Where a neuron's spikes sit in its block (the reference code's first steps by default).</summary>
        public SpikeOrder Order { get; set; }

        /// <summary>T, the block length distribution-aware calibration targets (default 8).</summary>
        public int TimeSteps { get; set; }

        /// <summary>α of the calibration's moving averages (0.99).</summary>
        public double Alpha { get; set; }

        /// <summary>Samples per calibration batch (64); each batch moves the corrections once.</summary>
        public int BatchSize { get; set; }

        /// <summary>Where ONNX Runtime runs the calibration.</summary>
        public ExecutionOptions Execution { get; set; }
    }

    /// <summary>
    /// Parallel conversion (algorithms.md §3): every QCFS activation becomes a parallel neuron with θ = A = λ and
    /// ψ = θ/2 (lossless at T = L, §3.6); every ReLU becomes one with θ = A = its recorded threshold (channel max for
    /// convolution outputs, layer max for dense ones, §3.5). <see cref="Calibrate"/> then adds the distribution-aware
    /// corrections. Max-pooling stays (exact on sorted trains); average pooling and residual adds act per step.
    /// </summary>
    public static class ParallelConverter
    {
        /// <summary>Converts a prepared ANN.</summary>
        /// <param name="ann">The prepared network.</param>
        /// <param name="statistics">Calibration statistics (ReLU outputs), needed when the network has ReLUs.</param>
        /// <param name="options">Options, or null for the defaults.</param>
        /// <exception cref="NotSupportedException">A layer has no parallel form (all such layers listed).</exception>
        /// <exception cref="ArgumentException">Statistics are missing for a ReLU.</exception>
        public static SpikingNetwork Convert(Network ann, CalibrationResult? statistics, ParallelOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            options ??= new ParallelOptions();
            var notes = new List<string>();
            var problems = new List<string>();
            var layers = new List<Layer>();
            string output = ann.OutputName;
            int qcfs = 0, relu = 0, maxPools = 0;
            foreach (Layer layer in ann.Layers)
            {
                switch (layer)
                {
                    case SoftmaxLayer softmax when softmax.Output == ann.OutputName:
                        output = softmax.Inputs[0];
                        notes.Add($"Output {softmax.SourceOpType} '{softmax.Name}' removed: the output layer sums the logits over the block (arg-max unchanged).");
                        break;
                    case QcfsLayer q:
                        layers.Add(new ParallelNeuronLayer(q.Name, q.SourceOpType, q.Inputs[0], q.Output, (float[])q.Lambda.Clone(), null, null, options.Order));
                        qcfs++;
                        break;
                    case ReluLayer or ClipLayer { Min: 0f }:
                        float cap = layer is ClipLayer clip ? clip.Max : float.PositiveInfinity;
                        layers.Add(new ParallelNeuronLayer(layer.Name, layer.SourceOpType, layer.Inputs[0], layer.Output, Threshold(ann, layer, statistics, options, cap, notes), null, null, options.Order));
                        relu++;
                        break;
                    case PoolLayer { Kind: PoolKind.Max }:
                        maxPools++;
                        layers.Add(layer);
                        break;
                    default:
                        if (!layer.IsLinear && layer is not PoolLayer)
                        {
                            problems.Add($"'{layer.Name}' ({layer.SourceOpType}): non-linear layer with no parallel form");
                            break;
                        }
                        layers.Add(layer);
                        break;
                }
            }
            if (problems.Count > 0)
            {
                throw new NotSupportedException($"{ann.Source}: parallel conversion cannot convert {problems.Count} layer(s):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
            }
            notes.Insert(0, $"Parallel neurons: N = clip(floor((Σ_t I + ψ)/θ), 0, T) spikes per block, ψ = θ/2, spikes in the {(options.Order == SpikeOrder.FirstSteps ? "first" : "last")} N steps.");
            if (qcfs > 0)
            {
                notes.Add($"{qcfs} QCFS activation(s): θ = amplitude = λ (lossless when T = L).");
            }
            if (relu > 0)
            {
                notes.Add($"{relu} ReLU(s): threshold recording, θ = amplitude = the {(options.Thresholds == ThresholdMethod.Max ? "maximum" : options.Percentile.ToString(CultureInfo.InvariantCulture) + "th percentile")} of the output (per channel after convolutions, per layer after dense layers).");
            }
            if (maxPools > 0)
            {
                notes.Add($"{maxPools} max-pool(s) kept: on sorted spike trains the max-pool is the train of the largest count, exactly.");
            }
            var snn = new Network(ann.InputName, ann.InputShape, layers, output, ann.Source).Prune();
            return new SpikingNetwork(snn, ConversionMethod.Parallel, notes);
        }

        /// <summary>
        /// Distribution-aware calibration (algorithms.md §3.5 step 2): one pass over <paramref name="samples"/> with two
        /// branches through the same weights, the SNN surrogate (DA-QCFS with L = T) and the reference ANN, moving each
        /// convolution neuron's per-channel ψ_DA and φ_DA by moving averages (α) of the pre- and post-activation gaps.
        /// </summary>
        /// <param name="snn">A network from <see cref="Convert"/>.</param>
        /// <param name="ann">The prepared ANN it was converted from (the reference branch: clip(z, 0, θ) for ReLUs, its QCFS for QCFS activations).</param>
        /// <param name="samples">Calibration samples; enumerated once.</param>
        /// <param name="options">Options (T, α, batch size), or null for the defaults.</param>
        /// <returns>The network with the corrections; its notes say how many batches moved them.</returns>
        public static SpikingNetwork Calibrate(SpikingNetwork snn, Network ann, IEnumerable<float[]> samples, ParallelOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(snn, nameof(snn));
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            ArgumentNullException.ThrowIfNull(samples, nameof(samples));
            options ??= new ParallelOptions();
            if (snn.Method != ConversionMethod.Parallel)
            {
                throw new ArgumentException($"The network was converted with {snn.Method}, not {ConversionMethod.Parallel}.", nameof(snn));
            }
            if (options.TimeSteps < 1 || !(options.Alpha >= 0 && options.Alpha < 1) || options.BatchSize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), "TimeSteps and BatchSize must be at least 1 and Alpha in [0, 1).");
            }
            return DistributionAwareCalibration.Run(snn, ann, samples, options);
        }

        /// <summary>
        /// The sequential equivalent of a parallel network: every parallel neuron replaced by an IF neuron with the same θ,
        /// v(0) = θ/2 and reset by subtraction, simulated step by step (rate coding). Same spike counts for constant
        /// inputs; without the parallel neuron's look-ahead otherwise (algorithms.md §6 case 8). For comparisons of
        /// accuracy and speed.
        /// </summary>
        /// <param name="parallel">A parallel network without distribution-aware corrections.</param>
        /// <exception cref="NotSupportedException">The network was calibrated (an IF neuron emits θ, not θ + φ_DA).</exception>
        public static SpikingNetwork SequentialEquivalent(SpikingNetwork parallel)
        {
            ArgumentNullException.ThrowIfNull(parallel, nameof(parallel));
            if (parallel.Method != ConversionMethod.Parallel)
            {
                throw new ArgumentException($"The network was converted with {parallel.Method}, not {ConversionMethod.Parallel}.", nameof(parallel));
            }
            var layers = parallel.Network.Layers.Select(l =>
            {
                if (l is not ParallelNeuronLayer n)
                {
                    return l;
                }
                if (n.StepShift.Any(v => v != 0) || n.Amplitude.Where((a, c) => a != n.Threshold[c]).Any())
                {
                    throw new NotSupportedException($"Parallel neuron '{n.Name}' carries distribution-aware corrections, which an IF neuron cannot express; take the sequential equivalent before calibrating.");
                }
                return (Layer)new IfNeuronLayer(n.Name, n.SourceOpType, n.Inputs[0], n.Output, (float[])n.Threshold.Clone(), 0.5f, ResetMode.Subtract);
            }).ToList();
            return new SpikingNetwork(parallel.Network.WithLayers(layers), ConversionMethod.RateCoding,
                parallel.Notes.Append("Sequential equivalent: the parallel neurons replaced by IF neurons (same θ, v(0) = θ/2, reset by subtraction).").ToList());
        }

        private static float[] Threshold(Network ann, Layer site, CalibrationResult? statistics, ParallelOptions options, float cap, List<string> notes)
        {
            SiteStatistics stats = SiteThresholds.Of(site, statistics, "ReLU", "threshold recording needs them");
            float[] values = options.Thresholds == ThresholdMethod.Percentile ? stats.Output.GetPercentile(options.Percentile) : stats.Output.GetMax();
            if (ann.GetShape(site.Output).Length == 1 && values.Length > 1)
            {
                // Classifier (dense) activations use one threshold per layer (§3.4).
                values = new[] { values.Max() };
            }
            values = values.Select(v => Math.Min(v, cap)).ToArray();
            return SiteThresholds.ReplaceDead(site, values, "threshold(s)", notes);
        }
    }
}
