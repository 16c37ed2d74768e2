// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using Microsoft.ML.Spiking.Calibration;

namespace Microsoft.ML.Spiking.Samples.Cli
{
    /// <summary>What the command line asked for, with the defaults filled in where a default does not depend on the model or the images.</summary>
    internal sealed class SampleOptions
    {
        /// <summary>The default T.</summary>
        public const int DefaultTimeSteps = 32;

        /// <summary>Calibration images per class when --calibration is not given.</summary>
        public const int DefaultCalibrationPerClass = 10;

        /// <summary>True when --help was given.</summary>
        public bool Help { get; set; }

        /// <summary>--model: the ONNX file, or null for the embedded shapes-cnn.onnx.</summary>
        public string? ModelFile { get; set; }

        /// <summary>--images: one sub-folder per class, or null for the shipped assets/images.</summary>
        public string? ImageFolder { get; set; }

        /// <summary>--classes: class names in the model's output order, or null (labels.txt in the image folder, else sorted folder names).</summary>
        public IReadOnlyList<string>? Classes { get; set; }

        /// <summary>--size: the image size fed to the model, or null for the model's input size.</summary>
        public ImageSize? Size { get; set; }

        /// <summary>--scale: the factor ExtractPixels applies to the 0–255 pixel values (default 1/255).</summary>
        public float Scale { get; set; } = 1f / 255;

        /// <summary>--mean: per-channel mean the model subtracts from the scaled pixels, or null for none.</summary>
        public float[]? Mean { get; set; }

        /// <summary>--std: per-channel standard deviation the model divides by, or null for none.</summary>
        public float[]? Std { get; set; }

        /// <summary>--method as given (names, or "all"; default "all").</summary>
        public IReadOnlyList<string> RequestedMethods { get; set; } = new[] { MethodCatalog.All };

        /// <summary>The methods to run, in catalog order: the requested ones, or every available one for "all".</summary>
        public IReadOnlyList<string> Methods { get; set; } = Array.Empty<string>();

        /// <summary>Methods that "all" left out because this version of the library does not have them.</summary>
        public IReadOnlyList<string> SkippedMethods { get; set; } = Array.Empty<string>();

        /// <summary>--steps: the T values to run, ascending, without duplicates (default 32).</summary>
        public IReadOnlyList<int> Steps { get; set; } = new[] { DefaultTimeSteps };

        /// <summary>True when --steps was given; otherwise each method runs at its own default T (<see cref="MethodCatalog.DefaultSteps"/>).</summary>
        public bool StepsGiven { get; set; }

        /// <summary>--thresholds: max, percentile or iteration; null (default) for each method's own default (<see cref="MethodCatalog.DefaultThresholds"/>).</summary>
        public string? Thresholds { get; set; }

        /// <summary>--levels: thresholds per multi-threshold neuron for differential coding (default 4).</summary>
        public int Levels { get; set; } = 4;

        /// <summary>--threshold-scale: differential coding of transformers, θ = this × the percentile (default 8, the reference code's).</summary>
        public float ThresholdScale { get; set; } = Conversion.Differential.DifferentialCodingOptions.DefaultThresholdScale;

        /// <summary>--granularity: one threshold per channel (default) or per layer.</summary>
        public StatisticsGranularity Granularity { get; set; } = StatisticsGranularity.Channel;

        /// <summary>--calibration: calibration images, class-balanced, or null for 10 per class.</summary>
        public int? Calibration { get; set; }

        /// <summary>--limit: evaluated images, class-balanced, or null for every image not used for calibration.</summary>
        public int? Limit { get; set; }

        /// <summary>--seed: shuffles each class's files before the split (null: file-name order); also the MLContext seed.</summary>
        public int? Seed { get; set; }

        /// <summary>--batch: rows per simulation and ANN call (default 64).</summary>
        public int Batch { get; set; } = 64;

        /// <summary>--report: the JSON report to write, or null.</summary>
        public string? ReportFile { get; set; }

        /// <summary>--plots: the folder for the PNG plots, or null.</summary>
        public string? PlotFolder { get; set; }
    }

    /// <summary>An image size in pixels.</summary>
    /// <param name="Width">Width in pixels.</param>
    /// <param name="Height">Height in pixels.</param>
    internal readonly record struct ImageSize(int Width, int Height)
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Width}x{Height}";
    }
}
