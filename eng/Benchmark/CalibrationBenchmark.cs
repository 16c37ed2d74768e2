// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Benchmark
{
    /// <summary>
    /// Calibration cost against one ANN pass over the same real images at the same batch size, both through ONNX
    /// Runtime on the lowered graph and both from the same in-memory CHW tensors (image decoding is timed once,
    /// apart, and excluded from both).
    /// </summary>
    internal static class CalibrationBenchmark
    {
        /// <summary>
        /// Reads up to <paramref name="count"/> images from the folder beside the model (<c>test/</c> for the
        /// CIFAR-10 JPEGs, <c>images/</c> for the demo PNGs), taking the classes' sub-folders in turn so every class is
        /// represented; decoded with ML.NET's LoadImages/ExtractPixels to CHW floats in [0, 1].
        /// </summary>
        public static float[][]? LoadImages(string modelPath, int[] inputShape, int count, out string description, out double decodeSeconds)
        {
            string directory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
            string? folder = new[] { "test", "images" }.Select(f => Path.Combine(directory, f)).FirstOrDefault(Directory.Exists);
            description = string.Empty;
            decodeSeconds = 0;
            if (folder == null || inputShape.Length != 3 || inputShape[0] != 3)
            {
                return null;
            }
            string[][] classes = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal)
                .Select(d => Directory.GetFiles(d).Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
                    .OrderBy(f => f, StringComparer.Ordinal).ToArray())
                .Where(files => files.Length > 0).ToArray();
            var paths = new List<string>();
            for (int i = 0; paths.Count < count && classes.Any(c => i < c.Length); i++)
            {
                foreach (string[] files in classes)
                {
                    if (i < files.Length && paths.Count < count)
                    {
                        paths.Add(files[i]);
                    }
                }
            }
            var sw = Stopwatch.StartNew();
            var ml = new MLContext(seed: 1);
            IDataView rows = ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { Path = p }));
            var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageRow.Path))
                .Append(ml.Transforms.ResizeImages("Image", inputShape[2], inputShape[1]))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255));
            IDataView pixels = pipeline.Fit(rows).Transform(rows);
            var images = new List<float[]>(paths.Count);
            using (DataViewRowCursor cursor = pixels.GetRowCursor(pixels.Schema.Where(c => c.Name == "Pixels")))
            {
                ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(pixels.Schema["Pixels"]);
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    getter(ref buffer);
                    images.Add(buffer.DenseValues().ToArray());
                }
            }
            decodeSeconds = sw.Elapsed.TotalSeconds;
            description = $"{images.Count} real images from {Path.GetFileName(directory)}/{Path.GetFileName(folder)}/ ({classes.Length} classes in turn)";
            return images.ToArray();
        }

        /// <summary>Prints the ANN pass and the calibration of each threshold kind and granularity, with their breakdowns.</summary>
        public static void Run(Network ann, float[][] images, string description, double decodeSeconds, int batch, int repeats)
        {
            int size = ann.InputShape.Aggregate(1, (a, d) => a * d);
            int sites = Calibrator.FindActivationSites(ann).Count;
            int batches = (images.Length + batch - 1) / batch;
            Console.WriteLine($"Calibration vs one ANN pass: {description}, decoded once in {decodeSeconds * 1000:F0} ms (not in any figure below); " +
                $"batch {batch} ({batches} ONNX Runtime calls), {sites} activation sites, best of at least {repeats} runs and {MinimumSeconds:F1} s per figure.");

            // One ANN pass: the lowered graph (as calibration runs it, without probe outputs), batches packed from the same arrays.
            var buffer = new float[batch * size];
            void AnnPass(AnnRunner runner)
            {
                for (int start = 0; start < images.Length; start += batch)
                {
                    int n = Math.Min(batch, images.Length - start);
                    for (int i = 0; i < n; i++)
                    {
                        Array.Copy(images[start + i], 0, buffer, i * size, size);
                    }
                    runner.Run(n == batch ? buffer : buffer.AsSpan(0, n * size).ToArray(), n);
                }
            }
            double annTotal = Best(repeats, () =>
            {
                using var runner = new AnnRunner(ann);
                AnnPass(runner);
            });
            double annSession = Best(repeats, () => new AnnRunner(ann).Dispose());
            double annRuns;
            using (var warm = new AnnRunner(ann))
            {
                AnnPass(warm);
                annRuns = Best(repeats, () => AnnPass(warm));
            }
            Console.WriteLine($"  ANN pass, end to end: {Ms(annTotal)} (export + session creation {Ms(annSession)}, runs on a warm session {Ms(annRuns)})");
            Console.WriteLine("  calibration kind (statistics + thresholds)            granularity  end to end   x ANN pass   breakdown");

            int levels = ThresholdIteration.LevelCount(8, 4);
            // The statistics each kind keeps are those the estimator asks for (SpikingConversionEstimator.Fit).
            // The percentile kind keeps the histogram's upper tail and fewer exact values, as the estimator does; Collect's
            // default keeps every statistic, the whole histogram and the default capacity.
            var kinds = new (string Name, bool PreActivations, CalibrationStatistics Statistics, bool Tail, Func<SiteStatistics, float[]> Thresholds)[]
            {
                ("max: extremes (parallel default)", false, CalibrationStatistics.Extremes, false, s => s.Output.GetMax()),
                ("99.9th percentile (rate coding, bit-serial)", false, CalibrationStatistics.Percentiles, true, s => s.Output.GetPercentile(99.9)),
                ("iteration: input moments (differential)", true, CalibrationStatistics.Extremes, false, s => ThresholdIteration.Solve(s.Input!.GetMean(), s.Input!.GetVariance(), levels)),
                ("percentile, every statistic kept (Collect's default)", false, CalibrationStatistics.All, false, s => s.Output.GetPercentile(99.9)),
            };
            foreach (var kind in kinds)
            {
                foreach (StatisticsGranularity granularity in new[] { StatisticsGranularity.Layer, StatisticsGranularity.Channel, StatisticsGranularity.Neuron })
                {
                    if (granularity == StatisticsGranularity.Neuron && !kind.PreActivations)
                    {
                        continue;
                    }
                    var options = new CalibrationOptions { BatchSize = batch, Granularity = granularity, IncludePreActivations = kind.PreActivations, Statistics = kind.Statistics };
                    if (kind.Tail)
                    {
                        options.LowestPercentile = 99.9;
                        options.ExactCapacity = PercentileEstimator.ThresholdCapacity;
                    }

                    var parts = new List<CalibrationTimings>();
                    double total = Best(repeats, () =>
                    {
                        CalibrationResult result = Calibrator.Collect(ann, images, options);
                        parts.Add(result.Timings);
                        foreach (SiteStatistics site in result.Sites.Values)
                        {
                            kind.Thresholds(site);
                        }
                    });
                    bool isDefault = granularity == StatisticsGranularity.Channel;
                    Console.WriteLine($"  {kind.Name,-52} {granularity,-11} {Ms(total),10} {total / annTotal,8:F2}{(isDefault ? "*" : " ")}   session {parts.Min(p => p.Session.TotalMilliseconds):F0}, runs {parts.Min(p => p.Runs.TotalMilliseconds):F0}, statistics {parts.Min(p => p.Statistics.TotalMilliseconds):F0} ms (each the best of {parts.Count})");
                }
            }
            Console.WriteLine("  (* the conversion methods' default granularity; x ANN pass = calibration end to end / ANN pass end to end)");
        }

        private static string Ms(double seconds) => $"{seconds * 1000:F0} ms";

        /// <summary>
        /// The best time of <paramref name="action"/> over at least <paramref name="repeats"/> calls and half a second: the demo
        /// model's pass and calibrations take 10-20 ms, and their best of three moved with whatever else held a core then.
        /// </summary>
        private static double Best(int repeats, Action action)
        {
            double best = double.MaxValue;
            var total = Stopwatch.StartNew();
            for (int i = 0; i < repeats || total.Elapsed.TotalSeconds < MinimumSeconds; i++)
            {
                var sw = Stopwatch.StartNew();
                action();
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            return best;
        }

        /// <summary>Seconds each figure is repeated for at least.</summary>
        private const double MinimumSeconds = 0.5;

        private sealed class ImageRow
        {
            public string Path { get; set; } = string.Empty;
        }
    }
}
