// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
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

namespace Microsoft.ML.Spiking.Benchmark
{
    /// <summary>
    /// Throughput and memory figures, measured in one run so their ratios are comparable on a noisy machine:
    /// ANN images/s (ONNX Runtime on the original file, and on the lowered graph at batch 64), rate-coded SNN
    /// images/s at several T, the efficiency ratio (SNN images/s × T) / (ANN images/s), calibration time against one
    /// ANN pass over the same images, and peak working set.
    /// </summary>
    internal static class Program
    {
        /// <summary>--count=false: simulate without synaptic-operation counting (to see what counting costs).</summary>
        private static bool s_count = true;

        /// <summary>--methods=rate,differential,parallel,bit-serial: the methods to simulate (default all).</summary>
        private static string[] s_methods = { "rate", "differential", "parallel", "bit-serial" };

        /// <summary>
        /// --kernels=native|standard|both: lowering of the simulations. native (default): the library's defaults (bit-packed spikes
        /// with fused convolution + IF kernels for rate coding, the fused multi-threshold kernel for differential coding);
        /// standard: standard ONNX ops only; both: one row each for standard ops [std], the fused neuron kernels with ONNX Runtime's
        /// convolutions [fused], and bit-packed spikes [packed] where they apply.
        /// </summary>
        private static KernelVariant[] s_kernels = { KernelVariant.Default };

        /// <summary>One lowering the benchmark runs: its row label and the simulation options that select it.</summary>
        private sealed record KernelVariant(string Label, bool Native, bool FuseIfNeurons, bool PackSpikes)
        {
            public static readonly KernelVariant Default = new KernelVariant(string.Empty, true, false, true);
            public static readonly KernelVariant Standard = new KernelVariant(" [std]", false, false, false);
            public static readonly KernelVariant Fused = new KernelVariant(" [fused]", true, true, false);
            public static readonly KernelVariant Packed = new KernelVariant(" [packed]", true, false, true);
            public static readonly KernelVariant Defaults = new KernelVariant(" (default)", true, false, true);
        }

        /// <summary>Seconds of calls of the lowered ANN whose best gives its images/s.</summary>
        private const double AnnSeconds = 0.5;

        /// <summary>--parallel-vs-sequential=false skips that comparison.</summary>
        private static bool s_parallelComparison = true;

        /// <summary>--calibration-images=N: real images per model for the calibration figures (default 512); --calibration-only skips the rest.</summary>
        private static int s_calibrationImages = 512;
        private static bool s_calibrationOnly;

        public static int Main(string[] args)
        {
            var options = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0].TrimStart('-'), p => p.Length > 1 ? p[1] : "true");
            string data = options.GetValueOrDefault("data") ?? Path.Combine("..", "shared", "data");
            int batch = int.Parse(options.GetValueOrDefault("batch") ?? "64", CultureInfo.InvariantCulture);
            int[] steps = (options.GetValueOrDefault("T") ?? "4,8,32").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
            int repeats = int.Parse(options.GetValueOrDefault("repeats") ?? "3", CultureInfo.InvariantCulture);
            s_count = (options.GetValueOrDefault("count") ?? "true") == "true";
            if (options.TryGetValue("help", out _))
            {
                Console.WriteLine("Options: --data=PATH --batch=64 --T=4,8,32 --repeats=3 --count=true|false --methods=rate,differential,parallel,bit-serial");
                Console.WriteLine("         --kernels=native|standard|both --parallel-vs-sequential=true|false --memory-T=N --memory-only[=MiB]");
                Console.WriteLine("         --calibration-images=512 (real images per model for the calibration figures) --calibration-only (ANN and calibration figures only)");
                return 0;
            }
            if (options.TryGetValue("methods", out string? methods))
            {
                s_methods = methods.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
            s_kernels = (options.GetValueOrDefault("kernels") ?? "native") switch
            {
                "native" => new[] { KernelVariant.Default },
                "standard" => new[] { KernelVariant.Standard },
                "both" => new[] { KernelVariant.Standard, KernelVariant.Fused, KernelVariant.Packed },
                string other => throw new ArgumentException($"--kernels={other}: use native, standard or both."),
            };
            s_parallelComparison = (options.GetValueOrDefault("parallel-vs-sequential") ?? "true") == "true";
            s_calibrationImages = int.Parse(options.GetValueOrDefault("calibration-images") ?? "512", CultureInfo.InvariantCulture);
            s_calibrationOnly = options.ContainsKey("calibration-only");
            int longT = int.Parse(options.GetValueOrDefault("memory-T") ?? "0", CultureInfo.InvariantCulture);
            if (options.TryGetValue("memory-only", out string? budget))
            {
                // A fresh process for the long-T memory figure alone: resnet20, rate coding, batch B, the given memory budget (MiB).
                return MemoryOnly(data, batch, longT > 0 ? longT : 1024, long.Parse(budget == "true" ? "1024" : budget, CultureInfo.InvariantCulture));
            }
            string repo = FindRepositoryRoot();

            Console.WriteLine($"Microsoft.ML.Spiking benchmark: {Environment.ProcessorCount} logical cores, batch {batch}, best of {repeats} runs per figure.");
            Console.WriteLine($"Neuron kernels: {SpikingSimulator.NativeKernelStatus}");
            var models = new List<(string Name, string Path, float[]? Mean, float[]? Std)>
            {
                ("shapes-cnn (embedded demo)", System.IO.Path.Combine(repo, "samples", "ImageClassification", "assets", "shapes-cnn.onnx"), null, null),
            };
            string resnet = System.IO.Path.Combine(data, "cifar10", "resnet20.onnx");
            if (File.Exists(resnet))
            {
                models.Add(("resnet20 (CIFAR-10)", resnet, new[] { 0.4914f, 0.4822f, 0.4465f }, new[] { 0.2023f, 0.1994f, 0.2010f }));
            }
            else
            {
                Console.WriteLine($"resnet20 skipped: {Path.GetFullPath(resnet)} not found (pass --data=PATH).");
            }
            foreach (var model in models)
            {
                Run(model.Name, model.Path, model.Mean, model.Std, batch, steps, repeats, longT);
            }
            Console.WriteLine($"Peak working set of the whole run: {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
            return 0;
        }

        private static void Run(string name, string path, float[]? mean, float[]? std, int batch, int[] steps, int repeats, int longT)
        {
            Network imported = OnnxImporter.Load(path);
            Network ann = NetworkPreparation.Prepare(imported, new PreparationOptions { InputMean = mean, InputStd = std });
            int size = ann.InputShape.Aggregate(1, (a, d) => a * d);
            var random = new Random(1);
            float[] inputs = Enumerable.Range(0, batch * size).Select(_ => (float)random.NextDouble()).ToArray();
            float[][] samples = Enumerable.Range(0, batch).Select(i => inputs.AsSpan(i * size, size).ToArray()).ToArray();
            Console.WriteLine();
            Console.WriteLine($"== {name}: input [N,{string.Join(",", ann.InputShape)}], {ann.Layers.Count} layers after preparation");

            (double original, int originalBatch) = OriginalAnnImagesPerSecond(path, imported, samples, mean, std, repeats);
            using var annRunner = new AnnRunner(ann);
            // One warm-up call, then the best call over half a second: a call takes a millisecond or two, and the best of three
            // such short calls moved by 2x between runs on this machine (something else held a core for those few
            // milliseconds) — this is the denominator of every efficiency ratio.
            annRunner.Run(inputs, batch);
            double annSeconds = BestOver(AnnSeconds, () => annRunner.Run(inputs, batch));
            double annRate = batch / annSeconds;
            string fixedBatch = originalBatch == 1 && batch > 1 ? ", the file fixes batch 1" : string.Empty;
            Console.WriteLine($"ANN, original file (batch {originalBatch} per call{fixedBatch}): {original,10:F0} images/s");
            Console.WriteLine($"ANN, lowered graph (batch {batch}):          {annRate,10:F0} images/s");

            // The figure issue 8 started from: one default calibration of the batch of random samples (session creation
            // included) against one batch run on a warm ANN session.
            double calibrationSeconds = Best(repeats, () => Calibrator.Collect(ann, samples, new CalibrationOptions { BatchSize = batch }));
            Console.WriteLine($"Calibration ({batch} random samples, end to end): {calibrationSeconds * 1000:F0} ms = {calibrationSeconds / annSeconds:F2} x one warm ANN batch run");

            float[][]? calibrationImages = CalibrationBenchmark.LoadImages(path, ann.InputShape, s_calibrationImages, out string calibrationSet, out double decodeSeconds);
            if (calibrationImages != null)
            {
                CalibrationBenchmark.Run(ann, calibrationImages, calibrationSet, decodeSeconds, batch, repeats);
            }
            else
            {
                Console.WriteLine("Calibration figures skipped: no image folder (test/ or images/) beside the model.");
            }
            if (s_calibrationOnly)
            {
                return;
            }

            // Thresholds and spike counts depend on the data: with real images at hand the networks are calibrated on them
            // and simulate a batch of them, as a user's run would; random samples otherwise.
            float[][] calibrationSamples = samples;
            if (calibrationImages != null && calibrationImages.Length >= batch)
            {
                calibrationSamples = calibrationImages;
                inputs = calibrationImages.Take(batch).SelectMany(s => s).ToArray();
                Console.WriteLine($"Simulations: calibrated on the {calibrationImages.Length} real images ({calibrationSet}), run on the first {batch} of them.");
            }
            else
            {
                Console.WriteLine($"Simulations: calibrated on and run with {batch} random samples (no real images found).");
            }
            CalibrationResult stats = Calibrator.Collect(ann, calibrationSamples, new CalibrationOptions { IncludePreActivations = true });
            SpikingNetwork snn = RateCodingConverter.Convert(ann, stats);
            Network swapped = NetworkPreparation.Prepare(imported, new PreparationOptions { InputMean = mean, InputStd = std, SwapReluMaxPool = true });
            CalibrationResult swappedStats = Calibrator.Collect(swapped, calibrationSamples, new CalibrationOptions { IncludePreActivations = true });
            SpikingNetwork parallel = ParallelConverter.Convert(ann, stats);
            Console.WriteLine("  method                   T   images/s   efficiency = images/s x T / ANN images/s");
            foreach (int t in steps)
            {
                var networks = new List<(string Method, Func<SpikingNetwork> Network)>
                {
                    ("rate", () => snn),
                    ("differential", () => DifferentialCodingConverter.Convert(swapped, swappedStats, new DifferentialCodingOptions { TimeSteps = t })),
                    ("parallel", () => parallel),
                };
                if (t <= BitSerialNeuronLayer.MaxBits)
                {
                    networks.Add(("bit-serial", () => BitSerialConverter.Convert(ann, stats, new BitSerialOptions { Bits = t })));
                }
                foreach ((string method, Func<SpikingNetwork> convert) in networks.Where(n => s_methods.Contains(n.Method)))
                {
                    SpikingNetwork network = convert();
                    // With --kernels=both, a parallel network (which neither the fused nor the packed row applies to) also gets a
                    // row with the library's defaults, which count its spikes with the native TrainCounts.
                    IEnumerable<KernelVariant> variants = s_kernels.Length > 1 ? s_kernels.Append(KernelVariant.Defaults) : s_kernels;
                    bool nativeRow = false;
                    foreach (KernelVariant variant in variants)
                    {
                        using var simulator = new SpikingSimulator(network, new SimulationOptions
                        {
                            TimeSteps = t, CountSynapticOperations = s_count, UseNativeKernels = variant.Native, FuseIfNeurons = variant.FuseIfNeurons, PackSpikes = variant.PackSpikes,
                        });
                        bool applies = variant == KernelVariant.Default || variant == KernelVariant.Standard
                            || (variant == KernelVariant.Fused && simulator.UsesNativeKernels && !simulator.PacksSpikes)
                            || (variant == KernelVariant.Packed && simulator.PacksSpikes)
                            || (variant == KernelVariant.Defaults && !nativeRow && method == "parallel");
                        if (!applies)
                        {
                            continue; // that kernel does not apply to this network: another row is this run
                        }
                        nativeRow |= variant == KernelVariant.Fused || variant == KernelVariant.Packed;
                        simulator.Run(inputs, batch);
                        // Measured as the ANN is (the best call over half a second, at least `repeats` calls): a demo-model
                        // batch takes 2–20 ms, and the best of three such calls moved by a third from run to run.
                        double seconds = BestOver(AnnSeconds, () => simulator.Run(inputs, batch), repeats);
                        double rate = batch / seconds;
                        string label = method == "rate" ? "rate coding" : method;
                        Console.WriteLine($"  {label + variant.Label,-21} {t,4} {rate,10:F1}   {rate * t / annRate,6:F3}");
                    }
                }
            }

            // Parallel neuron against the sequential IF simulation of the same network (same θ), one batch size per T
            // so that T·B stays at most 1,024 rows in the parallel block.
            if (s_parallelComparison)
            {
                SpikingNetwork sequential = ParallelConverter.SequentialEquivalent(parallel);
                Console.WriteLine("  parallel vs sequential IF (same θ):  T  batch  parallel img/s  sequential img/s  ratio");
                foreach (int t in new[] { 8, 32, 128 })
                {
                    int rows = Math.Max(1, Math.Min(batch, 1024 / t));
                    float[] part = inputs.AsSpan(0, rows * size).ToArray();
                    using var p = new SpikingSimulator(parallel, new SimulationOptions { TimeSteps = t });
                    using var s = new SpikingSimulator(sequential, new SimulationOptions { TimeSteps = t });
                    p.Run(part, rows);
                    s.Run(part, rows);
                    double parallelRate = rows / Best(repeats, () => p.Run(part, rows));
                    double sequentialRate = rows / Best(repeats, () => s.Run(part, rows));
                    Console.WriteLine($"  {string.Empty,36}{t,3} {rows,6} {parallelRate,15:F1} {sequentialRate,17:F1} {parallelRate / sequentialRate,6:F2}");
                }
            }
            if (longT > 0)
            {
                long before = Process.GetCurrentProcess().PeakWorkingSet64;
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = longT });
                var sw = Stopwatch.StartNew();
                simulator.Run(inputs, batch);
                Console.WriteLine($"  rate coding T={longT}, batch {batch}: {sw.Elapsed.TotalSeconds:F1} s, peak working set {Math.Max(before, Process.GetCurrentProcess().PeakWorkingSet64) / (1 << 20)} MiB");
            }
        }

        /// <summary>The long-T memory figure alone, in a process of its own: ResNet-20, rate coding, one batch, the given chunk memory budget.</summary>
        private static int MemoryOnly(string data, int batch, int steps, long budgetMiB)
        {
            string path = Path.Combine(data, "cifar10", "resnet20.onnx");
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(path), new PreparationOptions { InputMean = new[] { 0.4914f, 0.4822f, 0.4465f }, InputStd = new[] { 0.2023f, 0.1994f, 0.2010f } });
            int size = ann.InputShape.Aggregate(1, (a, d) => a * d);
            var random = new Random(1);
            float[] inputs = Enumerable.Range(0, batch * size).Select(_ => (float)random.NextDouble()).ToArray();
            float[][] samples = Enumerable.Range(0, batch).Select(i => inputs.AsSpan(i * size, size).ToArray()).ToArray();
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrator.Collect(ann, samples));
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, MemoryBudgetBytes = budgetMiB << 20 });
            var sw = Stopwatch.StartNew();
            simulator.Run(inputs, batch);
            Console.WriteLine($"resnet20, rate coding, T = {steps}, batch {batch}, memory budget {budgetMiB} MiB (chunks of {simulator.GetChunkSteps(batch)} steps): {sw.Elapsed.TotalSeconds:F1} s, peak working set of the process {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
            return 0;
        }

        /// <summary>
        /// ONNX Runtime on the unmodified file, the whole batch per call where the file's batch axis is free; a file that
        /// fixes batch 1 (ResNet-20) is called once per image. Returns images/s and the batch per call.
        /// </summary>
        private static (double ImagesPerSecond, int Batch) OriginalAnnImagesPerSecond(string path, Network imported, float[][] samples, float[]? mean, float[]? std, int repeats)
        {
            using var session = new InferenceSession(path);
            string input = session.InputNames[0];
            int perCall = session.InputMetadata[input].Dimensions[0] > 0 ? 1 : samples.Length;
            long[] shape = new long[] { perCall }.Concat(imported.InputShape.Select(d => (long)d)).ToArray();
            int perChannel = samples[0].Length / imported.InputShape[0];
            float[] fed = samples.SelectMany(s => s.Select((v, i) => mean == null ? v : (v - mean[i / perChannel]) / std![i / perChannel])).ToArray();
            int size = samples[0].Length;
            float[][] calls = Enumerable.Range(0, samples.Length / perCall).Select(c => fed.AsSpan(c * perCall * size, perCall * size).ToArray()).ToArray();
            using var runOptions = new RunOptions();
            double seconds = Best(repeats, () =>
            {
                foreach (float[] call in calls)
                {
                    using OrtValue value = OrtValue.CreateTensorValueFromMemory(call, shape);
                    using var outputs = session.Run(runOptions, new[] { input }, new[] { value }, session.OutputNames);
                }
            });
            return (perCall * calls.Length / seconds, perCall);
        }

        /// <summary>The best time of <paramref name="action"/> called again and again for <paramref name="seconds"/> (at least <paramref name="calls"/> calls).</summary>
        private static double BestOver(double seconds, Action action, int calls = 3)
        {
            double best = double.MaxValue;
            var total = Stopwatch.StartNew();
            for (int call = 0; call < calls || total.Elapsed.TotalSeconds < seconds; call++)
            {
                var sw = Stopwatch.StartNew();
                action();
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            return best;
        }

        private static double Best(int repeats, Action action)
        {
            double best = double.MaxValue;
            for (int i = 0; i < repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                action();
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            return best;
        }

        private static string FindRepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Spiking.sln")))
                {
                    return dir.FullName;
                }
            }
            return Directory.GetCurrentDirectory();
        }
    }
}
