// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Tests
{
    /// <summary>How a fixture's image input declares its batch axis.</summary>
    public enum BatchAxis
    {
        /// <summary>dim_value 1 (a model exported with a fixed batch of one).</summary>
        One,

        /// <summary>dim_param "N" (a named free batch axis).</summary>
        Symbolic,

        /// <summary>A dimension with neither value nor name (free, anonymous).</summary>
        Dynamic,
    }

    /// <summary>
    /// Writes small ONNX ModelProto fixtures with the generated proto classes: opset and IR version,
    /// graph inputs with fixed, symbolic or dynamic dimensions, initializers (optionally also listed
    /// as graph inputs, as opset 7/8 exporters did), Constant nodes, arbitrary nodes with attributes
    /// and outputs. Random weights come from the seed, so a fixture is the same on every run.
    /// </summary>
    internal sealed class OnnxFixtureBuilder
    {
        private readonly GraphProto _graph;
        private readonly List<OperatorSetIdProto> _extraOpsets;
        private readonly HashSet<string> _initializersListedAsInputs;
        private readonly Random _random;
        private int _opset;
        private long? _irVersion;
        private bool _allInitializersAsInputs;
        private bool _rawData;
        private int _nodeCounter;

        /// <summary>Creates a builder for an opset-13 graph.</summary>
        /// <param name="seed">Seed of the random weights.</param>
        public OnnxFixtureBuilder(int seed = 1234)
        {
            _graph = new GraphProto { Name = "fixture" };
            _extraOpsets = new List<OperatorSetIdProto>();
            _initializersListedAsInputs = new HashSet<string>(StringComparer.Ordinal);
            _random = new Random(seed);
            _opset = 13;
            _rawData = true;
        }

        /// <summary>The default-domain opset the model imports.</summary>
        public int OpsetVersion => _opset;

        /// <summary>The IR version written (the one matching the opset unless set).</summary>
        public long IrVersionValue => _irVersion ?? DefaultIrVersion(_opset);

        /// <summary>Sets the default-domain opset and, optionally, the IR version.</summary>
        /// <param name="version">The opset version.</param>
        /// <param name="irVersion">The IR version; null picks the one the ONNX release of that opset wrote.</param>
        public OnnxFixtureBuilder Opset(int version, long? irVersion = null)
        {
            _opset = version;
            _irVersion = irVersion;
            return this;
        }

        /// <summary>Sets the IR version.</summary>
        /// <param name="irVersion">The IR version.</param>
        public OnnxFixtureBuilder IrVersion(long irVersion)
        {
            _irVersion = irVersion;
            return this;
        }

        /// <summary>Adds an opset import for another domain (for custom ops).</summary>
        /// <param name="domain">The domain.</param>
        /// <param name="version">Its version.</param>
        public OnnxFixtureBuilder ImportDomain(string domain, long version)
        {
            _extraOpsets.Add(new OperatorSetIdProto { Domain = domain, Version = version });
            return this;
        }

        /// <summary>Lists every initializer as a graph input too (IR version 3 style).</summary>
        /// <param name="enabled">Whether to.</param>
        public OnnxFixtureBuilder InitializersAsInputs(bool enabled = true)
        {
            _allInitializersAsInputs = enabled;
            return this;
        }

        /// <summary>Stores float initializers in raw_data (default) or in float_data.</summary>
        /// <param name="enabled">True for raw_data.</param>
        public OnnxFixtureBuilder RawData(bool enabled)
        {
            _rawData = enabled;
            return this;
        }

        /// <summary>Adds a float graph input [batch, perSampleShape...].</summary>
        /// <param name="name">The input name.</param>
        /// <param name="batch">How the batch axis is declared.</param>
        /// <param name="perSampleShape">The per-sample dimensions.</param>
        public OnnxFixtureBuilder Input(string name, BatchAxis batch, params int[] perSampleShape)
        {
            object? batchDim = batch switch
            {
                BatchAxis.One => 1L,
                BatchAxis.Symbolic => "N",
                _ => null,
            };
            return InputWithDims(name, new[] { batchDim }.Concat(perSampleShape.Select(d => (object?)(long)d)).ToArray());
        }

        /// <summary>Adds a float graph input with explicit dimensions.</summary>
        /// <param name="name">The input name.</param>
        /// <param name="dims">Per dimension: a number (dim_value), a string (dim_param) or null (neither).</param>
        public OnnxFixtureBuilder InputWithDims(string name, params object?[] dims) =>
            InputWithDims(name, TensorProto.Types.DataType.Float, dims);

        /// <summary>Adds a graph input of any element type with explicit dimensions.</summary>
        /// <param name="name">The input name.</param>
        /// <param name="elementType">The element type.</param>
        /// <param name="dims">Per dimension: a number (dim_value), a string (dim_param) or null (neither).</param>
        public OnnxFixtureBuilder InputWithDims(string name, TensorProto.Types.DataType elementType, params object?[] dims)
        {
            _graph.Input.Add(ValueInfo(name, elementType, dims));
            return this;
        }

        /// <summary>Adds a float graph output; without dimensions its shape is left unspecified.</summary>
        /// <param name="name">The output name.</param>
        /// <param name="dims">Per dimension: a number, a string or null; none for no shape.</param>
        public OnnxFixtureBuilder Output(string name, params object?[] dims)
        {
            _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims.Length == 0 ? null : dims));
            return this;
        }

        /// <summary>Adds a float initializer.</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values, row-major.</param>
        /// <param name="asGraphInput">Also list it as a graph input.</param>
        public OnnxFixtureBuilder Initializer(string name, int[] shape, float[] values, bool asGraphInput = false) =>
            Initializer(FloatTensor(name, shape, values, _rawData), asGraphInput);

        /// <summary>Adds an int64 initializer.</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values, row-major.</param>
        /// <param name="asGraphInput">Also list it as a graph input.</param>
        public OnnxFixtureBuilder Initializer(string name, int[] shape, long[] values, bool asGraphInput = false) =>
            Initializer(Int64Tensor(name, shape, values), asGraphInput);

        /// <summary>Adds an initializer from a tensor built by hand.</summary>
        /// <param name="tensor">The tensor (its name is the value name).</param>
        /// <param name="asGraphInput">Also list it as a graph input.</param>
        public OnnxFixtureBuilder Initializer(TensorProto tensor, bool asGraphInput = false)
        {
            _graph.Initializer.Add(tensor);
            if (asGraphInput)
            {
                _initializersListedAsInputs.Add(tensor.Name);
            }
            return this;
        }

        /// <summary>
        /// Adds a float initializer of seeded random values, uniform in ±scale; the default scale is
        /// 1/sqrt(fan-in) (the product of every dimension but the first), as for trained weights.
        /// </summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="scale">Half-width of the range, or null for 1/sqrt(fan-in).</param>
        /// <param name="asGraphInput">Also list it as a graph input.</param>
        public OnnxFixtureBuilder RandomInitializer(string name, int[] shape, float? scale = null, bool asGraphInput = false)
        {
            int count = checked((int)shape.Aggregate(1L, (p, d) => p * d));
            long fanIn = shape.Skip(1).Aggregate(1L, (p, d) => p * d);
            float s = scale ?? (float)(1.0 / Math.Sqrt(Math.Max(1, fanIn)));
            return Initializer(name, shape, RandomValues(count, -s, s), asGraphInput);
        }

        /// <summary>Adds a float initializer of seeded random values uniform in [low, high).</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="low">Lowest value.</param>
        /// <param name="high">Upper bound.</param>
        /// <param name="asGraphInput">Also list it as a graph input.</param>
        public OnnxFixtureBuilder UniformInitializer(string name, int[] shape, float low, float high, bool asGraphInput = false)
        {
            int count = checked((int)shape.Aggregate(1L, (p, d) => p * d));
            return Initializer(name, shape, RandomValues(count, low, high), asGraphInput);
        }

        /// <summary>Adds a Constant node holding a float tensor.</summary>
        /// <param name="output">The output name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values.</param>
        public OnnxFixtureBuilder Constant(string output, int[] shape, float[] values) =>
            Node("Constant", Array.Empty<string>(), new[] { output }, AttrTensor("value", FloatTensor(output, shape, values, _rawData)));

        /// <summary>Adds a Constant node holding an int64 tensor.</summary>
        /// <param name="output">The output name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values.</param>
        public OnnxFixtureBuilder Constant(string output, int[] shape, long[] values) =>
            Node("Constant", Array.Empty<string>(), new[] { output }, AttrTensor("value", Int64Tensor(output, shape, values)));

        /// <summary>Adds a node with a generated name in the default domain.</summary>
        /// <param name="opType">The op type.</param>
        /// <param name="inputs">Input names ("" for an omitted optional input).</param>
        /// <param name="outputs">Output names.</param>
        /// <param name="attributes">Attributes.</param>
        public OnnxFixtureBuilder Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
            NamedNode($"{opType.ToLowerInvariant()}_{_nodeCounter}", opType, string.Empty, inputs, outputs, attributes);

        /// <summary>Adds a node with one input and one output.</summary>
        /// <param name="opType">The op type.</param>
        /// <param name="input">The input name.</param>
        /// <param name="output">The output name.</param>
        /// <param name="attributes">Attributes.</param>
        public OnnxFixtureBuilder Node(string opType, string input, string output, params AttributeProto[] attributes) =>
            Node(opType, new[] { input }, new[] { output }, attributes);

        /// <summary>Adds a node with a given name and domain.</summary>
        /// <param name="name">The node name ("" leaves it unnamed).</param>
        /// <param name="opType">The op type.</param>
        /// <param name="domain">The domain ("" for the default one).</param>
        /// <param name="inputs">Input names.</param>
        /// <param name="outputs">Output names.</param>
        /// <param name="attributes">Attributes.</param>
        public OnnxFixtureBuilder NamedNode(string name, string opType, string domain, string[] inputs, string[] outputs, params AttributeProto[] attributes)
        {
            _nodeCounter++;
            var node = new NodeProto { Name = name, OpType = opType, Domain = domain };
            node.Input.AddRange(inputs);
            node.Output.AddRange(outputs);
            node.Attribute.AddRange(attributes);
            _graph.Node.Add(node);
            return this;
        }

        /// <summary>Seeded uniform random values in [low, high).</summary>
        /// <param name="count">How many.</param>
        /// <param name="low">Lowest value.</param>
        /// <param name="high">Upper bound.</param>
        public float[] RandomValues(int count, float low, float high)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = (float)(low + (high - low) * _random.NextDouble());
            }
            return values;
        }

        /// <summary>The model as a proto, for tests that edit it further.</summary>
        public ModelProto ToModel()
        {
            var graph = _graph.Clone();
            var listed = new HashSet<string>(graph.Input.Select(i => i.Name), StringComparer.Ordinal);
            foreach (TensorProto init in graph.Initializer)
            {
                if ((_allInitializersAsInputs || _initializersListedAsInputs.Contains(init.Name)) && listed.Add(init.Name))
                {
                    graph.Input.Add(ValueInfo(init.Name, (TensorProto.Types.DataType)init.DataType, init.Dims.Select(d => (object?)d).ToArray()));
                }
            }
            var model = new ModelProto { IrVersion = IrVersionValue, ProducerName = "OnnxFixtureBuilder", Graph = graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = _opset });
            model.OpsetImport.AddRange(_extraOpsets.Select(o => o.Clone()));
            return model;
        }

        /// <summary>The serialized ModelProto.</summary>
        public byte[] Build() => ToModel().ToByteArray();

        /// <summary>The IR version the ONNX release that introduced an opset wrote.</summary>
        /// <param name="opset">The default-domain opset.</param>
        public static long DefaultIrVersion(int opset) => opset switch
        {
            <= 8 => 3,
            9 => 4,
            10 => 5,
            11 => 6,
            <= 14 => 7,
            <= 18 => 8,
            <= 20 => 9,
            _ => 10,
        };

        /// <summary>An INTS attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="values">Values.</param>
        public static AttributeProto AttrInts(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        /// <summary>A FLOATS attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="values">Values.</param>
        public static AttributeProto AttrFloats(string name, params float[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
            a.Floats.AddRange(values);
            return a;
        }

        /// <summary>An INT attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="value">Value.</param>
        public static AttributeProto AttrInt(string name, long value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        /// <summary>A FLOAT attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="value">Value.</param>
        public static AttributeProto AttrFloat(string name, float value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

        /// <summary>A STRING attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="value">Value (UTF-8).</param>
        public static AttributeProto AttrString(string name, string value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

        /// <summary>A TENSOR attribute.</summary>
        /// <param name="name">Attribute name.</param>
        /// <param name="value">The tensor.</param>
        public static AttributeProto AttrTensor(string name, TensorProto value) =>
            new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

        /// <summary>A float tensor, in raw_data or float_data.</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values.</param>
        /// <param name="raw">True for raw_data.</param>
        public static TensorProto FloatTensor(string name, int[] shape, float[] values, bool raw = true)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(shape.Select(d => (long)d));
            if (raw)
            {
                var bytes = new byte[values.Length * 4];
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
                }
                t.RawData = ByteString.CopyFrom(bytes);
            }
            else
            {
                t.FloatData.AddRange(values);
            }
            return t;
        }

        /// <summary>An int64 tensor (int64_data).</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values.</param>
        public static TensorProto Int64Tensor(string name, int[] shape, long[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.AddRange(shape.Select(d => (long)d));
            t.Int64Data.AddRange(values);
            return t;
        }

        /// <summary>A bool tensor (int32_data, as ONNX stores bools).</summary>
        /// <param name="name">Its name.</param>
        /// <param name="shape">Its dimensions.</param>
        /// <param name="values">Its values.</param>
        public static TensorProto BoolTensor(string name, int[] shape, bool[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Bool };
            t.Dims.AddRange(shape.Select(d => (long)d));
            t.Int32Data.AddRange(values.Select(v => v ? 1 : 0));
            return t;
        }

        private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType elementType, object?[]? dims)
        {
            var tensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType };
            if (dims != null)
            {
                var shape = new TensorShapeProto();
                foreach (object? d in dims)
                {
                    var dim = new TensorShapeProto.Types.Dimension();
                    switch (d)
                    {
                        case null:
                            break;
                        case string param:
                            dim.DimParam = param;
                            break;
                        default:
                            dim.DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture);
                            break;
                    }
                    shape.Dim.Add(dim);
                }
                tensorType.Shape = shape;
            }
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
        }
    }
}
