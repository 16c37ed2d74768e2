// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// <c>manifest.json</c>: the format version and the reader version it needs, the library that wrote it, when,
    /// the conversion method, T, the class names, the conversion notes, and every
    /// <see cref="SpikingConversionOptions"/> value that matters after Fit.
    /// </summary>
    internal sealed class PackageManifest
    {
        /// <summary>Options stored in the manifest (<c>Method</c> and <c>TimeSteps</c> at its top level, the rest under <c>options</c>).</summary>
        internal static readonly IReadOnlyList<string> PersistedOptions = new[]
        {
            nameof(SpikingConversionOptions.InputColumnName), nameof(SpikingConversionOptions.LabelColumnName),
            nameof(SpikingConversionOptions.ClassNames), nameof(SpikingConversionOptions.ScoreColumnName),
            nameof(SpikingConversionOptions.PredictedLabelColumnName), nameof(SpikingConversionOptions.ScorePerStepColumnName),
            nameof(SpikingConversionOptions.SpikeCountColumnName), nameof(SpikingConversionOptions.AnnScoreColumnName),
            nameof(SpikingConversionOptions.SpikesPerStepColumnName), nameof(SpikingConversionOptions.SynapticOperationsColumnName),
            nameof(SpikingConversionOptions.CountSynapticOperations), nameof(SpikingConversionOptions.Method),
            nameof(SpikingConversionOptions.TimeSteps), nameof(SpikingConversionOptions.Thresholds),
            nameof(SpikingConversionOptions.Percentile), nameof(SpikingConversionOptions.Granularity),
            nameof(SpikingConversionOptions.InitialMembrane), nameof(SpikingConversionOptions.Reset),
            nameof(SpikingConversionOptions.ThresholdLevels), nameof(SpikingConversionOptions.ThresholdScale), nameof(SpikingConversionOptions.FiringRule),
            nameof(SpikingConversionOptions.IterationMode), nameof(SpikingConversionOptions.DifferentialNeuron),
            nameof(SpikingConversionOptions.Requantize), nameof(SpikingConversionOptions.DistributionAwareCalibration),
            nameof(SpikingConversionOptions.InputMean), nameof(SpikingConversionOptions.InputStd),
            nameof(SpikingConversionOptions.BatchSize), nameof(SpikingConversionOptions.MaxCalibrationRows),
        };

        /// <summary>
        /// Options deliberately not stored: the model (the package holds the converted IR instead), the GPU settings
        /// (taken from the loading <see cref="MLContext"/>, as ML.NET does for ONNX models) and the progress callback.
        /// </summary>
        internal static readonly IReadOnlyList<string> NotPersistedOptions = new[]
        {
            nameof(SpikingConversionOptions.ModelFile), nameof(SpikingConversionOptions.ModelBytes),
            nameof(SpikingConversionOptions.GpuDeviceId), nameof(SpikingConversionOptions.FallbackToCpu),
            nameof(SpikingConversionOptions.CalibrationProgress),
        };

        private PackageManifest(ConversionMethod method, string[] classNames, string[] notes, SpikingConversionOptions options)
        {
            Method = method;
            ClassNames = classNames;
            Notes = notes;
            Options = options;
        }

        public ConversionMethod Method { get; }

        public string[] ClassNames { get; }

        public string[] Notes { get; }

        /// <summary>The output's step-0 value of a differential-coding network; null otherwise.</summary>
        public float[]? OutputBias { get; private init; }

        /// <summary>The stored options; GPU settings are left for the loader to fill in.</summary>
        public SpikingConversionOptions Options { get; }

        public static JsonObject Write(SpikingTransformer transformer, DateTimeOffset created)
        {
            SpikingConversionOptions o = transformer.Options;
            Assembly library = typeof(SpikingTransformer).Assembly;
            return new JsonObject
            {
                ["format"] = SpikingPackage.FormatName,
                ["formatVersion"] = SpikingPackage.FormatVersion,
                ["minReaderVersion"] = SpikingPackage.MinReaderVersion,
                ["library"] = library.GetName().Name,
                ["libraryVersion"] = library.GetName().Version?.ToString(),
                ["libraryInformationalVersion"] = library.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
                ["createdUtc"] = created.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
                ["conversionMethod"] = transformer.Network.Method.ToString(),
                ["timeSteps"] = o.TimeSteps,
                ["source"] = transformer.Network.Network.Source,
                ["classNames"] = JsonScope.StringsNode(transformer.ClassNames),
                ["notes"] = JsonScope.StringsNode(transformer.Network.Notes),
                ["outputBias"] = transformer.Network.OutputBias == null ? null : JsonScope.FloatsNode(transformer.Network.OutputBias),
                ["options"] = new JsonObject
                {
                    ["inputColumnName"] = o.InputColumnName,
                    ["labelColumnName"] = o.LabelColumnName,
                    ["classNames"] = o.ClassNames == null ? null : JsonScope.StringsNode(o.ClassNames),
                    ["scoreColumnName"] = o.ScoreColumnName,
                    ["predictedLabelColumnName"] = o.PredictedLabelColumnName,
                    ["scorePerStepColumnName"] = o.ScorePerStepColumnName,
                    ["spikeCountColumnName"] = o.SpikeCountColumnName,
                    ["annScoreColumnName"] = o.AnnScoreColumnName,
                    ["spikesPerStepColumnName"] = o.SpikesPerStepColumnName,
                    ["synapticOperationsColumnName"] = o.SynapticOperationsColumnName,
                    ["countSynapticOperations"] = o.CountSynapticOperations,
                    ["thresholds"] = o.Thresholds.ToString(),
                    ["percentile"] = JsonScope.DoubleNode(o.Percentile),
                    ["granularity"] = o.Granularity.ToString(),
                    ["initialMembrane"] = JsonScope.FloatNode(o.InitialMembrane),
                    ["reset"] = o.Reset.ToString(),
                    ["thresholdLevels"] = o.ThresholdLevels,
                    ["thresholdScale"] = JsonScope.FloatNode(o.ThresholdScale),
                    ["firingRule"] = o.FiringRule.ToString(),
                    ["iterationMode"] = o.IterationMode.ToString(),
                    ["differentialNeuron"] = o.DifferentialNeuron.ToString(),
                    ["requantize"] = o.Requantize,
                    ["distributionAwareCalibration"] = o.DistributionAwareCalibration,
                    ["inputMean"] = o.InputMean == null ? null : JsonScope.FloatsNode(o.InputMean),
                    ["inputStd"] = o.InputStd == null ? null : JsonScope.FloatsNode(o.InputStd),
                    ["batchSize"] = o.BatchSize,
                    ["maxCalibrationRows"] = o.MaxCalibrationRows,
                },
            };
        }

        /// <summary>Reads a manifest whose version <see cref="SpikingPackage.CheckVersion"/> has accepted.</summary>
        public static PackageManifest Read(JsonScope scope)
        {
            ConversionMethod method = scope.Enum<ConversionMethod>("conversionMethod");
            JsonScope s = scope.Object("options");
            var options = new SpikingConversionOptions
            {
                Method = method,
                TimeSteps = scope.Int("timeSteps"),
                InputColumnName = s.String("inputColumnName"),
                LabelColumnName = s.OptionalString("labelColumnName"),
                ClassNames = s.OptionalStrings("classNames"),
                ScoreColumnName = s.String("scoreColumnName"),
                PredictedLabelColumnName = s.String("predictedLabelColumnName"),
                ScorePerStepColumnName = s.String("scorePerStepColumnName"),
                SpikeCountColumnName = s.String("spikeCountColumnName"),
                AnnScoreColumnName = s.OptionalString("annScoreColumnName"),
                SpikesPerStepColumnName = s.String("spikesPerStepColumnName"),
                SynapticOperationsColumnName = s.String("synapticOperationsColumnName"),
                CountSynapticOperations = s.Bool("countSynapticOperations"),
                Thresholds = s.Enum<ThresholdMethod>("thresholds"),
                Percentile = s.Double("percentile"),
                Granularity = s.Enum<StatisticsGranularity>("granularity"),
                InitialMembrane = s.Float("initialMembrane"),
                Reset = s.Enum<ResetMode>("reset"),
                ThresholdLevels = s.Int("thresholdLevels"),
                ThresholdScale = s.Float("thresholdScale"),
                FiringRule = s.Enum<FiringRule>("firingRule"),
                IterationMode = s.Enum<ThresholdIterationMode>("iterationMode"),
                DifferentialNeuron = s.Enum<DifferentialNeuron>("differentialNeuron"),
                Requantize = s.Bool("requantize"),
                DistributionAwareCalibration = s.Bool("distributionAwareCalibration"),
                InputMean = s.OptionalFloats("inputMean"),
                InputStd = s.OptionalFloats("inputStd"),
                BatchSize = s.Int("batchSize"),
                MaxCalibrationRows = s.OptionalLong("maxCalibrationRows"),
            };
            if (options.TimeSteps < 1)
            {
                throw scope.Error($"'timeSteps' is {options.TimeSteps}; it must be at least 1.");
            }
            if (options.BatchSize < 1)
            {
                throw s.Error($"'batchSize' is {options.BatchSize}; it must be at least 1.");
            }
            float[]? outputBias = scope.OptionalFloats("outputBias");
            if ((outputBias != null) != (method == ConversionMethod.DifferentialCoding))
            {
                throw scope.Error(outputBias == null
                    ? "a differential-coding package needs 'outputBias' (the output's step-0 value)."
                    : $"'outputBias' belongs to differential coding, not {method}.");
            }
            return new PackageManifest(method, scope.Strings("classNames"), scope.Strings("notes"), options) { OutputBias = outputBias };
        }
    }
}
