// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks;
using Microsoft.ML.OnnxRuntime;
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
            Statistics = CalibrationStatistics.All;
            PreActivationStatistics = CalibrationStatistics.Moments;
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

        /// <summary>
        /// The lowest percentile that will be read from the statistics, in [0, <see cref="Percentile"/>] (default 0: any).
        /// Above 0 each percentile histogram keeps only the upper tail those percentiles need (values below a cut that keeps
        /// at least max(1.25·<see cref="ExactCapacity"/>, 2·(1 − q₀)·N) values above it are only counted), which makes
        /// percentile statistics about twice as cheap to collect (ResNet-20). Percentiles of at least this one are then exact or within one bin,
        /// as with the whole histogram, unless the calibration data's order is far from stationary; a lower one is estimated
        /// with a larger error bound (<see cref="ChannelStatistics.GetPercentileErrorBound"/> reports it). The conversion
        /// estimator sets it to the percentile its thresholds read.
        /// </summary>
        public double LowestPercentile { get; set; }

        /// <summary>Also collect statistics of each activation's input (pre-activation mean and variance, for threshold iteration).</summary>
        public bool IncludePreActivations { get; set; }

        /// <summary>
        /// The statistics kept for every activation's output besides the exact maximum and minimum (default
        /// <see cref="CalibrationStatistics.All"/>). Each costs passes over the activations, so the estimator asks only for
        /// what the thresholds read: the extremes for <see cref="Conversion.ThresholdMethod.Max"/> and for
        /// <see cref="Conversion.ThresholdMethod.Iteration"/> (which reads the inputs), percentiles for
        /// <see cref="Conversion.ThresholdMethod.Percentile"/>. Per neuron the moments are always kept.
        /// </summary>
        public CalibrationStatistics Statistics { get; set; }

        /// <summary>
        /// The statistics kept for every activation's input, with <see cref="IncludePreActivations"/> (default
        /// <see cref="CalibrationStatistics.Moments"/>: the mean and variance threshold iteration reads, with the extremes).
        /// </summary>
        public CalibrationStatistics PreActivationStatistics { get; set; }

        /// <summary>Samples per ONNX Runtime call (default 64).</summary>
        public int BatchSize { get; set; }

        /// <summary>
        /// Where ONNX Runtime runs. A positive <see cref="ExecutionOptions.IntraOpThreads"/> also bounds the threads that
        /// update the sites' statistics (in parallel, one site per thread; otherwise one per processor; the results do not
        /// depend on the count).
        /// </summary>
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

        /// <summary>Where the collection's time went (for the benchmark).</summary>
        internal CalibrationTimings Timings { get; init; }
    }

    /// <summary>Wall-clock time of one calibration's parts.</summary>
    /// <param name="Session">Exporting the graph with its probes and creating the ONNX Runtime session.</param>
    /// <param name="Runs">ONNX Runtime calls (including packing the input batches).</param>
    /// <param name="Statistics">Updating the statistics.</param>
    internal readonly record struct CalibrationTimings(TimeSpan Session, TimeSpan Runs, TimeSpan Statistics);

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

            if (!(options.LowestPercentile >= 0 && options.LowestPercentile <= options.Percentile))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.LowestPercentile, $"LowestPercentile must be in [0, Percentile = {options.Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}].");
            }

            if (options.Granularity != StatisticsGranularity.Layer && options.Granularity != StatisticsGranularity.Channel && options.Granularity != StatisticsGranularity.Neuron)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Granularity, "Granularity must be Layer, Channel or Neuron.");
            }

            foreach ((CalibrationStatistics kept, string name) in new[] { (options.Statistics, nameof(options.Statistics)), (options.PreActivationStatistics, nameof(options.PreActivationStatistics)) })
            {
                if ((kept & ~CalibrationStatistics.All) != 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(options), kept, $"{name} must combine Extremes, Moments and Percentiles.");
                }
            }

            IReadOnlyList<Layer> sites = FindActivationSites(network);
            var probes = new List<string>();
            int Probe(string tensor)
            {
                probes.Add(tensor);
                return probes.Count - 1;
            }

            // Each collector reads one probe; a ReLU's output, when its input is probed too, is taken from that probe
            // (max(x, 0), exactly what ONNX Runtime computes) instead of a probe of its own, which would cost ONNX Runtime
            // another reordered copy of the activation. When only its extremes are kept, they are the input's, rectified,
            // set once at the end.
            var collectors = new List<(ChannelStatistics Stats, int Channels, int Spatial, int Probe, bool Relu)>();
            var rectifiedExtremes = new List<(ChannelStatistics Output, ChannelStatistics Input)>();
            var results = new Dictionary<string, SiteStatistics>(StringComparer.Ordinal);
            foreach (Layer site in sites)
            {
                ChannelStatistics output = NewStatistics(network.GetShape(site.Output), options, options.Statistics, out int c, out int s);
                ChannelStatistics? input = null;
                if (options.IncludePreActivations)
                {
                    input = NewStatistics(network.GetShape(site.Inputs[0]), options, options.PreActivationStatistics, out int ic, out int @is);
                    int probe = Probe(site.Inputs[0]);
                    collectors.Add((input, ic, @is, probe, false));
                    if (site is not ReluLayer)
                    {
                        collectors.Add((output, c, s, Probe(site.Output), false));
                    }
                    else if (output.Statistics == CalibrationStatistics.Extremes && options.Granularity != StatisticsGranularity.Neuron)
                    {
                        rectifiedExtremes.Add((output, input));
                    }
                    else
                    {
                        collectors.Add((output, c, s, probe, true));
                    }
                }
                else
                {
                    collectors.Add((output, c, s, Probe(site.Output), false));
                }

                results[site.Name] = new SiteStatistics(site.Name, output, input);
            }

            long started = Stopwatch.GetTimestamp();
            // Between calls the statistics are updated on the same cores: ONNX Runtime's threads spin only within a call and
            // stop when it returns (spinning on, the updates of ResNet-20's 19 sites per channel took a third longer; spinning
            // off, each of the demo model's small operators woke its threads, and its probed runs took 8-9 ms against 7). The
            // probes keep their blocked-layout sources alive through the call, so the planned block of a batch of 64 outgrew
            // the C heap and every call faulted in fresh pages (ResNet-20: 19,000 page faults per calibration, against 5,500
            // from the arena without a planned block).
            using var session = new OnnxSession(AnnExporter.Export(network, probes), options.Execution, memoryPattern: false, stopSpinning: true);
            TimeSpan sessionTime = Stopwatch.GetElapsedTime(started);
            long statisticsTicks = 0;
            var outputNames = Enumerable.Range(0, probes.Count).Select(AnnExporter.ExtraOutputName).ToList();
            int sampleSize = ShapeUtil.Size(network.InputShape);
            var inputBuffer = new float[options.BatchSize * sampleSize];
            // The probes' arrays (48 MB for ResNet-20's batch of 64) and the rectified copies come from the shared pool:
            // fresh arrays are zeroed and faulted in by every calibration, pooled ones only by the first.
            float[][] outputs = probes.Select(p => ArrayPool<float>.Shared.Rent(options.BatchSize * ShapeUtil.Size(network.GetShape(p)))).ToArray();
            long[][] shapes = new[] { network.InputShape }.Concat(probes.Select(network.GetShape)).Select(s => new long[] { 0 }.Concat(s.Select(d => (long)d)).ToArray()).ToArray();
            var errors = new Exception?[collectors.Count];
            float[]?[] rectified = collectors.Select(k => k.Relu ? ArrayPool<float>.Shared.Rent(options.BatchSize * k.Channels * k.Spatial) : null).ToArray();

            // Largest sites first, handed out one at a time, so that the threads finish together.
            int[] order = Enumerable.Range(0, collectors.Count).OrderByDescending(i => (long)collectors[i].Channels * collectors[i].Spatial).ToArray();
            OrderablePartitioner<int> sitesInOrder = Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering);
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Execution is { IntraOpThreads: > 0 } execution ? execution.IntraOpThreads : Environment.ProcessorCount };
            BoundBatch? full = null;
            int filled = 0;
            long seen = 0;

            void Flush()
            {
                if (filled > 0 && collectors.Count > 0)
                {
                    // ONNX Runtime writes every probe into its pre-allocated array (no allocation or copy per batch); the
                    // sites' statistics are independent, so they are updated in parallel, each by one thread in order.
                    BoundBatch batch = filled == options.BatchSize ? full ??= new BoundBatch(inputBuffer, outputs, shapes, filled) : new BoundBatch(inputBuffer, outputs, shapes, filled);
                    try
                    {
                        session.RunInto(s_inputNames, batch.Input, outputNames, batch.Outputs);
                    }
                    finally
                    {
                        if (batch != full)
                        {
                            batch.Dispose();
                        }
                    }

                    int n = filled;
                    long statisticsStarted = Stopwatch.GetTimestamp();
                    Parallel.ForEach(sitesInOrder, parallel, i =>
                    {
                        try
                        {
                            (ChannelStatistics stats, int channels, int spatial, int probe, bool relu) = collectors[i];
                            Span<float> values = outputs[probe].AsSpan(0, n * channels * spatial);
                            if (relu)
                            {
                                Span<float> output = rectified[i].AsSpan(0, values.Length);
                                TensorPrimitives.Max(values, 0f, output);
                                values = output;
                            }

                            stats.AddBatch(values, n);
                        }
                        catch (Exception e)
                        {
                            errors[i] = e;
                        }
                    });
                    statisticsTicks += Stopwatch.GetTimestamp() - statisticsStarted;
                    foreach (Exception? error in errors)
                    {
                        if (error != null)
                        {
                            ExceptionDispatchInfo.Throw(error);
                        }
                    }
                }

                bool report = filled > 0 && collectors.Count > 0;
                seen += filled;
                filled = 0;
                if (report)
                {
                    options.Progress?.Report(seen);
                }
            }

            try
            {
                foreach (float[] sample in samples)
                {
                    if (sample == null || sample.Length != sampleSize)
                    {
                        throw new ArgumentException($"Calibration sample {seen + filled} has {sample?.Length ?? 0} values; the network input [{string.Join(",", network.InputShape)}] needs {sampleSize}.", nameof(samples));
                    }

                    Array.Copy(sample, 0, inputBuffer, filled * sampleSize, sampleSize);
                    if (++filled == options.BatchSize)
                    {
                        Flush();
                    }
                }

                Flush();
            }
            finally
            {
                full?.Dispose();
                foreach ((ChannelStatistics stats, _, _, _, _) in collectors)
                {
                    stats.ReleaseBuffers();
                }

                foreach (float[]? array in outputs.Concat(rectified))
                {
                    if (array != null)
                    {
                        ArrayPool<float>.Shared.Return(array);
                    }
                }
            }

            if (seen == 0)
            {
                throw new ArgumentException("The calibration data is empty; at least one sample is needed.", nameof(samples));
            }

            foreach ((ChannelStatistics output, ChannelStatistics input) in rectifiedExtremes)
            {
                output.SetRectifiedExtremes(input);
            }

            TimeSpan statisticsTime = Stopwatch.GetElapsedTime(0, statisticsTicks);
            return new CalibrationResult(results, seen, options.Granularity)
            {
                Timings = new CalibrationTimings(sessionTime, Stopwatch.GetElapsedTime(started) - sessionTime - statisticsTime, statisticsTime),
            };
        }

        private static readonly string[] s_inputNames = { AnnExporter.InputName };

        private static ChannelStatistics NewStatistics(int[] shape, CalibrationOptions options, CalibrationStatistics statistics, out int channels, out int spatial)
        {
            channels = shape.Length == 0 ? 1 : shape[0];
            spatial = Math.Max(1, ShapeUtil.Size(shape) / Math.Max(channels, 1));
            return new ChannelStatistics(channels, spatial, options.Granularity, options.Percentile, options.ExactCapacity, statistics, options.LowestPercentile);
        }

        /// <summary>ONNX Runtime values over the first <c>n</c> samples of the input and probe arrays (pinned while alive).</summary>
        private sealed class BoundBatch : IDisposable
        {
            public BoundBatch(float[] input, float[][] outputs, long[][] shapes, int n)
            {
                Outputs = new OrtValue[outputs.Length];
                try
                {
                    Input[0] = Bind(input, shapes[0], n);
                    for (int i = 0; i < outputs.Length; i++)
                    {
                        Outputs[i] = Bind(outputs[i], shapes[i + 1], n);
                    }
                }
                catch
                {
                    Dispose();
                    throw;
                }
            }

            public OrtValue[] Input { get; } = new OrtValue[1];

            public OrtValue[] Outputs { get; }

            public void Dispose()
            {
                Input[0]?.Dispose();
                foreach (OrtValue? value in Outputs)
                {
                    value?.Dispose();
                }
            }

            private static OrtValue Bind(float[] array, long[] sampleShape, int n)
            {
                long[] shape = (long[])sampleShape.Clone();
                shape[0] = n;
                long size = shape.Aggregate(1L, (a, d) => a * d);
                return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(array, 0, (int)size), shape);
            }
        }
    }
}
