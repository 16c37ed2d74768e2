// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;

namespace Microsoft.ML.Spiking.Samples.Cli
{
    /// <summary>The text --help prints.</summary>
    internal static class HelpText
    {
        /// <summary>Usage, options, methods and exit codes.</summary>
        public static string Usage { get; } = string.Join(Environment.NewLine, new[]
        {
            "Converts an ONNX image classifier to a spiking neural network with Microsoft.ML.Spiking and compares the two",
            "on a folder of labelled images. With no options it runs the embedded demo model (shapes-cnn.onnx) on the",
            "300 images the sample ships.",
            string.Empty,
            "usage: dotnet run --project samples/ImageClassification -- [options]",
            "       options take a value as '--option value' or '--option=value'",
            string.Empty,
            "  --model FILE.onnx        the classifier to convert (default: the embedded shapes-cnn.onnx)",
            "  --images DIR             one sub-folder of .png/.jpg images per class (default: the shipped assets/images)",
            "  --classes a,b,c          class names in the model's output order (default: DIR/labels.txt if present,",
            "                           else the sub-folder names sorted ordinally)",
            "  --size WxH               image size fed to the model (default: the model's input size; needed for models",
            "                           that take a flat vector)",
            "  --scale S                factor applied to the 0-255 pixel values (default 1/255)",
            "  --mean r,g,b             per-channel mean the model expects subtracted after scaling (default none)",
            "  --std r,g,b              per-channel standard deviation the model expects divided by (default none)",
            "  --method M[,M]           " + string.Join("|", MethodCatalog.MethodNames) + "|" + MethodCatalog.All + " (default all: every available method)",
            "  --steps T[,T]            simulated time steps; a comma list runs each (default: rate " + SampleOptions.DefaultTimeSteps + ", differential " + MethodCatalog.DefaultSteps("differential") + ",",
            "                           bitserial " + MethodCatalog.DefaultSteps("bitserial") + " bits; bitserial takes T <= 24)",
            "  --thresholds M           " + string.Join("|", MethodCatalog.ThresholdNames) + " (default: percentile, p = 99.9, for rate;",
            "                           iteration for differential)",
            "  --levels n               differential coding: thresholds theta/2^k per neuron, k < n (default 4)",
            "  --threshold-scale c      differential coding of transformers: theta = c x the percentile (default 8)",
            "  --granularity G          layer|channel|neuron: one threshold per layer, channel or neuron (default channel;",
            "                           neuron only with iteration)",
            "  --calibration N          calibration images, class-balanced, disjoint from the evaluated ones",
            "                           (default " + SampleOptions.DefaultCalibrationPerClass + " per class, taken from the end of each class)",
            "  --limit N                evaluated images, class-balanced, from the start of each class (default: all the rest)",
            "  --seed S                 shuffle each class's files with seed S before choosing (default: file-name order)",
            "  --batch N                rows per simulation and ANN call (default 64)",
            "  --report FILE.json       write the JSON report (schema in samples/ImageClassification/README.md)",
            "  --plots DIR              write accuracy.png, energy.png and firing-rates.png",
            "  --help                   this text",
            string.Empty,
            "methods and thresholds:",
        }.Concat(MethodCatalog.Describe().Select(line => "  " + line)).Concat(new[]
        {
            string.Empty,
            "exit codes: 0 done; 1 the files do not fit (missing file, unsupported op, size or class-count mismatch);",
            "            2 the command line is wrong (unknown option, bad value, unavailable method)",
            string.Empty,
        }));
    }
}
