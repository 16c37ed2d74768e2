// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
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

namespace Microsoft.ML.Spiking
{
    /// <summary>
    /// Converts an ONNX image classifier into a spiking network. <see cref="Fit"/> streams the input column once
    /// to calibrate the thresholds, converts, and returns a <see cref="SpikingTransformer"/>.
    /// </summary>
    /// <remarks>
    /// <format type="text/markdown"><![CDATA[
    /// ### Estimator Characteristics
    /// |  |  |
    /// | -- | -- |
    /// | Does this estimator need to look at the data to train its parameters? | Yes (calibration) |
    /// | Input column data type | Known-size vector of <xref:System.Single> matching the model input |
    /// | Output column data type | Score: vector of Single; PredictedLabel: key; ScorePerStep: T×K Single; SpikeCount: vector of Double; AnnScore: vector of Single |
    /// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Spiking (brings Microsoft.ML.OnnxRuntime) |
    /// | Exportable to ONNX | The simulated network is an ONNX graph (export API in a later release) |
    /// ]]></format>
    /// </remarks>
    /// <seealso cref="SpikingCatalog.ConvertToSpiking(TransformsCatalog, SpikingConversionOptions)"/>
    public sealed class SpikingConversionEstimator : IEstimator<SpikingTransformer>
    {
        private readonly SpikingConversionOptions _options;
        private readonly Network _ann;
        private readonly Action<string>? _log;

        internal SpikingConversionEstimator(SpikingConversionOptions options, Action<string>? log)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            if (options.ModelFile == null && options.ModelBytes == null)
            {
                throw new ArgumentException("Set SpikingConversionOptions.ModelFile (or ModelBytes) to the ONNX model to convert.", nameof(options));
            }
            if (string.IsNullOrWhiteSpace(options.InputColumnName))
            {
                throw new ArgumentException("InputColumnName must name a column.", nameof(options));
            }
            if (options.TimeSteps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.TimeSteps, "TimeSteps must be at least 1.");
            }
            if (options.BatchSize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1.");
            }
            if (!(options.Percentile > 0 && options.Percentile <= 100))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Percentile, "Percentile must be in (0, 100].");
            }
            CheckMethodOptions(options);
            _options = options;
            _log = log;
            Network imported = options.ModelFile != null ? OnnxImporter.Load(options.ModelFile) : OnnxImporter.Load(options.ModelBytes!, "model bytes");
            _ann = NetworkPreparation.Prepare(imported, new PreparationOptions
            {
                InputMean = options.InputMean,
                InputStd = options.InputStd,
                // DCGS moves max-pooling before the ReLU (algorithms.md §2.17 step 2) so it acts on currents, and marks
                // a transformer's neuron sites (§2.9) so calibration measures them.
                SwapReluMaxPool = options.Method == ConversionMethod.DifferentialCoding,
                MarkTransformerNeuronSites = options.Method == ConversionMethod.DifferentialCoding,
            });
            if (options.Method == ConversionMethod.DifferentialCoding && options.Thresholds == ThresholdMethod.Iteration && _ann.Layers.Any(l => l is NeuronSiteLayer))
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Thresholds, $"{_ann.Source} is a transformer (LayerNorm, GELU, attention products): threshold iteration models ReLU pre-activations and does not apply; use Percentile (the reference: {options.ThresholdScale.ToString(System.Globalization.CultureInfo.InvariantCulture)} × the 99.9th percentile, ThresholdScale) or Max.");
            }
        }

        private static void CheckMethodOptions(SpikingConversionOptions options)
        {
            switch (options.Method)
            {
                case ConversionMethod.RateCoding:
                    if (options.Thresholds == ThresholdMethod.Iteration)
                    {
                        throw new ArgumentOutOfRangeException(nameof(options), options.Thresholds, "Threshold iteration belongs to differential coding; rate coding uses Max or Percentile thresholds.");
                    }
                    break;
                case ConversionMethod.Parallel:
                    if (options.Thresholds == ThresholdMethod.Iteration)
                    {
                        throw new ArgumentOutOfRangeException(nameof(options), options.Thresholds, "Parallel conversion records thresholds with Max (the paper's threshold recording) or Percentile, not Iteration.");
                    }
                    break;
                case ConversionMethod.BitSerial:
                    if (options.TimeSteps > BitSerialNeuronLayer.MaxBits)
                    {
                        throw new ArgumentOutOfRangeException(nameof(options), options.TimeSteps, $"Bit-serial conversion sends T = TimeSteps bits per activation (L = 2^T − 1); T must be at most {BitSerialNeuronLayer.MaxBits}.");
                    }
                    break;
                case ConversionMethod.DifferentialCoding:
                    if (options.ThresholdLevels < 1 || options.ThresholdLevels > MultiThresholdNeuronLayer.MaxLevels)
                    {
                        throw new ArgumentOutOfRangeException(nameof(options), options.ThresholdLevels, $"ThresholdLevels must be between 1 and {MultiThresholdNeuronLayer.MaxLevels}.");
                    }
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(options), options.Method, $"Unknown conversion method {options.Method}.");
            }
            if (options.Granularity == StatisticsGranularity.Neuron && options.Thresholds != ThresholdMethod.Iteration)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.Granularity, "Neuron-wise thresholds are available for threshold iteration only; use Layer or Channel granularity with Max or Percentile thresholds.");
            }
        }

        /// <summary>The input schema plus the columns the transformer adds.</summary>
        /// <param name="inputSchema">The shape of the input data.</param>
        /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a vector of Single.</exception>
        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
        {
            ArgumentNullException.ThrowIfNull(inputSchema, nameof(inputSchema));
            string name = _options.InputColumnName;
            SchemaShape.Column column = inputSchema.LastOrDefault(c => c.Name == name);
            if (column.Name != name)
            {
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Could not find input column '{name}'");
            }
            if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            {
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Schema mismatch for input column '{name}': expected known-size vector of Single, got {column.Kind} of {column.ItemType}");
            }
            return OutputSchemaShape.Append(inputSchema, _options, ShapeUtil.Size(_ann.OutputShape));
        }

        /// <summary>Calibrates on <paramref name="input"/> (one streaming pass over the input column) and converts.</summary>
        /// <param name="input">Calibration data.</param>
        /// <returns>The spiking transformer.</returns>
        public SpikingTransformer Fit(IDataView input)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(input));
            int k = ShapeUtil.Size(_ann.OutputShape);
            string[] classNames = ResolveClassNames(input.Schema, k);
            DataViewSchema.Column column = InputColumn.Check(input.Schema, _options.InputColumnName, _ann.InputShape);
            bool differential = _options.Method == ConversionMethod.DifferentialCoding;
            var calibration = new CalibrationOptions
            {
                IncludePreActivations = _options.Thresholds == ThresholdMethod.Iteration,
                // Only what the thresholds read (each kind of statistic costs passes over every activation): the outputs'
                // maxima or percentiles, or the inputs' moments (PreActivationStatistics' default) for threshold iteration.
                Statistics = _options.Thresholds == ThresholdMethod.Percentile ? CalibrationStatistics.Percentiles : CalibrationStatistics.Extremes,
                Granularity = _options.Granularity,
                Percentile = _options.Percentile,
                // Only that percentile is read: the histograms keep the upper tail it needs, and fewer values are kept exactly.
                LowestPercentile = _options.Thresholds == ThresholdMethod.Percentile ? _options.Percentile : 0,
                ExactCapacity = _options.Thresholds == ThresholdMethod.Percentile ? PercentileEstimator.ThresholdCapacity : PercentileEstimator.DefaultCapacity,
                BatchSize = _options.BatchSize,
                Execution = new ExecutionOptions { GpuDeviceId = _options.GpuDeviceId, FallbackToCpu = _options.FallbackToCpu },
                Progress = _options.CalibrationProgress,
            };
            _log?.Invoke($"Calibrating {_ann.Source} on column '{column.Name}' ({Calibrator.FindActivationSites(_ann).Count} activation sites, {_options.Granularity} {_options.Thresholds} thresholds).");
            CalibrationResult stats = Calibrator.Collect(_ann, ReadColumn(input, column), calibration);
            var execution = new ExecutionOptions { GpuDeviceId = _options.GpuDeviceId, FallbackToCpu = _options.FallbackToCpu };
            SpikingNetwork snn = _options.Method == ConversionMethod.Parallel
                ? ConvertParallel(input, column, stats, execution)
                : _options.Method == ConversionMethod.BitSerial
                ? BitSerialConverter.Convert(_ann, stats, new BitSerialOptions
                {
                    Bits = _options.TimeSteps,
                    Quantization = _options.Thresholds,
                    Percentile = _options.Percentile,
                    Requantize = _options.Requantize,
                })
                : differential
                ? DifferentialCodingConverter.Convert(_ann, stats, new DifferentialCodingOptions
                {
                    Thresholds = _options.Thresholds,
                    Percentile = _options.Percentile,
                    ThresholdLevels = _options.ThresholdLevels,
                    ThresholdScale = _options.ThresholdScale,
                    TimeSteps = _options.TimeSteps,
                    Rule = _options.FiringRule,
                    IterationMode = _options.IterationMode,
                    Neuron = _options.DifferentialNeuron,
                    Execution = execution,
                })
                : RateCodingConverter.Convert(_ann, stats, new RateCodingOptions
                {
                    Thresholds = _options.Thresholds,
                    Percentile = _options.Percentile,
                    InitialMembrane = _options.InitialMembrane,
                    Reset = _options.Reset,
                });
            _log?.Invoke($"Calibrated on {stats.SampleCount} rows; converted {snn.NeuronLayers.Count} activations to {_options.Method switch { ConversionMethod.DifferentialCoding => "differential multi-threshold", ConversionMethod.BitSerial => "bit-serial", ConversionMethod.Parallel => "parallel", _ => "IF" }} neurons, T = {_options.TimeSteps}.");
            foreach (string note in snn.Notes)
            {
                _log?.Invoke(note);
            }
            return new SpikingTransformer(snn, _ann, _options, classNames);
        }

        private SpikingNetwork ConvertParallel(IDataView input, DataViewSchema.Column column, CalibrationResult stats, ExecutionOptions execution)
        {
            var options = new ParallelOptions
            {
                Thresholds = _options.Thresholds,
                Percentile = _options.Percentile,
                TimeSteps = _options.TimeSteps,
                BatchSize = _options.BatchSize,
                Execution = execution,
            };
            SpikingNetwork snn = ParallelConverter.Convert(_ann, stats, options);
            if (_options.DistributionAwareCalibration)
            {
                _log?.Invoke("Distribution-aware calibration: a second pass over the calibration rows.");
                snn = ParallelConverter.Calibrate(snn, _ann, ReadColumn(input, column), options);
            }
            return snn;
        }

        private IEnumerable<float[]> ReadColumn(IDataView data, DataViewSchema.Column column)
        {
            using DataViewRowCursor cursor = data.GetRowCursor(new[] { column });
            ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            long rows = 0;
            while (cursor.MoveNext() && (_options.MaxCalibrationRows == null || rows < _options.MaxCalibrationRows))
            {
                getter(ref buffer);
                var dense = new float[buffer.Length];
                buffer.CopyTo(dense);
                rows++;
                yield return dense;
            }
        }

        /// <summary>
        /// Class names in model order: <see cref="SpikingConversionOptions.ClassNames"/>, else the label column's key
        /// values, else "0".."K−1". Fails when both exist and disagree, which is what MapValueToKey without keyData
        /// produces (keys in order of first occurrence, not the model's order).
        /// </summary>
        private string[] ResolveClassNames(DataViewSchema schema, int k)
        {
            string[]? fromLabel = LabelKeyValues(schema);
            string[]? given = _options.ClassNames;
            if (given != null && given.Length != k)
            {
                throw new ArgumentException($"ClassNames has {given.Length} names but the model outputs {k} classes.", nameof(schema));
            }
            if (given != null && fromLabel != null && !given.SequenceEqual(fromLabel))
            {
                string detail = fromLabel.OrderBy(n => n, StringComparer.Ordinal).SequenceEqual(given.OrderBy(n => n, StringComparer.Ordinal))
                    ? "They are the same classes in another order: MapValueToKey without keyData numbers keys by first occurrence. Pass keyData with the classes in model order."
                    : "They are not the same classes.";
                throw new InvalidOperationException(
                    $"The key values of label column '{_options.LabelColumnName}' [{string.Join(", ", fromLabel)}] do not match the model's class order [{string.Join(", ", given)}]. {detail}");
            }
            return given ?? fromLabel ?? Enumerable.Range(0, k).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        }

        private string[]? LabelKeyValues(DataViewSchema schema)
        {
            if (_options.LabelColumnName == null || schema.GetColumnOrNull(_options.LabelColumnName) is not { } label || label.Type is not KeyDataViewType)
            {
                return null;
            }
            DataViewSchema.Column? kv = label.Annotations.Schema.GetColumnOrNull("KeyValues");
            if (kv == null || kv.Value.Type is not VectorDataViewType vt)
            {
                return null;
            }
            string[] Read<T>(Func<T, string> format)
            {
                VBuffer<T> values = default;
                label.Annotations.GetValue("KeyValues", ref values);
                return values.DenseValues().Select(format).ToArray();
            }
            return vt.ItemType switch
            {
                TextDataViewType => Read<ReadOnlyMemory<char>>(v => v.ToString()),
                NumberDataViewType n when n == NumberDataViewType.Single => Read<float>(v => v.ToString(CultureInfo.InvariantCulture)),
                NumberDataViewType n when n == NumberDataViewType.Double => Read<double>(v => v.ToString(CultureInfo.InvariantCulture)),
                NumberDataViewType n when n == NumberDataViewType.Int32 => Read<int>(v => v.ToString(CultureInfo.InvariantCulture)),
                NumberDataViewType n when n == NumberDataViewType.UInt32 => Read<uint>(v => v.ToString(CultureInfo.InvariantCulture)),
                NumberDataViewType n when n == NumberDataViewType.Int64 => Read<long>(v => v.ToString(CultureInfo.InvariantCulture)),
                _ => null,
            };
        }
    }

    /// <summary>
    /// Builds the output <see cref="SchemaShape"/> without reflection: SchemaShape.Column's constructor is internal,
    /// so the columns come from a CustomMapping estimator's public GetOutputSchema over a schema definition.
    /// </summary>
    internal static class OutputSchemaShape
    {
        private sealed class NoInput
        {
        }

        private sealed class Outputs
        {
            public float[] Score { get; set; } = Array.Empty<float>();

            public uint PredictedLabel { get; set; }

            public float[] ScorePerStep { get; set; } = Array.Empty<float>();

            public double[] SpikeCount { get; set; } = Array.Empty<double>();

            public float[] AnnScore { get; set; } = Array.Empty<float>();

            public double[] SpikesPerStep { get; set; } = Array.Empty<double>();

            public double[] SynapticOps { get; set; } = Array.Empty<double>();
        }

        public static SchemaShape Append(SchemaShape input, SpikingConversionOptions options, int classes)
        {
            var definition = SchemaDefinition.Create(typeof(Outputs));
            Rename(definition, nameof(Outputs.Score), options.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classes));
            Rename(definition, nameof(Outputs.PredictedLabel), options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), classes));
            Rename(definition, nameof(Outputs.ScorePerStep), options.ScorePerStepColumnName, new VectorDataViewType(NumberDataViewType.Single, options.TimeSteps, classes));
            Rename(definition, nameof(Outputs.SpikeCount), options.SpikeCountColumnName, new VectorDataViewType(NumberDataViewType.Double, 1));
            if (options.AnnScoreColumnName != null)
            {
                Rename(definition, nameof(Outputs.AnnScore), options.AnnScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classes));
            }
            else
            {
                definition.Remove(definition[nameof(Outputs.AnnScore)]);
            }
            Rename(definition, nameof(Outputs.SpikesPerStep), options.SpikesPerStepColumnName, new VectorDataViewType(NumberDataViewType.Double, options.TimeSteps, 1));
            if (options.CountSynapticOperations)
            {
                Rename(definition, nameof(Outputs.SynapticOps), options.SynapticOperationsColumnName, new VectorDataViewType(NumberDataViewType.Double, options.TimeSteps, 1));
            }
            else
            {
                definition.Remove(definition[nameof(Outputs.SynapticOps)]);
            }
            var estimator = new MLContext().Transforms.CustomMapping<NoInput, Outputs>((_, _) => { }, contractName: null, outputSchemaDefinition: definition);
            return estimator.GetOutputSchema(input);
        }

        private static void Rename(SchemaDefinition definition, string member, string name, DataViewType type)
        {
            SchemaDefinition.Column column = definition[member];
            column.ColumnName = name;
            column.ColumnType = type;
        }
    }
}
