// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>Writes ONNX graphs: nodes with generated unique names, float/int64 initializers, typed inputs and outputs.</summary>
    internal sealed class OnnxGraphBuilder
    {
        /// <summary>Opset of every graph the project writes (Split with num_outputs needs 18).</summary>
        public const int Opset = 18;

        private readonly GraphProto _graph;
        private readonly Dictionary<string, string> _scalarCache;
        private readonly SortedSet<string> _customDomains;
        private int _counter;

        public OnnxGraphBuilder(string name)
        {
            _graph = new GraphProto { Name = name };
            _scalarCache = new Dictionary<string, string>();
            _customDomains = new SortedSet<string>(System.StringComparer.Ordinal);
        }

        public string Fresh(string hint) => $"{hint}__{_counter++}";

        /// <summary>Nodes added so far.</summary>
        public int NodeCount => _graph.Node.Count;

        public void AddInput(string name, IEnumerable<string?> dims) => _graph.Input.Add(ValueInfo(name, dims));

        public void AddOutput(string name, IEnumerable<string?> dims) => _graph.Output.Add(ValueInfo(name, dims));

        public string Initializer(string hint, int[] shape, float[] data)
        {
            string name = Fresh(hint);
            _graph.Initializer.Add(ConstValue.ToProto(name, shape, data));
            return name;
        }

        public string Initializer(string hint, int[] shape, long[] data)
        {
            string name = Fresh(hint);
            _graph.Initializer.Add(ConstValue.ToProto(name, shape, data));
            return name;
        }

        /// <summary>A shared scalar float initializer.</summary>
        public string Scalar(float value)
        {
            string key = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            if (!_scalarCache.TryGetValue(key, out string? name))
            {
                name = Initializer("scalar", System.Array.Empty<int>(), new[] { value });
                _scalarCache[key] = name;
            }
            return name;
        }

        public string Ints(params long[] values) => Initializer("ints", new[] { values.Length }, values);

        /// <summary>Adds a node with one output and returns the output name.</summary>
        public string Node(string op, IEnumerable<string> inputs, string? output = null, params AttributeProto[] attributes) =>
            NodeMulti(op, inputs, new[] { output ?? Fresh(op.ToLowerInvariant()) }, attributes)[0];

        public string[] NodeMulti(string op, IEnumerable<string> inputs, string[] outputs, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = Fresh("n_" + op) };
            node.Input.AddRange(inputs);
            node.Output.AddRange(outputs);
            node.Attribute.AddRange(attributes);
            _graph.Node.Add(node);
            return outputs;
        }

        /// <summary>
        /// Adds a node of a custom operator domain (version 1, imported by the model); empty names stand for omitted
        /// optional inputs and outputs, and trailing ones are dropped.
        /// </summary>
        public void CustomNode(string domain, string op, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
        {
            _customDomains.Add(domain);
            var node = new NodeProto { OpType = op, Domain = domain, Name = Fresh("n_" + op) };
            node.Input.AddRange(TrimTrailingEmpty(inputs));
            node.Output.AddRange(TrimTrailingEmpty(outputs));
            node.Attribute.AddRange(attributes);
            _graph.Node.Add(node);
        }

        /// <summary>
        /// Renames a tensor that a node of the graph produces, in that node's outputs and in every input that reads it.
        /// </summary>
        /// <param name="name">The tensor's name.</param>
        /// <param name="newName">Its new name (not used in the graph).</param>
        /// <returns>False, changing nothing, when no node produces <paramref name="name"/> (a graph input or initializer).</returns>
        public bool RenameTensor(string name, string newName)
        {
            NodeProto? producer = _graph.Node.FirstOrDefault(n => n.Output.Contains(name));
            if (producer == null)
            {
                return false;
            }

            foreach (NodeProto node in _graph.Node)
            {
                for (int i = 0; i < node.Output.Count; i++)
                {
                    if (node.Output[i] == name)
                    {
                        node.Output[i] = newName;
                    }
                }

                for (int i = 0; i < node.Input.Count; i++)
                {
                    if (node.Input[i] == name)
                    {
                        node.Input[i] = newName;
                    }
                }
            }

            return true;
        }

        public static AttributeProto Attr(string name, long value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        public static AttributeProto Attr(string name, float value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

        public static AttributeProto Attr(string name, IEnumerable<int> values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values.Select(v => (long)v));
            return a;
        }

        public static AttributeProto Attr(string name, IEnumerable<float> values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
            a.Floats.AddRange(values);
            return a;
        }

        public byte[] ToModelBytes(string producer)
        {
            var model = new ModelProto { IrVersion = 8, ProducerName = producer, Graph = _graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
            foreach (string domain in _customDomains)
            {
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = 1 });
            }
            return model.ToByteArray();
        }

        private static List<string> TrimTrailingEmpty(IEnumerable<string> names)
        {
            var list = names.ToList();
            while (list.Count > 0 && list[^1].Length == 0)
            {
                list.RemoveAt(list.Count - 1);
            }
            return list;
        }

        private static ValueInfoProto ValueInfo(string name, IEnumerable<string?> dims)
        {
            var shape = new TensorShapeProto();
            foreach (string? d in dims)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (d != null && int.TryParse(d, out int value))
                {
                    dim.DimValue = value;
                }
                else
                {
                    dim.DimParam = d ?? "?";
                }
                shape.Dim.Add(dim);
            }
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        /// <summary>Dimensions for a batched value: a symbolic batch then the per-sample shape.</summary>
        public static IEnumerable<string?> Batched(string batch, int[] perSample) =>
            new[] { batch }.Concat(perSample.Select(d => (string?)d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
}
