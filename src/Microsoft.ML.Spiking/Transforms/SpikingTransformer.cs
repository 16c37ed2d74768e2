// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Persistence;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking
{
    /// <summary>The columns a spiking transformer adds.</summary>
    internal enum OutputKind
    {
        Score,
        PredictedLabel,
        ScorePerStep,
        SpikeCount,
        AnnScore,
        SpikesPerStep,
        SynapticOperations,
    }

    /// <summary>
    /// A calibrated, converted spiking network as an ML.NET transformer. <see cref="Transform"/> is lazy:
    /// its cursor reads a batch of rows ahead, simulates them in one call, and serves the rows with these columns added:
    /// Score (softmax of the logit estimate after T steps; arg-max ties go to the lowest class index, as in ML.NET's
    /// evaluator), PredictedLabel (key), ScorePerStep (T×K running logit estimates), SpikeCount (per neuron layer,
    /// over T steps) and, unless switched off, AnnScore (the original network's logits on the same row).
    /// </summary>
    /// <remarks>
    /// Holds ONNX Runtime sessions: dispose it when done (disposing twice is harmless). Cursors may run on
    /// several threads; simulation calls are serialized. ML.NET's <c>mlContext.Model.Save</c> cannot store
    /// third-party transformers, so saving goes through the transformer's own versioned package: <see cref="Save(string)"/> and <see cref="Load(MLContext, string)"/>.
    /// </remarks>
    public sealed class SpikingTransformer : ITransformer, IDisposable
    {
        /// <summary>ML.NET's annotation kind for the names of a vector's slots.</summary>
        private const string AnnotationKindSlotNames = "SlotNames";

        /// <summary>ML.NET's annotation kind for the values behind a key type.</summary>
        private const string AnnotationKindKeyValues = "KeyValues";

        private readonly SpikingConversionOptions _options;
        private readonly SpikingScorer _scorer;
        private readonly string[] _classNames;

        internal SpikingTransformer(SpikingNetwork network, Network ann, SpikingConversionOptions options, string[] classNames)
        {
            Network = network;
            Ann = ann;
            _options = options;
            _classNames = classNames;
            var simulation = new SimulationOptions
            {
                TimeSteps = options.TimeSteps,
                Execution = new ExecutionOptions { GpuDeviceId = options.GpuDeviceId, FallbackToCpu = options.FallbackToCpu },
                CountSynapticOperations = options.CountSynapticOperations,
            };
            _scorer = new SpikingScorer(network, ann, simulation, options.AnnScoreColumnName != null);
            var outputs = new List<OutputKind> { OutputKind.Score, OutputKind.PredictedLabel, OutputKind.ScorePerStep, OutputKind.SpikeCount };
            if (options.AnnScoreColumnName != null)
            {
                outputs.Add(OutputKind.AnnScore);
            }
            outputs.Add(OutputKind.SpikesPerStep);
            if (_scorer.Layout.HasSynapticOperations)
            {
                outputs.Add(OutputKind.SynapticOperations);
            }
            Outputs = outputs;
        }

        /// <summary>The converted spiking network.</summary>
        public SpikingNetwork Network { get; }

        /// <summary>The prepared ANN it was converted from.</summary>
        public Network Ann { get; }

        /// <summary>Class names in model output order (Score slot names, PredictedLabel key values).</summary>
        public IReadOnlyList<string> ClassNames => _classNames;

        /// <summary>T, the simulated steps per row.</summary>
        public int TimeSteps => _options.TimeSteps;

        /// <summary>Always true: rows are independent, so <see cref="GetRowToRowMapper"/> serves prediction engines.</summary>
        public bool IsRowToRowMapper => true;

        internal SpikingConversionOptions Options => _options;

        internal SpikingScorer Scorer => _scorer;

        /// <summary>The added columns, in schema order.</summary>
        internal IReadOnlyList<OutputKind> Outputs { get; }

        /// <summary>The input schema plus the added columns.</summary>
        /// <param name="inputSchema">The schema of the data to transform.</param>
        /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a vector of Single of the model's input size.</exception>
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
        {
            ArgumentNullException.ThrowIfNull(inputSchema, nameof(inputSchema));
            CheckInputColumn(inputSchema);
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(inputSchema);
            int k = _classNames.Length;
            string[] neuronNames = Network.NeuronLayers.Select(l => l.Name).ToArray();
            foreach (OutputKind output in Outputs)
            {
                switch (output)
                {
                    case OutputKind.Score:
                        builder.AddColumn(_options.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), SlotNames(_classNames));
                        break;
                    case OutputKind.PredictedLabel:
                        var keyValues = new DataViewSchema.Annotations.Builder();
                        keyValues.Add<VBuffer<ReadOnlyMemory<char>>>(AnnotationKindKeyValues, new VectorDataViewType(TextDataViewType.Instance, k),
                            (ref VBuffer<ReadOnlyMemory<char>> dst) => Text(_classNames, ref dst));
                        builder.AddColumn(_options.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), keyValues.ToAnnotations());
                        break;
                    case OutputKind.ScorePerStep:
                        builder.AddColumn(_options.ScorePerStepColumnName, new VectorDataViewType(NumberDataViewType.Single, TimeSteps, k));
                        break;
                    case OutputKind.SpikeCount:
                        builder.AddColumn(_options.SpikeCountColumnName, new VectorDataViewType(NumberDataViewType.Double, neuronNames.Length), SlotNames(neuronNames));
                        break;
                    case OutputKind.AnnScore:
                        builder.AddColumn(_options.AnnScoreColumnName!, new VectorDataViewType(NumberDataViewType.Single, k), SlotNames(_classNames));
                        break;
                    case OutputKind.SpikesPerStep:
                        builder.AddColumn(_options.SpikesPerStepColumnName, new VectorDataViewType(NumberDataViewType.Double, TimeSteps, neuronNames.Length));
                        break;
                    case OutputKind.SynapticOperations:
                        builder.AddColumn(_options.SynapticOperationsColumnName, new VectorDataViewType(NumberDataViewType.Double, TimeSteps, _scorer.Layout.SynapticLayers.Length));
                        break;
                }
            }
            return builder.ToSchema();
        }

        /// <summary>Returns a lazy view; rows are simulated in batches as a cursor reads them.</summary>
        /// <param name="input">The data to score.</param>
        public IDataView Transform(IDataView input)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(input));
            return new SpikingDataView(this, input, GetOutputSchema(input.Schema));
        }

        /// <summary>A row-to-row mapper (used by prediction engines); simulates each row on its own.</summary>
        /// <param name="inputSchema">The input schema.</param>
        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
        {
            ArgumentNullException.ThrowIfNull(inputSchema, nameof(inputSchema));
            return new SpikingRowMapper(this, inputSchema, GetOutputSchema(inputSchema));
        }

        /// <summary>
        /// Saves the transformer as a versioned spiking package that <see cref="Load(MLContext, string)"/> reads back
        /// with bit-identical outputs.
        /// </summary>
        /// <remarks>
        /// The package is a zip: <c>manifest.json</c> (format version, library version, creation time, method, T, class
        /// names, conversion notes, options), the IR of the spiking network and of the prepared ANN
        /// (<c>snn/network.json</c>, <c>ann/network.json</c>, weights as raw little-endian float32 in <c>tensors/</c>),
        /// and <c>snn.onnx</c>, the standalone model <see cref="ExportOnnx(string)"/> writes. GPU settings are not stored:
        /// the loading <see cref="MLContext"/> supplies them.
        /// </remarks>
        /// <param name="path">The file to write (replaced if it exists).</param>
        /// <exception cref="NotSupportedException">The network holds a layer type the package format cannot store.</exception>
        public void Save(string path)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(path, nameof(path));
            using var buffer = new MemoryStream();
            SpikingPackage.Save(this, buffer);
            using FileStream file = File.Create(path);
            buffer.Position = 0;
            buffer.CopyTo(file);
        }

        /// <summary>Saves the transformer as a versioned spiking package (see <see cref="Save(string)"/>) into a stream, which is left open.</summary>
        /// <param name="stream">A writable stream.</param>
        /// <exception cref="NotSupportedException">The network holds a layer type the package format cannot store.</exception>
        public void Save(Stream stream)
        {
            ArgumentNullException.ThrowIfNull(stream, nameof(stream));
            SpikingPackage.Save(this, stream);
        }

        /// <summary>Loads a transformer saved by <see cref="Save(string)"/>.</summary>
        /// <param name="mlContext">The context; its <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> choose where the loaded transformer runs.</param>
        /// <param name="path">The package file.</param>
        /// <returns>The transformer, which owns ONNX Runtime sessions: dispose it when done.</returns>
        /// <exception cref="FormatException">The file is not a spiking package, is corrupt or incomplete (the message names the entry), or has a format version this library cannot read.</exception>
        public static SpikingTransformer Load(MLContext mlContext, string path)
        {
            ArgumentNullException.ThrowIfNull(mlContext, nameof(mlContext));
            ArgumentException.ThrowIfNullOrWhiteSpace(path, nameof(path));
            using FileStream file = File.OpenRead(path);
            return SpikingPackage.Load(mlContext, file, $"'{path}'");
        }

        /// <summary>Loads a transformer saved by <see cref="Save(Stream)"/>; the stream is read from its current position and left open.</summary>
        /// <param name="mlContext">The context; its <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> choose where the loaded transformer runs.</param>
        /// <param name="stream">The package.</param>
        /// <returns>The transformer, which owns ONNX Runtime sessions: dispose it when done.</returns>
        /// <exception cref="FormatException">The stream does not hold a spiking package, it is corrupt or incomplete (the message names the entry), or its format version is one this library cannot read.</exception>
        public static SpikingTransformer Load(MLContext mlContext, Stream stream)
        {
            ArgumentNullException.ThrowIfNull(mlContext, nameof(mlContext));
            ArgumentNullException.ThrowIfNull(stream, nameof(stream));
            return SpikingPackage.Load(mlContext, stream, "the stream");
        }

        /// <summary>
        /// Writes the spiking network as a standalone ONNX model (opset 18) that runs the whole T-step simulation in
        /// one call, for ONNX Runtime or <c>mlContext.Transforms.ApplyOnnxModel</c> without this library.
        /// </summary>
        /// <remarks>
        /// One input named like the input column (<see cref="SpikingConversionOptions.InputColumnName"/>), float
        /// [N, C, H, W] with a symbolic batch N (ApplyOnnxModel runs it one row at a time, N = 1); no state inputs, since
        /// the membranes start in the graph at InitialMembrane·θ. One output named like the score column
        /// (<see cref="SpikingConversionOptions.ScoreColumnName"/>), [N, K]: the softmax of the mean over the T steps
        /// of the output layer's value, which is the transformer's Score (to float rounding: the graph averages in
        /// float32, the transformer in double). The T steps are unrolled, so the graph grows with T.
        /// </remarks>
        /// <param name="path">The .onnx file to write (replaced if it exists).</param>
        public void ExportOnnx(string path)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(path, nameof(path));
            byte[] model = SnnOnnxExporter.Export(this);
            File.WriteAllBytes(path, model);
        }

        /// <summary>Writes the standalone ONNX model described at <see cref="ExportOnnx(string)"/> into a stream, which is left open.</summary>
        /// <param name="stream">A writable stream.</param>
        public void ExportOnnx(Stream stream)
        {
            ArgumentNullException.ThrowIfNull(stream, nameof(stream));
            stream.Write(SnnOnnxExporter.Export(this));
        }

        /// <summary>Not supported: ML.NET's model format is closed to external assemblies.</summary>
        /// <param name="ctx">Unused.</param>
        /// <exception cref="NotSupportedException">Always.</exception>
        void ICanSaveModel.Save(ModelSaveContext ctx) =>
            throw new NotSupportedException("mlContext.Model.Save cannot store a SpikingTransformer: ML.NET's model format is closed to external assemblies. Use SpikingTransformer.Save(path) and SpikingTransformer.Load(mlContext, path) (a versioned package), or ExportOnnx(path) for a standalone ONNX model.");

        /// <summary>Releases the ONNX Runtime sessions. Safe to call more than once.</summary>
        public void Dispose() => _scorer.Dispose();

        /// <summary>Index of the input column, after checking its type like ML.NET's transforms do.</summary>
        internal int CheckInputColumn(DataViewSchema schema) =>
            InputColumn.Check(schema, _options.InputColumnName, Network.Network.InputShape).Index;

        private static DataViewSchema.Annotations SlotNames(string[] names)
        {
            var builder = new DataViewSchema.Annotations.Builder();
            builder.Add<VBuffer<ReadOnlyMemory<char>>>(AnnotationKindSlotNames, new VectorDataViewType(TextDataViewType.Instance, names.Length),
                (ref VBuffer<ReadOnlyMemory<char>> dst) => Text(names, ref dst));
            return builder.ToAnnotations();
        }

        private static void Text(string[] values, ref VBuffer<ReadOnlyMemory<char>> dst)
        {
            var editor = VBufferEditor.Create(ref dst, values.Length);
            for (int i = 0; i < values.Length; i++)
            {
                editor.Values[i] = values[i].AsMemory();
            }
            dst = editor.Commit();
        }
    }
}
