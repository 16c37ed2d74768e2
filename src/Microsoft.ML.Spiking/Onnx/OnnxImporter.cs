// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Imports an ONNX image classifier into the network IR. Every node either becomes a layer, is
    /// folded (constants, Identity, Dropout), or is reported: a model with unsupported nodes fails
    /// with <see cref="UnsupportedOnnxOperatorException"/> listing all of them.
    /// </summary>
    public static class OnnxImporter
    {
        /// <summary>Lowest default-domain opset accepted.</summary>
        public const int MinOpset = 7;

        /// <summary>Highest default-domain opset accepted.</summary>
        public const int MaxOpset = 21;

        /// <summary>The op types the importer converts (constant-only subgraphs of other simple ops are folded too).</summary>
        public static IReadOnlyList<string> SupportedOps { get; } = new[]
        {
            "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout",
            "Expand", "Flatten", "Floor", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "Identity", "LayerNormalization",
            "LogSoftmax", "MatMul", "MaxPool", "Mul", "Relu", "Reshape", "Shape", "Slice", "Softmax", "Split", "Squeeze",
            "Sub", "Transpose", "Unsqueeze",
        };

        /// <summary>Reads and imports an ONNX file.</summary>
        /// <param name="path">Path of the .onnx file.</param>
        /// <returns>The imported network, shapes inferred.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="OnnxImportException">The file is not an ONNX model this importer can represent.</exception>
        /// <exception cref="UnsupportedOnnxOperatorException">The model contains unsupported nodes (all are listed).</exception>
        public static Network Load(string path)
        {
            ArgumentNullException.ThrowIfNull(path, nameof(path));
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"ONNX model file '{path}' does not exist.", path);
            }
            return Load(File.ReadAllBytes(path), Path.GetFileName(path));
        }

        /// <summary>Imports an ONNX model from its bytes.</summary>
        /// <param name="modelBytes">The serialized ModelProto.</param>
        /// <param name="sourceName">A name for messages (the file name).</param>
        /// <returns>The imported network, shapes inferred.</returns>
        /// <exception cref="OnnxImportException">The bytes are not an ONNX model this importer can represent.</exception>
        /// <exception cref="UnsupportedOnnxOperatorException">The model contains unsupported nodes (all are listed).</exception>
        public static Network Load(byte[] modelBytes, string sourceName)
        {
            ArgumentNullException.ThrowIfNull(modelBytes, nameof(modelBytes));
            sourceName ??= "model";
            ModelProto model;
            try
            {
                model = ModelProto.Parser.ParseFrom(modelBytes);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new OnnxImportException($"{sourceName}: not a valid ONNX model (the protobuf data is malformed: {e.Message}).", e);
            }
            if (model.Graph == null || model.IrVersion <= 0 || model.Graph.Node.Count == 0)
            {
                throw new OnnxImportException($"{sourceName}: not a valid ONNX model (ir_version {model.IrVersion}, {(model.Graph == null ? "no graph" : $"{model.Graph.Node.Count} nodes")}).");
            }
            return new GraphImporter(model, sourceName).Import();
        }
    }

    /// <summary>The state of one import: values seen so far, layers built, problems found.</summary>
    internal sealed partial class GraphImporter
    {
        private readonly ModelProto _model;
        private readonly string _source;
        private readonly Dictionary<string, ConstValue> _constants;
        private readonly Dictionary<string, string> _activations;
        private readonly Dictionary<string, int[]> _shapes;
        private readonly HashSet<string> _poisoned;
        private readonly List<Layer> _layers;
        private readonly List<UnsupportedNode> _unsupported;
        private readonly Dictionary<string, PendingTranspose> _pending = new(StringComparer.Ordinal);
        private readonly HashSet<string> _batchBroadcast = new(StringComparer.Ordinal);
        private int _opset;
        private bool _batchFixedToOne;

        public GraphImporter(ModelProto model, string source)
        {
            _model = model;
            _source = source;
            _constants = new Dictionary<string, ConstValue>(StringComparer.Ordinal);
            _activations = new Dictionary<string, string>(StringComparer.Ordinal);
            _shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
            _poisoned = new HashSet<string>(StringComparer.Ordinal);
            _layers = new List<Layer>();
            _unsupported = new List<UnsupportedNode>();
        }

        public Network Import()
        {
            GraphProto graph = _model.Graph;
            _opset = ReadOpset();
            foreach (TensorProto init in graph.Initializer)
            {
                _constants[init.Name] = ConstValue.FromTensor(init, _source);
            }
            (string inputName, int[] inputShape) = ReadInput(graph);
            _activations[inputName] = inputName;
            _shapes[inputName] = inputShape;

            foreach (NodeProto node in PatternFusion.Apply(graph))
            {
                ImportNode(node);
            }
            if (graph.Output.Count == 1 && _pending.ContainsKey(graph.Output[0].Name))
            {
                RejectPendingOutput(graph.Output[0].Name);
            }
            if (_unsupported.Count > 0)
            {
                throw new UnsupportedOnnxOperatorException(_source, _unsupported, OnnxImporter.SupportedOps);
            }
            if (graph.Output.Count != 1)
            {
                throw new OnnxImportException($"{_source}: the model has {graph.Output.Count} outputs ({string.Join(", ", graph.Output.Select(o => o.Name))}); a classifier with exactly one output (the logits) is expected.");
            }
            string output = graph.Output[0].Name;
            if (_pending.TryGetValue(output, out PendingTranspose? pendingOutput))
            {
                throw new OnnxImportException($"{_source}: the output '{output}' has its batch axis moved by {pendingOutput.Source}; the output must keep the batch axis first.");
            }
            if (!_activations.TryGetValue(output, out string? outputValue))
            {
                throw new OnnxImportException($"{_source}: the output '{output}' does not depend on the input '{inputName}'.");
            }
            try
            {
                return new Network(inputName, inputShape, _layers, outputValue, _source).Prune();
            }
            catch (InvalidOperationException e)
            {
                throw new OnnxImportException(e.Message, e);
            }
        }

        private int ReadOpset()
        {
            OperatorSetIdProto? main = _model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0 || o.Domain == "ai.onnx");
            if (main == null)
            {
                throw new OnnxImportException($"{_source}: the model imports no default-domain opset; opsets {OnnxImporter.MinOpset} to {OnnxImporter.MaxOpset} are supported.");
            }
            if (main.Version < OnnxImporter.MinOpset || main.Version > OnnxImporter.MaxOpset)
            {
                throw new OnnxImportException($"{_source}: opset {main.Version} is not supported; opsets {OnnxImporter.MinOpset} to {OnnxImporter.MaxOpset} are.");
            }
            return (int)main.Version;
        }

        private (string Name, int[] Shape) ReadInput(GraphProto graph)
        {
            var realInputs = graph.Input.Where(i => !_constants.ContainsKey(i.Name)).ToList();
            if (realInputs.Count != 1)
            {
                string names = string.Join(", ", realInputs.Select(i => $"'{i.Name}'"));
                throw new OnnxImportException($"{_source}: the model has {realInputs.Count} inputs ({names}); exactly one image input is supported.");
            }
            ValueInfoProto input = realInputs[0];
            TypeProto.Types.Tensor? tensorType = input.Type?.TensorType;
            if (tensorType == null || tensorType.ElemType != (int)TensorProto.Types.DataType.Float)
            {
                throw new OnnxImportException($"{_source}: input '{input.Name}' must be a float tensor (element type {tensorType?.ElemType ?? 0} found).");
            }
            var dims = tensorType.Shape?.Dim;
            if (dims == null || dims.Count < 2)
            {
                throw new OnnxImportException($"{_source}: input '{input.Name}' must have a known shape [N, C, H, W] or [N, F]; found rank {dims?.Count ?? 0}.");
            }
            _batchFixedToOne = dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[0].DimValue == 1;
            if (dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[0].DimValue > 1)
            {
                throw new OnnxImportException($"{_source}: input '{input.Name}' fixes the batch size to {dims[0].DimValue}; only a free batch axis or batch 1 is supported.");
            }
            var shape = new int[dims.Count - 1];
            for (int i = 1; i < dims.Count; i++)
            {
                var d = dims[i];
                if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > int.MaxValue)
                {
                    throw new OnnxImportException($"{_source}: input '{input.Name}' has dimension {d.DimValue} on axis {i}, more than the importer supports.");
                }
                if (d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue || d.DimValue <= 0)
                {
                    string what = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? $"'{d.DimParam}'" : "unknown";
                    throw new OnnxImportException($"{_source}: input '{input.Name}' has a dynamic dimension {what} on axis {i}; the spatial shape must be fixed (export the model with a fixed input size).");
                }
                shape[i - 1] = (int)d.DimValue;
            }
            return (input.Name, shape);
        }

        private void ImportNode(NodeProto node)
        {
            string nodeName = node.Name.Length > 0 ? node.Name : (node.Output.Count > 0 ? node.Output[0] : "(unnamed)");
            string opType = node.Domain.Length == 0 || node.Domain == "ai.onnx" ? node.OpType : $"{node.Domain}.{node.OpType}";
            string where = $"{_source}: node '{nodeName}' ({opType})";
            bool dependsOnPoison = node.Input.Any(i => _poisoned.Contains(i));
            bool knownOp = OnnxImporter.SupportedOps.Contains(opType) || ConstantFolding.FoldableOps.Contains(opType);
            if (!knownOp)
            {
                Reject(node, nodeName, opType, opType switch
                {
                    "Erf" => "Erf is supported only inside exact GELU, x·½·(1 + erf(x/√2)), which the importer fuses into one GELU",
                    "ReduceMean" or "Pow" => $"{opType} is supported only inside LayerNorm's decomposed form (ReduceMean → Sub → Pow 2 → ReduceMean → Add ε → Sqrt → Div over the last axis), which the importer fuses",
                    _ => "this op is not supported",
                });
                return;
            }
            if (dependsOnPoison)
            {
                PoisonOutputs(node);
                return;
            }
            int required = opType == "Concat" ? Math.Max(1, node.Input.Count) : RequiredInputs(opType);
            if (node.Input.Count < required || node.Input.Take(required).Any(i => i.Length == 0))
            {
                string found = string.Join(", ", node.Input.Select(i => i.Length == 0 ? "(empty)" : $"'{i}'"));
                throw new OnnxImportException($"{where}: has {node.Input.Count} input(s) ({found}); {opType} at opset {_opset} needs at least {required} non-empty input(s).");
            }
            int allowed = MaxInputs(opType);
            if (node.Input.Count > allowed)
            {
                string found = string.Join(", ", node.Input.Select(i => i.Length == 0 ? "(empty)" : $"'{i}'"));
                throw new OnnxImportException($"{where}: has {node.Input.Count} inputs ({found}); {opType} at opset {_opset} takes at most {allowed}.");
            }
            if (node.Output.Count == 0 || node.Output[0].Length == 0)
            {
                throw new OnnxImportException($"{where}: has no output.");
            }
            try
            {
                var attributes = new NodeAttributes(node, where);
                if (opType == "Constant")
                {
                    _constants[node.Output[0]] = ReadConstantNode(attributes, where);
                    return;
                }
                bool allConstant = node.Input.Where(i => i.Length > 0).All(i => _constants.ContainsKey(i));
                if (allConstant && opType != "Shape")
                {
                    var inputs = node.Input.Select(i => i.Length == 0 ? null : _constants[i]).ToList();
                    if (opType == "Expand" && TryExpandOverBatch(node, inputs, where))
                    {
                        return;
                    }
                    ConstValue? folded = ConstantFolding.TryFold(opType, inputs, attributes, _opset, where);
                    if (folded == null)
                    {
                        Reject(node, nodeName, opType, "constant-only form of this op is not supported");
                        return;
                    }
                    _constants[node.Output[0]] = folded;
                    return;
                }
                foreach (string input in node.Input.Where(i => i.Length > 0))
                {
                    if (!_constants.ContainsKey(input) && !_activations.ContainsKey(input) && !_pending.ContainsKey(input))
                    {
                        throw new OnnxImportException($"{where}: input '{input}' is not produced by any earlier node (the graph is not topologically sorted or is incomplete).");
                    }
                }
                string? problem = ConvertNode(node, nodeName, opType, attributes, where);
                if (problem != null)
                {
                    Reject(node, nodeName, opType, problem);
                }
            }
            catch (Exception e) when (e is InvalidOperationException || e is ArgumentException || e is OverflowException)
            {
                // Shape inference and layer constructors report misfits with these; name the node.
                throw new OnnxImportException($"{where}: {e.Message}", e);
            }
        }

        /// <summary>How many leading inputs an op cannot do without (the rest are optional).</summary>
        private int RequiredInputs(string opType) => opType switch
        {
            "Constant" => 0,
            "Add" or "Sub" or "Mul" or "Div" or "MatMul" or "Gemm" or "Conv" or "Reshape" or "Gather" or "Expand" or "Equal" => 2,
            "Slice" when _opset >= 10 => 3,
            "Where" => 3,
            "BatchNormalization" => 5,
            "Unsqueeze" when _opset >= 13 => 2,
            _ => 1,
        };

        /// <summary>How many inputs an op takes at most (ONNX Runtime rejects more).</summary>
        private int MaxInputs(string opType) => opType switch
        {
            "Constant" => 0,
            "Concat" => int.MaxValue,
            "BatchNormalization" => 5,
            "Gemm" or "Conv" or "Clip" or "Dropout" or "LayerNormalization" or "Where" => 3,
            "Add" or "Sub" or "Mul" or "Div" or "MatMul" or "Reshape" or "Gather" or "Expand" or "Equal" => 2,
            "Unsqueeze" or "Squeeze" or "Split" => _opset >= 13 ? 2 : 1,
            "Slice" => _opset >= 10 ? 5 : 1,
            _ => 1,
        };

        private void Reject(NodeProto node, string nodeName, string opType, string reason)
        {
            _unsupported.Add(new UnsupportedNode(nodeName, opType, reason));
            PoisonOutputs(node);
        }

        private void PoisonOutputs(NodeProto node)
        {
            foreach (string o in node.Output)
            {
                _poisoned.Add(o);
            }
        }

        private ConstValue ReadConstantNode(NodeAttributes attributes, string where)
        {
            TensorProto? t = attributes.GetTensor("value");
            if (t != null)
            {
                return ConstValue.FromTensor(t, _source);
            }
            if (attributes.Has("value_float"))
            {
                return new ConstValue(Array.Empty<int>(), new double[] { attributes.GetFloat("value_float", 0) }, false);
            }
            if (attributes.Has("value_int"))
            {
                return new ConstValue(Array.Empty<int>(), new double[] { attributes.GetInt("value_int", 0) }, true);
            }
            float[]? floats = attributes.GetFloats("value_floats");
            if (floats != null)
            {
                return new ConstValue(new[] { floats.Length }, floats.Select(f => (double)f).ToArray(), false);
            }
            long[]? ints = attributes.GetInts("value_ints");
            if (ints != null)
            {
                return new ConstValue(new[] { ints.Length }, ints.Select(i => (double)i).ToArray(), true);
            }
            throw new OnnxImportException($"{where}: Constant has no value attribute the importer reads (value, value_float(s), value_int(s)).");
        }
    }
}
