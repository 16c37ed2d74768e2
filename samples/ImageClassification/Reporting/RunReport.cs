// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Spiking.Samples.Reporting
{
    /// <summary>The JSON report of one run (--report): what was converted, how, on which images, and the results per method and T.</summary>
    internal sealed class RunReport
    {
        private static readonly JsonSerializerOptions s_json = new()
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };

        /// <summary>Identifies the schema of this file.</summary>
        public string Schema { get; init; } = "microsoft.ml.spiking/image-classification-report/1";

        /// <summary>When the run finished (UTC).</summary>
        public DateTime CreatedUtc { get; init; }

        /// <summary>The model.</summary>
        public ReportModel Model { get; init; } = new();

        /// <summary>The images.</summary>
        public ReportData Data { get; init; } = new();

        /// <summary>The options, with the defaults filled in.</summary>
        public ReportOptions Options { get; init; } = new();

        /// <summary>Library and runtime versions.</summary>
        public ReportVersions Versions { get; init; } = ReportVersions.Current();

        /// <summary>Methods "all" skipped because this version does not have them.</summary>
        public IReadOnlyList<string> SkippedMethods { get; init; } = Array.Empty<string>();

        /// <summary>One entry per method and T, in the order they ran.</summary>
        public IReadOnlyList<MethodResult> Results { get; init; } = Array.Empty<MethodResult>();

        /// <summary>The report as indented JSON.</summary>
        public string ToJson() => JsonSerializer.Serialize(this, s_json);

        /// <summary>Writes the report, creating the folder if needed.</summary>
        /// <param name="path">The .json file.</param>
        public void Write(string path)
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder != null)
            {
                Directory.CreateDirectory(folder);
            }
            File.WriteAllText(path, ToJson() + Environment.NewLine);
        }
    }

    /// <summary>The converted model.</summary>
    internal sealed class ReportModel
    {
        /// <summary>The file as given, or "shapes-cnn.onnx (embedded)".</summary>
        public string File { get; init; } = string.Empty;

        /// <summary>Input per sample, without the batch axis.</summary>
        public IReadOnlyList<int> InputShape { get; init; } = Array.Empty<int>();

        /// <summary>Class names in output order.</summary>
        public IReadOnlyList<string> Classes { get; init; } = Array.Empty<string>();
    }

    /// <summary>The images.</summary>
    internal sealed class ReportData
    {
        /// <summary>The image folder.</summary>
        public string Images { get; init; } = string.Empty;

        /// <summary>Images found in the class folders.</summary>
        public int ImagesFound { get; init; }

        /// <summary>Calibration images.</summary>
        public int CalibrationImages { get; init; }

        /// <summary>Evaluated images (disjoint from the calibration images).</summary>
        public int EvaluatedImages { get; init; }

        /// <summary>Classes that could not fill their share, sub-folders left out.</summary>
        public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();
    }

    /// <summary>The options of the run.</summary>
    internal sealed class ReportOptions
    {
        /// <summary>--method as given.</summary>
        public IReadOnlyList<string> Method { get; init; } = Array.Empty<string>();

        /// <summary>--steps.</summary>
        public IReadOnlyList<int> Steps { get; init; } = Array.Empty<int>();

        /// <summary>--thresholds.</summary>
        public string Thresholds { get; init; } = string.Empty;

        /// <summary>--levels: thresholds per multi-threshold neuron (differential coding).</summary>
        public int Levels { get; init; }

        /// <summary>--threshold-scale: the factor on transformer thresholds (differential coding).</summary>
        public float ThresholdScale { get; init; }

        /// <summary>The percentile of percentile thresholds.</summary>
        public double Percentile { get; init; }

        /// <summary>--granularity.</summary>
        public string Granularity { get; init; } = string.Empty;

        /// <summary>--calibration (resolved).</summary>
        public int Calibration { get; init; }

        /// <summary>--limit, or null for all.</summary>
        public int? Limit { get; init; }

        /// <summary>--seed, or null for file-name order.</summary>
        public int? Seed { get; init; }

        /// <summary>--batch.</summary>
        public int Batch { get; init; }

        /// <summary>--size (resolved), WxH.</summary>
        public string Size { get; init; } = string.Empty;

        /// <summary>--scale.</summary>
        public float Scale { get; init; }

        /// <summary>--mean, or null.</summary>
        public IReadOnlyList<float>? Mean { get; init; }

        /// <summary>--std, or null.</summary>
        public IReadOnlyList<float>? Std { get; init; }
    }

    /// <summary>Versions of what produced the figures.</summary>
    internal sealed class ReportVersions
    {
        /// <summary>Microsoft.ML.Spiking's informational version.</summary>
        public string Spiking { get; init; } = string.Empty;

        /// <summary>ML.NET's informational version.</summary>
        public string MlNet { get; init; } = string.Empty;

        /// <summary>ONNX Runtime's managed package version.</summary>
        public string OnnxRuntime { get; init; } = string.Empty;

        /// <summary>The .NET runtime.</summary>
        public string Dotnet { get; init; } = string.Empty;

        /// <summary>The operating system.</summary>
        public string Os { get; init; } = string.Empty;

        /// <summary>Logical processors.</summary>
        public int Processors { get; init; }

        /// <summary>The versions of this process.</summary>
        public static ReportVersions Current() => new()
        {
            Spiking = Version(typeof(SpikingTransformer).Assembly),
            MlNet = Version(typeof(MLContext).Assembly),
            OnnxRuntime = Version(typeof(OnnxRuntime.InferenceSession).Assembly),
            Dotnet = RuntimeInformation.FrameworkDescription,
            Os = RuntimeInformation.OSDescription,
            Processors = Environment.ProcessorCount,
        };

        private static string Version(Assembly assembly) =>
            assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
    }
}
