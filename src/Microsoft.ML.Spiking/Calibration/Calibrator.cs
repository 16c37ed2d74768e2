// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>How calibration statistics are collected.</summary>
    public sealed class CalibrationOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public CalibrationOptions()
        {
            Granularity = StatisticsGranularity.Channel;
            Percentile = 99.9;
            ExactCapacity = PercentileEstimator.DefaultCapacity;
            BatchSize = 64;
            Execution = new ExecutionOptions();
        }

        /// <summary>
        /// One statistic per channel (default), per layer, or per neuron (then only mean, variance, maximum and
        /// minimum: percentiles need layer or channel granularity).
        /// </summary>
        public StatisticsGranularity Granularity { get; set; }

        /// <summary>The percentile p reported by default (99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>Largest values kept exactly per statistic; beyond that percentiles come from a bounded histogram.</summary>
        public int ExactCapacity { get; set; }

        /// <summary>Also collect statistics of each activation's input (pre-activation mean and variance, for threshold iteration).</summary>
        public bool IncludePreActivations { get; set; }

        /// <summary>Samples per ONNX Runtime call (default 64).</summary>
        public int BatchSize { get; set; }

        /// <summary>Where ONNX Runtime runs.</summary>
        public ExecutionOptions Execution { get; set; }

        /// <summary>Receives the number of samples processed so far after each batch.</summary>
        public IProgress<long>? Progress { get; set; }
    }

    /// <summary>Statistics of one activation site (a layer that conversion replaces by neurons).</summary>
    /// <param name="LayerName">The activation layer's name.</param>
    /// <param name="Output">Statistics of the activation's output.</param>
    /// <param name="Input">Statistics of its input (pre-activation), when collected.</param>
    public sealed record SiteStatistics(string LayerName, ChannelStatistics Output, ChannelStatistics? Input);

    /// <summary>The statistics of every activation site, gathered in one pass over the calibration data.</summary>
    public sealed class CalibrationResult
    {
        internal CalibrationResult(IReadOnlyDictionary<string, SiteStatistics> sites, long samples, StatisticsGranularity granularity)
        {
            Sites = sites;
            SampleCount = samples;
            Granularity = granularity;
        }

        /// <summary>Statistics by activation layer name.</summary>
        public IReadOnlyDictionary<string, SiteStatistics> Sites { get; }

        /// <summary>Samples seen.</summary>
        public long SampleCount { get; }

        /// <summary>Granularity of the statistics.</summary>
        public StatisticsGranularity Granularity { get; }
    }

    /// <summary>
    /// Streams calibration data once through the ANN (ONNX Runtime, with every activation site exposed as
    /// an output) and accumulates per-site statistics: max, min, mean and variance, and (per layer or channel)
    /// a percentile with bounded memory.
    /// </summary>
    public static class Calibrator
    {
        /// <summary>The layers conversion replaces by neurons: ReLU, Clip and QCFS activations, and a transformer's marked neuron sites.</summary>
        /// <param name="network">The network.</param>
        public static IReadOnlyList<Layer> FindActivationSites(Network network) =>
            network.Layers.Where(l => l is ReluLayer or ClipLayer or QcfsLayer or NeuronSiteLayer).ToList();

        /// <summary>Collects statistics over <paramref name="samples"/>, each one input sample of the network's input size.</summary>
        /// <param name="network">The ANN (input normalization already applied if any).</param>
        /// <param name="samples">Calibration samples; enumerated once.</param>
        /// <param name="options">Options, or null for the defaults.</param>
        /// <returns>Per-site statistics.</returns>
        /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
        /// <exception cref="ArgumentException">A sample has the wrong size, or there are no samples.</exception>
        public static CalibrationResult Collect(Network network, IEnumerable<float[]> samples, CalibrationOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentNullException.ThrowIfNull(samples, nameof(samples));
            options ??= new CalibrationOptions();
            if (options.BatchSize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
            }

            if (options.Granularity != StatisticsGranularity.Layer && options.Granularity != StatisticsGranularity.Channel && options.Granularity != StatisticsGranularity.Neuron)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Granularity, "Granularity must be Layer, Channel or Neuron.");
            }
            IReadOnlyList<Layer> sites = FindActivationSites(network);
            var probes = new List<string>();
            var collectors = new List<(ChannelStatistics Stats, int Channels, int Spatial)>();
            var results = new Dictionary<string, SiteStatistics>(StringComparer.Ordinal);
            foreach (Layer site in sites)
            {
                ChannelStatistics output = NewStatistics(network.GetShape(site.Output), options, out int c, out int s);
                probes.Add(site.Output);
                collectors.Add((output, c, s));
                ChannelStatistics? input = null;
                if (options.IncludePreActivations)
                {
                    input = NewStatistics(network.GetShape(site.Inputs[0]), options, out c, out s);
                    probes.Add(site.Inputs[0]);
                    collectors.Add((input, c, s));
                }
                results[site.Name] = new SiteStatistics(site.Name, output, input);
            }

            using var session = new OnnxSession(AnnExporter.Export(network, probes), options.Execution);
            var outputNames = Enumerable.Range(0, probes.Count).Select(AnnExporter.ExtraOutputName).ToList();
            int sampleSize = ShapeUtil.Size(network.InputShape);
            long[] sampleShape = network.InputShape.Select(d => (long)d).ToArray();
            var buffer = new float[options.BatchSize * sampleSize];
            int filled = 0;
            long seen = 0;

            void Flush()
            {
                if (filled == 0 || probes.Count == 0)
                {
                    seen += filled;
                    filled = 0;
                    return;
                }
                float[] data = filled == options.BatchSize ? buffer : buffer.AsSpan(0, filled * sampleSize).ToArray();
                var outputs = session.Run(new Dictionary<string, TensorBuffer>
                {
                    [AnnExporter.InputName] = new TensorBuffer(data, new long[] { filled }.Concat(sampleShape).ToArray()),
                }, outputNames);
                for (int i = 0; i < collectors.Count; i++)
                {
                    collectors[i].Stats.AddBatch(outputs[outputNames[i]].Data, filled);
                }
                seen += filled;
                filled = 0;
                options.Progress?.Report(seen);
            }

            foreach (float[] sample in samples)
            {
                if (sample == null || sample.Length != sampleSize)
                {
                    throw new ArgumentException($"Calibration sample {seen + filled} has {sample?.Length ?? 0} values; the network input [{string.Join(",", network.InputShape)}] needs {sampleSize}.", nameof(samples));
                }
                Array.Copy(sample, 0, buffer, filled * sampleSize, sampleSize);
                if (++filled == options.BatchSize)
                {
                    Flush();
                }
            }
            Flush();
            if (seen == 0)
            {
                throw new ArgumentException("The calibration data is empty; at least one sample is needed.", nameof(samples));
            }
            return new CalibrationResult(results, seen, options.Granularity);
        }

        private static ChannelStatistics NewStatistics(int[] shape, CalibrationOptions options, out int channels, out int spatial)
        {
            channels = shape.Length == 0 ? 1 : shape[0];
            spatial = Math.Max(1, ShapeUtil.Size(shape) / Math.Max(channels, 1));
            return new ChannelStatistics(channels, spatial, options.Granularity, options.Percentile, options.ExactCapacity);
        }
    }
}
