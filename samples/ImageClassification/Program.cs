// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.BitSerial;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking.Samples.Cli;
using Microsoft.ML.Spiking.Samples.Data;
using Microsoft.ML.Spiking.Samples.Measurement;
using Microsoft.ML.Spiking.Samples.Reporting;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Spiking.Samples
{
    /// <summary>
    /// Converts an ONNX image classifier to a spiking neural network inside an ML.NET pipeline
    /// (MapValueToKey → LoadImages → ResizeImages → ExtractPixels → ConvertToSpiking) and compares it with the ANN,
    /// per conversion method and T. With no arguments it uses the embedded demo model (shapes-cnn.onnx, trained by
    /// eng/demo-model on images the project generates itself) and the 300 images shipped in assets/images.
    /// Run with --help for the options.
    /// </summary>
    internal static class Program
    {
        /// <summary>The column ExtractPixels writes and ConvertToSpiking reads.</summary>
        private const string PixelsColumn = "Pixels";

        /// <summary>Exit code 0 done, 1 the files do not fit (one-line error), 2 the command line is wrong.</summary>
        /// <param name="args">The command line.</param>
        public static int Main(string[] args) =>
            Run(args, Console.Out, Console.Error, progress: Console.IsErrorRedirected ? null : Console.Error);

        /// <summary>Runs the sample. Errors a user can cause are printed as one line "error: …" on <paramref name="errors"/>.</summary>
        /// <param name="args">The command line.</param>
        /// <param name="output">Where the results go.</param>
        /// <param name="errors">Where errors go.</param>
        /// <param name="progress">Where the progress bars are drawn, or null for none.</param>
        /// <returns>The exit code.</returns>
        internal static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter errors, TextWriter? progress)
        {
            try
            {
                SampleOptions options = ArgumentParser.Parse(args);
                if (options.Help)
                {
                    output.Write(HelpText.Usage);
                    return 0;
                }
                Compare(options, output, progress);
                return 0;
            }
            catch (UsageException e)
            {
                errors.WriteLine("error: " + e.Message);
                return 2;
            }
            catch (Exception e) when (ErrorMessages.IsUserError(e))
            {
                errors.WriteLine("error: " + ErrorMessages.OneLine(e));
                return 1;
            }
        }

        /// <summary>Converts the model with every requested method and T, evaluates each, prints the table and writes the report and plots.</summary>
        private static RunReport Compare(SampleOptions options, TextWriter output, TextWriter? progress)
        {
            // The model, the images and the class order; mismatches fail here, before any conversion.
            ModelSource model = ModelSource.Load(options.ModelFile);
            ImageSet images = ImageSet.Load(options.ImageFolder ?? Path.Combine(AppContext.BaseDirectory, "assets", "images"), options.Classes);
            model.CheckClasses(images.Classes);
            ImageSize size = model.ImageSize(options.Size);
            int calibrationCount = options.Calibration ?? SampleOptions.DefaultCalibrationPerClass * images.Classes.Count;
            DataSplit split = images.Split(calibrationCount, options.Limit, options.Seed);

            output.WriteLine($"Model: {model.Name}, input [{string.Join(",", model.InputShape)}], {model.Classes} classes");
            output.WriteLine($"Images: {(options.ImageFolder ?? "assets/images (shipped)")}: {images.Count} in {images.Classes.Count} classes; {split.Calibration.Count} calibrate, {split.Evaluation.Count} are evaluated ({size}, scale {options.Scale:G4})");
            string[] notes = split.Notes.Concat(images.IgnoredFolders.Select(f => $"sub-folder '{f}' is not a class and is left out")).ToArray();
            foreach (string note in notes)
            {
                output.WriteLine("  note: " + note);
            }
            if (options.SkippedMethods.Count > 0)
            {
                output.WriteLine($"Skipped methods: {string.Join(", ", options.SkippedMethods)} (not available in this version of Microsoft.ML.Spiking)");
            }

            var ml = new MLContext(seed: options.Seed ?? 1);
            IDataView calibrationData = ml.Data.LoadFromEnumerable(split.Calibration);
            IDataView evaluationData = ml.Data.LoadFromEnumerable(split.Evaluation);

            // Preprocessing as Model Builder writes it: label keys in the model's class order (keyData!), then decode,
            // resize and extract the pixels in [0, 1] as a CHW vector.
            IDataView keyData = ml.Data.LoadFromEnumerable(images.Classes.Select(c => new { Label = c }));
            var preprocessing = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: keyData)
                .Append(ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ImageRow.ImagePath)))
                .Append(ml.Transforms.ResizeImages("Image", size.Width, size.Height))
                .Append(ml.Transforms.ExtractPixels(PixelsColumn, "Image", scaleImage: options.Scale));

            // The evaluation images are decoded once; every method and T scores the same cached pixels.
            IDataView evaluationPixels = ml.Data.Cache(preprocessing.Fit(evaluationData).Transform(evaluationData));
            PixelMatrix pixels = PixelMatrix.Read(evaluationPixels, PixelsColumn);

            var results = new List<MethodResult>();
            var skipped = new List<string>(options.SkippedMethods);
            bool all = options.RequestedMethods.Contains(MethodCatalog.All);
            foreach (string method in options.Methods)
            {
                foreach (int timeSteps in MethodCatalog.StepsFor(method, options))
                {
                    try
                    {
                        results.Add(ConvertAndEvaluate(ml, preprocessing, method, timeSteps, model, images.Classes, options, calibrationData, evaluationPixels, pixels, progress));
                    }
                    catch (Exception e) when (all && ErrorMessages.IsUnconvertible(e) && options.Methods.Count > 1)
                    {
                        // "all" runs every method the model allows (a transformer only under differential coding): say why one is left out.
                        string reason = $"{method}: {ErrorMessages.OneLine(e)}";
                        output.WriteLine("Skipped " + reason);
                        skipped.Add(reason);
                        break;
                    }
                }
            }
            if (results.Count == 0)
            {
                throw new NotSupportedException($"{model.Name}: no method can convert this model ({string.Join("; ", skipped)})");
            }

            output.WriteLine();
            output.Write(ResultTable.Format(results));
            var report = new RunReport
            {
                CreatedUtc = DateTime.UtcNow,
                Model = new ReportModel { File = options.ModelFile ?? model.Name, InputShape = model.InputShape, Classes = images.Classes },
                Data = new ReportData
                {
                    Images = images.Folder,
                    ImagesFound = images.Count,
                    CalibrationImages = split.Calibration.Count,
                    EvaluatedImages = split.Evaluation.Count,
                    Notes = notes,
                },
                Options = ReportOptionsOf(options, calibrationCount, size, model.IsTransformer),
                SkippedMethods = skipped,
                Results = results,
            };
            if (options.ReportFile != null)
            {
                report.Write(options.ReportFile);
                output.WriteLine($"Report: {options.ReportFile}");
            }
            if (options.PlotFolder != null && results.Count > 0)
            {
                IReadOnlyList<string> plots = PlotWriter.WriteAll(options.PlotFolder, model.Name, results);
                output.WriteLine($"Plots: {string.Join(", ", plots)}");
            }
            return report;
        }

        /// <summary>The sample's core: one pipeline with ConvertToSpiking at its end, fitted on the calibration images and evaluated.</summary>
        private static MethodResult ConvertAndEvaluate(
            MLContext ml,
            EstimatorChain<ImagePixelExtractingTransformer> preprocessing,
            string method,
            int timeSteps,
            ModelSource model,
            IReadOnlyList<string> classes,
            SampleOptions options,
            IDataView calibrationData,
            IDataView evaluationPixels,
            PixelMatrix pixels,
            TextWriter? progress)
        {
            var conversion = new SpikingConversionOptions
            {
                InputColumnName = PixelsColumn,
                ClassNames = classes.ToArray(),
                TimeSteps = timeSteps,
                Granularity = options.Granularity,
                InputMean = options.Mean,
                InputStd = options.Std,
                BatchSize = options.Batch,
                ThresholdLevels = options.Levels,
                ThresholdScale = options.ThresholdScale,
            };
            model.SetModel(conversion);
            MethodCatalog.Configure(method, options.Thresholds, conversion, model.IsTransformer);

            // Fit streams the calibration images through the pipeline once, calibrates the thresholds and converts.
            var pipeline = preprocessing.Append(ml.Spiking().ConvertToSpiking(conversion));
            var watch = Stopwatch.StartNew();
            TransformerChain<SpikingTransformer> trained;
            using (var bar = new ProgressBar(progress, $"{method} T={timeSteps}: calibrating", calibrationData.GetRowCount() ?? 0))
            {
                conversion.CalibrationProgress = bar;
                trained = pipeline.Fit(calibrationData);
            }
            double calibrationSeconds = watch.Elapsed.TotalSeconds;
            using SpikingTransformer spiking = trained.LastTransformer;

            // Transform is lazy: Evaluate pulls the rows, which are simulated in batches for T steps, and reads the
            // accuracy after every step, the spikes, the synaptic operations and the ANN's scores on the same rows.
            watch.Restart();
            SpikingMetrics metrics;
            IDataView scored = ml.Data.Cache(spiking.Transform(evaluationPixels), "Label", "PredictedLabel");
            using (var bar = new ProgressBar(progress, $"{method} T={timeSteps}: evaluating", pixels.Rows))
            {
                metrics = ml.Spiking().Evaluate(scored, spiking, progress: bar);
            }
            double snnSeconds = watch.Elapsed.TotalSeconds;

            double annImagesPerSecond = AnnThroughput.ImagesPerSecond(spiking.Ann, pixels, options.Batch);
            // The bit-serial network must equal the quantized ANN (ReLUs quantized to L = 2^T − 1 levels): report both.
            (double, double)? quantized = spiking.Network.Method == ConversionMethod.BitSerial
                ? QuantizedAnnCheck.Compare(BitSerialConverter.QuantizedAnn(spiking.Network), pixels, scored, options.Batch)
                : null;
            return MethodResult.From(method, metrics, new Timing(calibrationSeconds, snnSeconds, annImagesPerSecond), quantized);
        }

        private static ReportOptions ReportOptionsOf(SampleOptions options, int calibration, ImageSize size, bool transformer) => new()
        {
            Method = options.RequestedMethods,
            Steps = options.Steps,
            Thresholds = options.Thresholds ?? "per method: " + string.Join(", ", options.Methods.Select(m => $"{m} {MethodCatalog.DefaultThresholds(m, transformer)}")),
            Levels = options.Levels,
            ThresholdScale = options.ThresholdScale,
            Percentile = new SpikingConversionOptions().Percentile,
            Granularity = options.Granularity.ToString().ToLowerInvariant(),
            Calibration = calibration,
            Limit = options.Limit,
            Seed = options.Seed,
            Batch = options.Batch,
            Size = size.ToString(),
            Scale = options.Scale,
            Mean = options.Mean,
            Std = options.Std,
        };
    }
}
