// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.BitSerial;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Conversion.ParallelConversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Evaluate
{
    /// <summary>
    /// Accuracy of the CIFAR-10 ResNet-20 and of its rate-coded conversion on the CIFAR-10 JPEG test set
    /// (../shared/data/cifar10/test/&lt;class&gt;/NNNN.jpg), decoded by ML.NET's LoadImages/ExtractPixels.
    /// Calibration uses files 0500–0549 of each class (500 images); every other image is evaluated.
    /// Per-image predictions go to a CSV as they are computed, so an interrupted run resumes where it stopped.
    /// </summary>
    internal static class Program
    {
        private static readonly string[] s_classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };
        private static readonly int[] s_checkpoints = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };

        private sealed class ImageRow
        {
            public string ImagePath { get; set; } = string.Empty;

            public int Label { get; set; }

            public int Index { get; set; }
        }

        private sealed class PixelRow
        {
            [VectorType(3, 32, 32)]
            public float[] Pixels { get; set; } = Array.Empty<float>();

            public int Label { get; set; }

            public int Index { get; set; }
        }

        public static int Main(string[] args)
        {
            var options = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0].TrimStart('-'), p => p.Length > 1 ? p[1] : "true");
            string data = Get(options, "data", Path.Combine("..", "shared", "data"));
            int timeSteps = int.Parse(Get(options, "T", "256"), CultureInfo.InvariantCulture);
            int batch = int.Parse(Get(options, "batch", "50"), CultureInfo.InvariantCulture);
            string granularity = Get(options, "granularity", "channel");
            string method = Get(options, "method", "rate");
            bool differential = method == "differential";
            bool bitSerial = method == "bitserial";
            bool parallel = method == "parallel";
            bool distributionAware = Get(options, "da", "false") == "true";
            bool everyRow = Get(options, "every-row", "false") == "true";
            string thresholds = Get(options, "thresholds", differential ? "iteration" : parallel ? "max" : "p99.9");
            int levels = int.Parse(Get(options, "n", "4"), CultureInfo.InvariantCulture);
            string neuron = Get(options, "neuron", "mt");
            string iteration = Get(options, "iteration", "converge");
            string tag = differential ? $"diff-{neuron}-n{levels}-{thresholds}{(iteration == "reference" ? "-ref" : string.Empty)}" : bitSerial ? "bitserial-" + thresholds : parallel ? $"parallel-{thresholds}{(distributionAware ? "-da" : string.Empty)}" : "rate-" + thresholds;
            string output = Get(options, "out", Path.Combine("artifacts", $"{tag}-{granularity}-T{timeSteps}.csv"));
            int limit = int.Parse(Get(options, "limit", "100000"), CultureInfo.InvariantCulture);
            string folder = Path.Combine(data, "cifar10", "test");
            if (!Directory.Exists(folder))
            {
                Console.Error.WriteLine($"CIFAR-10 JPEG test set not found at {Path.GetFullPath(folder)} (pass --data=PATH to the shared data folder).");
                return 2;
            }

            var all = new List<ImageRow>();
            for (int c = 0; c < s_classes.Length; c++)
            {
                foreach (string file in Directory.GetFiles(Path.Combine(folder, s_classes[c]), "*.jpg").OrderBy(f => f, StringComparer.Ordinal))
                {
                    int index = int.Parse(Path.GetFileNameWithoutExtension(file), CultureInfo.InvariantCulture);
                    all.Add(new ImageRow { ImagePath = file, Label = c, Index = index });
                }
            }
            bool IsCalibration(ImageRow r) => r.Index >= 500 && r.Index < 550;
            // Evaluation order: the peer-figures subset (files 0000–0099 of each class) first, then the rest,
            // interleaving classes so a partial run is a stratified sample.
            var evaluation = all.Where(r => everyRow || !IsCalibration(r))
                .OrderBy(r => r.Index < 100 ? 0 : 1).ThenBy(r => r.Index).ThenBy(r => r.Label).Take(limit).ToList();
            var calibration = all.Where(IsCalibration).ToList();

            var ml = new MLContext(seed: 1);
            var pipeline = ml.Transforms.LoadImages("Image", null, nameof(ImageRow.ImagePath))
                .Append(ml.Transforms.ResizeImages("Image", 32, 32))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255));
            IEnumerable<PixelRow> Load(IEnumerable<ImageRow> rows)
            {
                IDataView view = ml.Data.LoadFromEnumerable(rows);
                return ml.Data.CreateEnumerable<PixelRow>(pipeline.Fit(view).Transform(view), reuseRowObject: false);
            }

            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(Path.Combine(data, "cifar10", "resnet20.onnx")), new PreparationOptions
            {
                InputMean = new[] { 0.4914f, 0.4822f, 0.4465f },
                InputStd = new[] { 0.2023f, 0.1994f, 0.2010f },
            });
            var sw = Stopwatch.StartNew();
            using (var fullAnn = new AnnRunner(ann))
            {
                int correct = 0;
                foreach (PixelRow[] chunk in Load(all).Chunk(250))
                {
                    float[] logits = fullAnn.Run(chunk.SelectMany(r => r.Pixels).ToArray(), chunk.Length);
                    correct += chunk.Where((r, i) => SimulationResult.ArgMax(logits.AsSpan(i * 10, 10)) == r.Label).Count();
                }
                Console.WriteLine($"ANN on all {all.Count} JPEG test images: {100.0 * correct / all.Count:F2} % ({correct}/{all.Count}), {sw.Elapsed.TotalSeconds:F1} s.");
            }
            sw.Restart();
            var calibrationOptions = new CalibrationOptions
            {
                Granularity = granularity switch { "layer" => StatisticsGranularity.Layer, "neuron" => StatisticsGranularity.Neuron, _ => StatisticsGranularity.Channel },
                IncludePreActivations = thresholds == "iteration",
            };
            CalibrationResult stats = Calibrator.Collect(ann, Load(calibration).Select(r => r.Pixels), calibrationOptions);
            Console.WriteLine($"Calibrated on {stats.SampleCount} images in {sw.Elapsed.TotalSeconds:F1} s.");
            ThresholdMethod thresholdMethod = thresholds switch { "max" => ThresholdMethod.Max, "iteration" => ThresholdMethod.Iteration, _ => ThresholdMethod.Percentile };
            double percentile = thresholds.StartsWith('p') ? double.Parse(thresholds[1..], CultureInfo.InvariantCulture) : 99.9;
            SpikingNetwork snn = parallel
                ? ParallelConverter.Convert(ann, stats, new ParallelOptions { Thresholds = thresholdMethod, Percentile = percentile, TimeSteps = timeSteps })
                : bitSerial
                ? BitSerialConverter.Convert(ann, stats, new BitSerialOptions { Bits = timeSteps, Quantization = thresholdMethod, Percentile = percentile })
                : differential
                ? DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions
                {
                    Thresholds = thresholdMethod,
                    Percentile = percentile,
                    ThresholdLevels = levels,
                    TimeSteps = timeSteps,
                    Neuron = neuron == "if" ? DifferentialNeuron.IntegrateAndFire : DifferentialNeuron.MultiThreshold,
                    IterationMode = iteration == "reference" ? ThresholdIterationMode.Reference : ThresholdIterationMode.Converge,
                })
                : RateCodingConverter.Convert(ann, stats, new RateCodingOptions { Thresholds = thresholdMethod, Percentile = percentile });
            if (parallel && distributionAware)
            {
                sw.Restart();
                snn = ParallelConverter.Calibrate(snn, ann, Load(calibration).Select(r => r.Pixels), new ParallelOptions { TimeSteps = timeSteps, BatchSize = 50 });
                Console.WriteLine($"Distribution-aware calibration in {sw.Elapsed.TotalSeconds:F1} s.");
            }
            foreach (string note in snn.Notes)
            {
                Console.WriteLine("note: " + note);
            }
            int[] checkpoints = s_checkpoints.Where(t => t <= timeSteps).Append(timeSteps).Distinct().ToArray();

            var done = new Dictionary<string, string>();
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            if (File.Exists(output))
            {
                foreach (string line in File.ReadLines(output).Skip(1))
                {
                    done[line.Split(',')[0]] = line;
                }
                Console.WriteLine($"Resuming: {done.Count} images already in {output}.");
            }
            else
            {
                File.WriteAllText(output, "image,label,ann," + string.Join(",", checkpoints.Select(t => $"T{t}")) + "," +
                    string.Join(",", checkpoints.Select(t => $"sops_T{t}")) + ",spikes_per_image" + (bitSerial ? ",qann,bit_mismatches" : string.Empty) + Environment.NewLine);
            }

            var todo = evaluation.Where(r => !done.ContainsKey(Key(r))).ToList();
            // The ANN runners take turns with the simulation, batch by batch: their threads must not spin meanwhile.
            var turns = new ExecutionOptions { AllowSpinning = false };
            using var annRunner = new AnnRunner(ann, turns);
            using var quantizedRunner = bitSerial ? new AnnRunner(BitSerialConverter.QuantizedAnn(snn), turns) : null;
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = timeSteps });
            Console.WriteLine($"Evaluating {todo.Count} images (of {evaluation.Count}) at T = {timeSteps}, chunks of {simulator.GetChunkSteps(batch)} steps.");
            sw.Restart();
            int processed = 0;
            foreach (PixelRow[] chunk in Load(todo).Chunk(batch))
            {
                float[] inputs = chunk.SelectMany(r => r.Pixels).ToArray();
                float[] logits = annRunner.Run(inputs, chunk.Length);
                SimulationResult result = simulator.Run(inputs, chunk.Length);
                float[]? quantized = quantizedRunner?.Run(inputs, chunk.Length);
                IReadOnlyList<long>? mismatches = bitSerial ? BitSerialCheck.Run(snn, inputs, chunk.Length).MismatchesPerSample : null;
                var lines = new List<string>();
                for (int i = 0; i < chunk.Length; i++)
                {
                    long spikes = 0;
                    for (int l = 0; l < result.NeuronLayers.Count; l++)
                    {
                        for (int t = 1; t <= timeSteps; t++)
                        {
                            spikes += result.GetSpikeCount(l, t, i);
                        }
                    }
                    int annPrediction = SimulationResult.ArgMax(logits.AsSpan(i * 10, 10));
                    var sops = new long[timeSteps + 1];
                    for (int t = 1; t <= timeSteps; t++)
                    {
                        sops[t] = sops[t - 1] + result.GetTotalSynapticOperations(t, i);
                    }
                    lines.Add($"{s_classes[chunk[i].Label]}/{chunk[i].Index:D4},{chunk[i].Label},{annPrediction}," +
                        string.Join(",", checkpoints.Select(t => result.Predict(t, i))) + "," + string.Join(",", checkpoints.Select(t => sops[t])) + $",{spikes}" +
                        (quantized == null ? string.Empty : $",{SimulationResult.ArgMax(quantized.AsSpan(i * 10, 10))},{mismatches![i]}"));
                }
                File.AppendAllLines(output, lines);
                processed += chunk.Length;
                Console.WriteLine($"{processed}/{todo.Count} images, {processed * (double)timeSteps / sw.Elapsed.TotalSeconds:F0} image-steps/s");
            }
            long macs;
            using (var probe = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = snn.FixedTimeSteps ?? 1 }))
            {
                macs = probe.Run(new float[3 * 32 * 32], 1).TotalDenseMacs;
            }
            Summarize(output, checkpoints, macs);
            return 0;
        }

        private static string Key(ImageRow r) => $"{s_classes[r.Label]}/{r.Index:D4}";

        private static string Get(Dictionary<string, string> options, string key, string fallback) =>
            options.TryGetValue(key, out string? v) ? v : fallback;

        /// <summary>
        /// Prints accuracy on every image evaluated so far and on the peer-figures subset (files 0000–0099), with the
        /// energy ratio E_SNN/E_ANN(τ) = 0.9·ΣSOP(t ≤ τ) / (4.6·MACs) of algorithms.md §2.12 at each checkpoint.
        /// </summary>
        internal static void Summarize(string output, int[] checkpoints, long macsPerImage)
        {
            var rows = File.ReadLines(output).Skip(1).Select(l => l.Split(',')).ToList();
            void Report(string title, List<string[]> subset)
            {
                if (subset.Count == 0)
                {
                    return;
                }
                double Accuracy(int column) => 100.0 * subset.Count(r => r[column] == r[1]) / subset.Count;
                double Energy(int column) => 0.9 * subset.Average(r => double.Parse(r[column], CultureInfo.InvariantCulture)) / (4.6 * macsPerImage);
                Console.WriteLine($"{title}: {subset.Count} images");
                Console.WriteLine($"  ANN {Accuracy(2):F2} %");
                Console.WriteLine("  SNN    " + string.Join("  ", checkpoints.Select((t, i) => $"T={t}: {Accuracy(3 + i):F2} %")));
                Console.WriteLine("  energy " + string.Join("  ", checkpoints.Select((t, i) => $"T={t}: {Energy(3 + checkpoints.Length + i):F3}")));
                int spikesColumn = 3 + 2 * checkpoints.Length;
                Console.WriteLine($"  spikes per image at T={checkpoints[^1]}: {subset.Average(r => double.Parse(r[spikesColumn], CultureInfo.InvariantCulture)):F0}");
                if (subset[0].Length > spikesColumn + 2)
                {
                    int snnColumn = 3 + checkpoints.Length - 1;
                    Console.WriteLine($"  quantized ANN {100.0 * subset.Count(r => r[spikesColumn + 1] == r[1]) / subset.Count:F2} %, SNN = quantized ANN on {subset.Count(r => r[spikesColumn + 1] == r[snnColumn])}/{subset.Count} images, bit mismatches {subset.Sum(r => long.Parse(r[spikesColumn + 2], CultureInfo.InvariantCulture))}");
                }
            }
            Report("All evaluated images", rows);
            Report("Calibration files 0500-0549 excluded", rows.Where(r => int.Parse(r[0].Split('/')[1], CultureInfo.InvariantCulture) is < 500 or >= 550).ToList());
            Report("Peer-figures subset (files 0000-0099 of each class)", rows.Where(r => int.Parse(r[0].Split('/')[1], CultureInfo.InvariantCulture) < 100).ToList());
        }
    }
}
