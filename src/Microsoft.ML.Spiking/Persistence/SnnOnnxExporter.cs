// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// Turns the simulator's chunk graph for K = T steps (<see cref="SnnGraphBuilder"/>, constant input) into a
    /// standalone ONNX model that runs the whole simulation in one call with no state inputs:
    /// <list type="bullet">
    /// <item>the input is renamed to the transformer's input column, [N, C, H, W] with a symbolic batch;</item>
    /// <item>each state input <c>state_in_i</c> becomes an in-graph value: the simulator's initial value (for IF
    /// neurons v(0) = InitialMembrane·θ), expanded to [N, ...] with Shape → Concat → Expand; <c>step_offset</c> of a
    /// differential network becomes the constant 0, and an image it needs at every step becomes [image, 0, …];</item>
    /// <item><c>output_steps</c> [T·N, K] becomes the score: Reshape to [T, N, K], then the mean over the steps
    /// (rate coding) or the last step's decoded estimate (differential coding), Softmax over the classes, the
    /// transformer's Score column; every other output is dropped and the nodes that only fed them are pruned.</item>
    /// </list>
    /// The graph unrolls the T steps, so its size grows with T (about four nodes per neuron layer and step).
    /// </summary>
    internal static class SnnOnnxExporter
    {
        public static byte[] Export(SpikingTransformer transformer) =>
            Export(transformer.Network, transformer.TimeSteps, transformer.Options.InputColumnName, transformer.Options.ScoreColumnName, transformer.ClassNames);

        public static byte[] Export(SpikingNetwork network, int timeSteps, string inputName, string outputName, IReadOnlyList<string> classNames)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentException.ThrowIfNullOrWhiteSpace(inputName, nameof(inputName));
            ArgumentException.ThrowIfNullOrWhiteSpace(outputName, nameof(outputName));
            if (inputName == outputName)
            {
                throw new ArgumentException($"The ONNX input and output cannot both be named '{inputName}'.", nameof(outputName));
            }
            bool perStep = SnnGraphBuilder.RequiresInputPerStep(network);
            SnnChunkGraph chunk = SnnGraphBuilder.Build(network, timeSteps, timeVaryingInput: perStep);
            ModelProto model = ModelProto.Parser.ParseFrom(chunk.Model);
            GraphProto graph = model.Graph;
            var names = new Names(graph);
            foreach (string name in new[] { inputName, outputName })
            {
                if (name != SnnGraphBuilder.InputName && names.Contains(name))
                {
                    throw new ArgumentException($"The column name '{name}' is already a value of the simulation graph; rename the column to export.", name == inputName ? nameof(inputName) : nameof(outputName));
                }
            }

            var prefix = new List<NodeProto>();
            ValueInfoProto input = ReplaceInputs(graph, chunk, inputName, names, prefix);
            string graphInput = inputName;
            if (perStep)
            {
                // The image at step 1, zeros after (differential coding presents the input once).
                string zeros = names.Fresh("zeros");
                string zero = names.Fresh("zero");
                graph.Initializer.Add(ConstValue.ToProto(zero, Array.Empty<int>(), new[] { 0f }));
                prefix.Add(Node(names, "Mul", new[] { inputName, zero }, zeros));
                graphInput = names.Fresh("input_steps");
                prefix.Add(Node(names, "Concat", new[] { inputName }.Concat(Enumerable.Repeat(zeros, timeSteps - 1)), graphInput, OnnxGraphBuilder.Attr("axis", 0L)));
            }
            foreach (NodeProto node in graph.Node)
            {
                for (int i = 0; i < node.Input.Count; i++)
                {
                    if (node.Input[i] == SnnGraphBuilder.InputName)
                    {
                        node.Input[i] = graphInput;
                    }
                }
            }
            input.Name = inputName;
            graph.Input.Clear();
            graph.Input.Add(input);

            int classes = ShapeUtil.Size(network.Network.OutputShape);
            string stepsShape = names.Fresh("steps_shape");
            graph.Initializer.Add(ConstValue.ToProto(stepsShape, new[] { 3 }, new long[] { timeSteps, -1, classes }));
            string steps = names.Fresh("steps");
            string stepAxis = names.Fresh("step_axis");
            graph.Initializer.Add(ConstValue.ToProto(stepAxis, new[] { 1 }, new long[] { 0 }));
            string mean = names.Fresh("mean_logits");
            var suffix = new List<NodeProto> { Node(names, "Reshape", new[] { SnnGraphBuilder.OutputName, stepsShape }, steps) };
            if (chunk.OutputsAreEstimates)
            {
                // The graph already decodes r[t] (or accumulates the bits); the score is the estimate after the last step.
                string last = names.Fresh("last_step");
                graph.Initializer.Add(ConstValue.ToProto(last, Array.Empty<int>(), new long[] { timeSteps - 1 }));
                suffix.Add(Node(names, "Gather", new[] { steps, last }, mean, OnnxGraphBuilder.Attr("axis", 0L)));
            }
            else
            {
                suffix.Add(Node(names, "ReduceMean", new[] { steps, stepAxis }, mean, OnnxGraphBuilder.Attr("keepdims", 0L)));
            }
            suffix.Add(Node(names, "Softmax", new[] { mean }, outputName, OnnxGraphBuilder.Attr("axis", -1L)));
            graph.Output.Clear();
            graph.Output.Add(ValueInfo(outputName, input.Type.TensorType.Shape.Dim[0].Clone(), classes));

            var nodes = prefix.Concat(graph.Node).Concat(suffix).ToList();
            graph.Node.Clear();
            graph.Node.AddRange(nodes);
            Prune(graph);
            Describe(model, network, timeSteps, inputName, outputName, classNames);
            return model.ToByteArray();
        }

        /// <summary>Checks the chunk graph's inputs, returns the image input and emits the initial value of every state input.</summary>
        private static ValueInfoProto ReplaceInputs(GraphProto graph, SnnChunkGraph chunk, string inputName, Names names, List<NodeProto> prefix)
        {
            var states = chunk.States.ToDictionary(s => s.Input, s => s, StringComparer.Ordinal);
            var missing = new HashSet<string>(states.Keys, StringComparer.Ordinal);
            ValueInfoProto? input = null;
            bool stepOffset = false;
            foreach (ValueInfoProto value in graph.Input)
            {
                if (value.Name == SnnGraphBuilder.InputName)
                {
                    input = value;
                }
                else if (value.Name == ChunkContext.StepOffsetName)
                {
                    stepOffset = true;
                }
                else if (!missing.Remove(value.Name))
                {
                    throw new InvalidOperationException($"The simulation graph has an input '{value.Name}' that ONNX export does not know how to fill.");
                }
            }
            if (input == null || missing.Count > 0 || stepOffset != chunk.Differential)
            {
                throw new InvalidOperationException($"The simulation graph lacks the input(s) {string.Join(", ", missing.Prepend(input == null ? SnnGraphBuilder.InputName : null).Append(stepOffset != chunk.Differential ? ChunkContext.StepOffsetName : null).OfType<string>())}.");
            }
            if (chunk.Differential)
            {
                // One chunk of T steps from the start: the offset is 0.
                graph.Initializer.Add(ConstValue.ToProto(ChunkContext.StepOffsetName, new[] { 1 }, new[] { 0f }));
            }
            string batch = names.Fresh("batch");
            prefix.Add(Node(names, "Shape", new[] { inputName }, batch, OnnxGraphBuilder.Attr("start", 0L), OnnxGraphBuilder.Attr("end", 1L)));
            int i = 0;
            foreach (StateSpec state in chunk.States)
            {
                // The simulator's initial values, bit for bit; a uniform state is stored as one value.
                bool uniform = state.Initial.All(v => v.Equals(state.Initial[0]));
                int[] dims = uniform ? Enumerable.Repeat(1, state.Shape.Length + 1).ToArray() : new[] { 1 }.Concat(state.Shape).ToArray();
                string initial = names.Fresh($"initial_{i}");
                graph.Initializer.Add(ConstValue.ToProto(initial, dims, uniform ? new[] { state.Initial[0] } : state.Initial));
                string sampleShape = names.Fresh($"state_shape_{i}");
                graph.Initializer.Add(ConstValue.ToProto(sampleShape, new[] { state.Shape.Length }, state.Shape.Select(d => (long)d).ToArray()));
                string target = names.Fresh($"state_dims_{i}");
                prefix.Add(Node(names, "Concat", new[] { batch, sampleShape }, target, OnnxGraphBuilder.Attr("axis", 0L)));
                prefix.Add(Node(names, "Expand", new[] { initial, target }, state.Input));
                i++;
            }
            return input;
        }

        /// <summary>Drops the nodes no output depends on (spike counts, final membranes), then unused initializers and value infos.</summary>
        private static void Prune(GraphProto graph)
        {
            var needed = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
            var kept = new List<NodeProto>();
            for (int i = graph.Node.Count - 1; i >= 0; i--)
            {
                NodeProto node = graph.Node[i];
                if (node.Output.Any(needed.Contains))
                {
                    kept.Add(node);
                    needed.UnionWith(node.Input.Where(n => n.Length > 0));
                }
            }
            kept.Reverse();
            graph.Node.Clear();
            graph.Node.AddRange(kept);
            var initializers = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
            graph.Initializer.Clear();
            graph.Initializer.AddRange(initializers);
            var valueInfos = graph.ValueInfo.Where(v => needed.Contains(v.Name)).ToList();
            graph.ValueInfo.Clear();
            graph.ValueInfo.AddRange(valueInfos);
        }

        private static void Describe(ModelProto model, SpikingNetwork network, int timeSteps, string inputName, string outputName, IReadOnlyList<string> classNames)
        {
            model.ProducerName = "Microsoft.ML.Spiking";
            model.ProducerVersion = typeof(SnnOnnxExporter).Assembly.GetName().Version?.ToString() ?? string.Empty;
            model.Graph.Name = $"snn_{timeSteps}_steps";
            model.DocString =
                $"Spiking network ({network.Method}) converted from '{network.Network.Source}' by Microsoft.ML.Spiking, simulated for T = {timeSteps} steps " +
                $"in one call. Input '{inputName}' [N,{string.Join(",", network.Network.InputShape)}]; output '{outputName}' [N,{classNames.Count}]: " +
                (network.IsDifferential || network.Method == ConversionMethod.BitSerial
                    ? "softmax of the decoded output after the last step (the SpikingTransformer's Score column)."
                    : "softmax of the mean over the T steps of the output layer's value (the SpikingTransformer's Score column).");
            Metadata(model, "spiking.formatVersion", SpikingPackage.FormatVersion.ToString(CultureInfo.InvariantCulture));
            Metadata(model, "spiking.method", network.Method.ToString());
            Metadata(model, "spiking.timeSteps", timeSteps.ToString(CultureInfo.InvariantCulture));
            Metadata(model, "spiking.source", network.Network.Source);
            Metadata(model, "spiking.classNames", JsonScope.StringsNode(classNames).ToJsonString());
        }

        private static void Metadata(ModelProto model, string key, string value) =>
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

        private static NodeProto Node(Names names, string op, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = names.Fresh("n_" + op) };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            return node;
        }

        private static ValueInfoProto ValueInfo(string name, TensorShapeProto.Types.Dimension batch, int classes)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(batch);
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = classes });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        /// <summary>Every name the graph uses (values and nodes), so generated names never collide.</summary>
        private sealed class Names
        {
            private readonly HashSet<string> _used;
            private int _counter;

            public Names(GraphProto graph)
            {
                _used = new HashSet<string>(StringComparer.Ordinal);
                _used.UnionWith(graph.Input.Select(v => v.Name));
                _used.UnionWith(graph.Output.Select(v => v.Name));
                _used.UnionWith(graph.Initializer.Select(t => t.Name));
                foreach (NodeProto node in graph.Node)
                {
                    _used.Add(node.Name);
                    _used.UnionWith(node.Output);
                }
                _counter = 0;
            }

            public bool Contains(string name) => _used.Contains(name);

            public string Fresh(string hint)
            {
                string name;
                do
                {
                    name = $"export_{hint}__{_counter++}";
                }
                while (!_used.Add(name));
                return name;
            }
        }
    }
}
