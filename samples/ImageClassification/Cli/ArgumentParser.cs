// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;

namespace Microsoft.ML.Spiking.Samples.Cli
{
    /// <summary>
    /// Parses the command line: <c>--option value</c> or <c>--option=value</c>, each option at most once, comma lists
    /// where an option takes several values. Every problem is a <see cref="UsageException"/> with a one-line message.
    /// </summary>
    internal static class ArgumentParser
    {
        private static readonly string[] Known =
        {
            "model", "images", "classes", "size", "scale", "mean", "std", "method", "steps", "thresholds", "levels", "threshold-scale", "granularity",
            "calibration", "limit", "seed", "batch", "report", "plots",
        };

        /// <summary>Largest T accepted.</summary>
        private const int MaxTimeSteps = 1 << 16;

        /// <summary>Parses the arguments.</summary>
        /// <param name="args">The command-line arguments.</param>
        /// <returns>The options, with <see cref="SampleOptions.Methods"/> resolved against <see cref="MethodCatalog"/>.</returns>
        /// <exception cref="UsageException">An unknown option, a missing or malformed value, an option given twice, an unavailable method.</exception>
        public static SampleOptions Parse(IReadOnlyList<string> args)
        {
            ArgumentNullException.ThrowIfNull(args, nameof(args));
            var options = new SampleOptions();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < args.Count; i++)
            {
                string arg = args[i];
                if (arg is "--help" or "-h" or "-?")
                {
                    options.Help = true;
                    continue;
                }
                if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                {
                    throw new UsageException($"unexpected argument '{arg}' (options start with --; see --help)");
                }
                int equals = arg.IndexOf('=', StringComparison.Ordinal);
                string name = equals >= 0 ? arg[2..equals] : arg[2..];
                if (!Known.Contains(name))
                {
                    throw new UsageException($"unknown option '--{name}' (see --help)");
                }
                string value;
                if (equals >= 0)
                {
                    value = arg[(equals + 1)..];
                }
                else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    value = args[++i];
                }
                else
                {
                    throw new UsageException($"option --{name} needs a value");
                }
                if (!seen.Add(name))
                {
                    throw new UsageException($"option --{name} is given more than once");
                }
                if (value.Length == 0)
                {
                    throw new UsageException($"option --{name} needs a value");
                }
                Apply(options, name, value);
            }
            (options.Methods, options.SkippedMethods) = MethodCatalog.Select(options.RequestedMethods);
            foreach (string method in options.Methods)
            {
                // Combinations that cannot run fail here, before any image is read.
                MethodCatalog.StepsFor(method, options);
                MethodCatalog.Configure(method, options.Thresholds, new SpikingConversionOptions());
            }
            return options;
        }

        private static void Apply(SampleOptions options, string name, string value)
        {
            switch (name)
            {
                case "model":
                    options.ModelFile = value;
                    break;
                case "images":
                    options.ImageFolder = value;
                    break;
                case "classes":
                    string[] classes = List(name, value);
                    string? repeated = classes.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
                    if (repeated != null)
                    {
                        throw new UsageException($"class '{repeated}' appears twice in --classes");
                    }
                    options.Classes = classes;
                    break;
                case "size":
                    options.Size = Size(value);
                    break;
                case "scale":
                    float scale = Float(name, value);
                    if (!(scale > 0))
                    {
                        throw new UsageException($"--scale must be a positive number, got '{value}'");
                    }
                    options.Scale = scale;
                    break;
                case "mean":
                    options.Mean = Channels(name, value, positive: false);
                    break;
                case "std":
                    options.Std = Channels(name, value, positive: true);
                    break;
                case "method":
                    options.RequestedMethods = List(name, value);
                    break;
                case "steps":
                    options.Steps = List(name, value).Select(s => Integer(name, s, 1, MaxTimeSteps)).Distinct().OrderBy(t => t).ToArray();
                    options.StepsGiven = true;
                    break;
                case "thresholds":
                    MethodCatalog.CheckThresholds(value);
                    options.Thresholds = value;
                    break;
                case "levels":
                    options.Levels = Integer(name, value, 1, 24);
                    break;
                case "threshold-scale":
                    options.ThresholdScale = Float(name, value);
                    if (!(options.ThresholdScale > 0))
                    {
                        throw new UsageException($"--{name} must be positive, got {value}");
                    }
                    break;
                case "granularity":
                    options.Granularity = value switch
                    {
                        "layer" => StatisticsGranularity.Layer,
                        "channel" => StatisticsGranularity.Channel,
                        "neuron" => StatisticsGranularity.Neuron,
                        _ => throw new UsageException($"unknown value '{value}' for --granularity (expected layer, channel or neuron)"),
                    };
                    break;
                case "calibration":
                    options.Calibration = Integer(name, value, 1, int.MaxValue);
                    break;
                case "limit":
                    options.Limit = Integer(name, value, 1, int.MaxValue);
                    break;
                case "seed":
                    options.Seed = Integer(name, value, int.MinValue, int.MaxValue);
                    break;
                case "batch":
                    options.Batch = Integer(name, value, 1, 4096);
                    break;
                case "report":
                    options.ReportFile = value;
                    break;
                case "plots":
                    options.PlotFolder = value;
                    break;
                default:
                    throw new UsageException($"unknown option '--{name}' (see --help)");
            }
        }

        private static string[] List(string name, string value)
        {
            string[] items = value.Split(',').Select(v => v.Trim()).ToArray();
            if (items.Any(v => v.Length == 0))
            {
                throw new UsageException($"--{name} has an empty item in '{value}'");
            }
            return items;
        }

        private static int Integer(string name, string text, int min, int max)
        {
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                throw new UsageException($"--{name} expects a whole number, got '{text}'");
            }
            if (value < min || value > max)
            {
                throw new UsageException(max == int.MaxValue
                    ? $"--{name} must be at least {min}, got {value}"
                    : $"--{name} must be between {min} and {max}, got {value}");
            }
            return value;
        }

        private static float Float(string name, string text)
        {
            if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
            {
                throw new UsageException($"--{name} expects a number, got '{text}'");
            }
            return value;
        }

        private static float[] Channels(string name, string value, bool positive)
        {
            float[] values = List(name, value).Select(v => Float(name, v)).ToArray();
            if (values.Length != 3)
            {
                throw new UsageException($"--{name} expects three values r,g,b, got {values.Length}");
            }
            if (positive && values.Any(v => !(v > 0)))
            {
                throw new UsageException($"--{name} values must be positive, got '{value}'");
            }
            return values;
        }

        private static ImageSize Size(string value)
        {
            string[] parts = value.Split('x', 'X');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int width)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
                || width < 1 || height < 1 || width > 8192 || height > 8192)
            {
                throw new UsageException($"--size expects WxH in pixels (for example 32x32), got '{value}'");
            }
            return new ImageSize(width, height);
        }
    }
}
