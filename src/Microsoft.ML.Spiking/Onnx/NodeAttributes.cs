// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>Typed access to a node's attributes, with errors that name the node.</summary>
    internal sealed class NodeAttributes
    {
        private readonly Dictionary<string, AttributeProto> _attributes;
        private readonly string _where;

        public NodeAttributes(NodeProto node, string where)
        {
            _attributes = new Dictionary<string, AttributeProto>();
            foreach (AttributeProto a in node.Attribute)
            {
                _attributes[a.Name] = a;
            }
            _where = where;
        }

        public IEnumerable<string> Names => _attributes.Keys;

        public bool Has(string name) => _attributes.ContainsKey(name);

        public long GetInt(string name, long fallback) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.Int).I : fallback;

        public float GetFloat(string name, float fallback) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.Float).F : fallback;

        public string GetString(string name, string fallback) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.String).S.ToStringUtf8() : fallback;

        public long[]? GetInts(string name) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.Ints).Ints.ToArray() : null;

        public float[]? GetFloats(string name) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.Floats).Floats.ToArray() : null;

        public TensorProto? GetTensor(string name) =>
            _attributes.TryGetValue(name, out AttributeProto? a) ? Expect(a, AttributeProto.Types.AttributeType.Tensor).T : null;

        private AttributeProto Expect(AttributeProto a, AttributeProto.Types.AttributeType type)
        {
            // Files from old exporters may leave 'type' unset; accept them when the payload is present.
            if (a.Type != type && a.Type != AttributeProto.Types.AttributeType.Undefined)
            {
                throw new OnnxImportException($"{_where}: attribute '{a.Name}' has type {a.Type}; expected {type}.");
            }
            return a;
        }
    }
}
