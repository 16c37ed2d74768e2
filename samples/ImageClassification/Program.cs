// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking;

namespace Microsoft.ML.Spiking.Samples
{
    /// <summary>
    /// Converts an image classifier to a rate-coded spiking network inside an ML.NET pipeline
    /// (LoadImages → ResizeImages → ExtractPixels → ConvertToSpiking) and compares it with the ANN.
    /// With no arguments it uses the embedded demo model (shapes-cnn.onnx, trained by eng/demo-model on
    /// images the project generates itself) and the images shipped in assets/images.
    /// </summary>
    internal static class Program
    {
        private sealed class ImageRow
        {
            public string ImagePath { get; set; } = string.Empty;

            public string Label { get; set; } = string.Empty;
        }

        public static int Main(string[] args)
        {
            Dictionary<string, string> options;
            try
            {
                options = ParseArguments(args);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                PrintUsage();
                return 2;
            }
            if (options.ContainsKey("help"))
            {
                PrintUsage();
                return 0;
            }
            string imageFolder = options.GetValueOrDefault("images") ?? Path.Combine(AppContext.BaseDirectory, "assets", "images");
            int timeSteps = int.Parse(options.GetValueOrDefault("T") ?? "32", CultureInfo.InvariantCulture);
            int size = int.Parse(options.GetValueOrDefault("size") ?? "32", CultureInfo.InvariantCulture);
            if (!Directory.Exists(imageFolder))
            {
                Console.Error.WriteLine($"Image folder {imageFolder} does not exist.");
                return 2;
            }
            string labelsFile = Path.Combine(imageFolder, "labels.txt");
            string[] classes = File.Exists(labelsFile)
                ? File.ReadAllLines(labelsFile).Where(l => l.Length > 0).ToArray()
                : Directory.GetDirectories(imageFolder).Select(d => Path.GetFileName(d)!).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            var rows = classes.SelectMany(name => Directory.GetFiles(Path.Combine(imageFolder, name))
                    .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase))
                    .OrderBy(f => f, StringComparer.Ordinal)
                    .Select(f => new ImageRow { ImagePath = f, Label = name }))
                .ToList();
            if (rows.Count == 0)
            {
                Console.Error.WriteLine($"No .png or .jpg images under {imageFolder}/<class>/.");
                return 2;
            }
            // One image in three calibrates the thresholds; the others are evaluated (disjoint sets).
            var calibrationRows = rows.Where((r, i) => i % 3 == 0).ToList();
            var evaluationRows = rows.Where((r, i) => i % 3 != 0).ToList();

            var ml = new MLContext(seed: 1);
            var conversion = new SpikingConversionOptions
            {
                InputColumnName = "Pixels",
                ClassNames = classes,
                TimeSteps = timeSteps,
                InputMean = ParseVector(options.GetValueOrDefault("mean")),
                InputStd = ParseVector(options.GetValueOrDefault("std")),
            };
            if (options.TryGetValue("model", out string? modelFile))
            {
                conversion.ModelFile = modelFile;
            }
            else
            {
                conversion.ModelBytes = ReadEmbeddedModel();
            }
            IDataView keyData = ml.Data.LoadFromEnumerable(classes.Select(c => new { Label = c }));
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData)
                .Append(ml.Transforms.LoadImages("Image", null, nameof(ImageRow.ImagePath)))
                .Append(ml.Transforms.ResizeImages("Image", size, size))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
                .Append(ml.Spiking().ConvertToSpiking(conversion));

            Console.WriteLine($"Model: {(modelFile ?? "shapes-cnn.onnx (embedded)")}; {rows.Count} images in {classes.Length} classes: {calibrationRows.Count} calibrate, {evaluationRows.Count} are evaluated.");
            var sw = Stopwatch.StartNew();
            var model = pipeline.Fit(ml.Data.LoadFromEnumerable(calibrationRows));
            using var spiking = model.LastTransformer;
            Console.WriteLine($"Calibrated and converted in {sw.Elapsed.TotalSeconds:F1} s: {spiking.Network.NeuronLayers.Count} IF neuron layers, 99.9th-percentile thresholds per channel.");
            foreach (string note in spiking.Network.Notes)
            {
                Console.WriteLine("  note: " + note);
            }

            sw.Restart();
            IDataView scored = ml.Data.Cache(model.Transform(ml.Data.LoadFromEnumerable(evaluationRows)));
            var snn = ml.MulticlassClassification.Evaluate(scored);
            var ann = ml.MulticlassClassification.Evaluate(scored, scoreColumnName: "AnnScore");
            double seconds = sw.Elapsed.TotalSeconds;

            var report = ml.Spiking().Evaluate(scored, spiking);
            Console.WriteLine();
            Console.WriteLine($"ANN accuracy on the evaluated images: {ann.MicroAccuracy:P1}");
            Console.WriteLine($"SNN accuracy after T = {timeSteps} (ML.NET evaluator): {snn.MicroAccuracy:P1}, log-loss {snn.LogLoss:F3}");
            Console.WriteLine();
            Console.WriteLine(report.FormatTable());
            Console.WriteLine($"Simulated {report.Images} images x {timeSteps} steps in {seconds:F1} s.");
            return 0;
        }

        private static byte[] ReadEmbeddedModel()
        {
            using Stream stream = typeof(Program).Assembly.GetManifestResourceStream("shapes-cnn.onnx")
                ?? throw new InvalidOperationException("The embedded model shapes-cnn.onnx is missing from the sample assembly.");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            return memory.ToArray();
        }

        private static float[]? ParseVector(string? text) =>
            text?.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();

        private static Dictionary<string, string> ParseArguments(string[] args)
        {
            var known = new HashSet<string> { "model", "images", "T", "size", "mean", "std", "help" };
            var result = new Dictionary<string, string>();
            foreach (string arg in args)
            {
                string[] parts = arg.TrimStart('-').Split('=', 2);
                if (!arg.StartsWith("--", StringComparison.Ordinal) || !known.Contains(parts[0]))
                {
                    throw new ArgumentException($"Unknown argument '{arg}'.");
                }
                result[parts[0]] = parts.Length > 1 ? parts[1] : "true";
            }
            return result;
        }

        private static void PrintUsage()
        {
            Console.WriteLine("usage: dotnet run --project samples/ImageClassification -- [--model=FILE.onnx] [--images=FOLDER] [--T=32] [--size=32]");
            Console.WriteLine("         [--mean=r,g,b --std=r,g,b]");
            Console.WriteLine("FOLDER holds one sub-folder of images per class; labels.txt, if present, gives the class order of the model.");
        }
    }
}
