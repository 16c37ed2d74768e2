// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Recognizes the decomposed forms exporters write for functions the IR has as one layer, before import:
    /// LayerNorm as ReduceMean → Sub → Pow 2 → ReduceMean → Add ε → Sqrt → Div (→ Mul scale → Add bias), which
    /// PyTorch writes below opset 17, and exact GELU as Div √2 → Erf → Add 1 → Mul x → Mul ½ (or Mul ½ first).
    /// Each match becomes one LayerNormalization or Gelu node in place of its last node; intermediate values must
    /// have no other consumers. Anything else is left as it is (and imported op by op, or reported).
    /// </summary>
    internal static class PatternFusion
    {
        /// <summary>Marks a fused node (attribute on the synthetic node) so messages can say what it came from.</summary>
        public const string FusedFromAttribute = "fused_from";

        public static List<NodeProto> Apply(GraphProto graph)
        {
            var nodes = graph.Node.ToList();
            var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
            foreach (TensorProto t in graph.Initializer)
            {
                constants[t.Name] = t;
            }
            foreach (NodeProto n in nodes.Where(n => n.OpType == "Constant" && n.Output.Count == 1))
            {
                AttributeProto? value = n.Attribute.FirstOrDefault(a => a.Name == "value" && a.T != null);
                if (value != null)
                {
                    constants[n.Output[0]] = value.T;
                }
            }
            var context = new Matcher(nodes, constants, graph.Output.Select(o => o.Name));
            var replaced = new Dictionary<NodeProto, NodeProto>();
            var removed = new HashSet<NodeProto>();
            foreach (NodeProto node in nodes)
            {
                if (removed.Contains(node))
                {
                    continue;
                }
                (List<NodeProto> Matched, NodeProto Fused)? match = node.OpType switch
                {
                    "ReduceMean" => context.MatchLayerNorm(node),
                    "Erf" => context.MatchGelu(node),
                    _ => null,
                };
                if (match is { } m && m.Matched.All(n => !removed.Contains(n)))
                {
                    NodeProto last = m.Matched[^1];
                    foreach (NodeProto n in m.Matched)
                    {
                        removed.Add(n);
                    }
                    replaced[last] = m.Fused;
                }
            }
            var result = new List<NodeProto>(nodes.Count);
            foreach (NodeProto node in nodes)
            {
                if (replaced.TryGetValue(node, out NodeProto? fused))
                {
                    result.Add(fused);
                }
                else if (!removed.Contains(node))
                {
                    result.Add(node);
                }
            }
            return result;
        }

        private sealed class Matcher
        {
            private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
            private readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
            private readonly Dictionary<string, TensorProto> _constants;
            private readonly HashSet<string> _graphOutputs;

            public Matcher(List<NodeProto> nodes, Dictionary<string, TensorProto> constants, IEnumerable<string> graphOutputs)
            {
                _constants = constants;
                _graphOutputs = new HashSet<string>(graphOutputs, StringComparer.Ordinal);
                foreach (NodeProto n in nodes)
                {
                    foreach (string i in n.Input.Where(i => i.Length > 0))
                    {
                        if (!_consumers.TryGetValue(i, out List<NodeProto>? list))
                        {
                            _consumers[i] = list = new List<NodeProto>();
                        }
                        list.Add(n);
                    }
                    foreach (string o in n.Output)
                    {
                        _producer[o] = n;
                    }
                }
            }

            public (List<NodeProto>, NodeProto)? MatchLayerNorm(NodeProto mean)
            {
                if (!IsDefault(mean) || mean.Input.Count < 1 || !KeepDims(mean) || ReduceAxes(mean) is not { Length: 1 } axes)
                {
                    return null;
                }
                string x = mean.Input[0];
                NodeProto? sub = Only(mean.Output[0], "Sub");
                if (sub == null || sub.Input[0] != x || sub.Input[1] != mean.Output[0])
                {
                    return null;
                }
                List<NodeProto> subUsers = Consumers(sub.Output[0]);
                NodeProto? pow = subUsers.FirstOrDefault(n => n.OpType == "Pow" && n.Input[0] == sub.Output[0]);
                NodeProto? div = subUsers.FirstOrDefault(n => n.OpType == "Div" && n.Input[0] == sub.Output[0]);
                if (subUsers.Count != 2 || pow == null || div == null || Scalar(pow.Input[1]) != 2.0)
                {
                    return null;
                }
                NodeProto? variance = Only(pow.Output[0], "ReduceMean");
                if (variance == null || !KeepDims(variance) || ReduceAxes(variance) is not { Length: 1 } axes2 || axes2[0] != axes[0])
                {
                    return null;
                }
                NodeProto? addEps = Only(variance.Output[0], "Add");
                double? eps = addEps == null ? null : Scalar(Other(addEps, variance.Output[0]));
                NodeProto? sqrt = addEps == null ? null : Only(addEps.Output[0], "Sqrt");
                if (eps == null || sqrt == null || Only(sqrt.Output[0], "Div") != div || div.Input[1] != sqrt.Output[0])
                {
                    return null;
                }
                var matched = new List<NodeProto> { mean, sub, pow, variance, addEps!, sqrt, div };
                string scale = string.Empty;
                string bias = string.Empty;
                NodeProto? mul = Only(div.Output[0], "Mul");
                if (mul != null && _constants.ContainsKey(Other(mul, div.Output[0])))
                {
                    scale = Other(mul, div.Output[0]);
                    matched.Add(mul);
                    NodeProto? add = Only(mul.Output[0], "Add");
                    if (add != null && _constants.ContainsKey(Other(add, mul.Output[0])))
                    {
                        bias = Other(add, mul.Output[0]);
                        matched.Add(add);
                    }
                }
                var fused = new NodeProto { Name = mean.Name, OpType = "LayerNormalization" };
                fused.Input.Add(x);
                fused.Input.Add(scale);
                fused.Input.Add(bias);
                fused.Output.Add(matched[^1].Output[0]);
                fused.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axes[0] });
                fused.Attribute.Add(new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = (float)eps.Value });
                fused.Attribute.Add(FusedFrom(matched));
                return (matched, fused);
            }

            public (List<NodeProto>, NodeProto)? MatchGelu(NodeProto erf)
            {
                if (!IsDefault(erf) || !_producer.TryGetValue(erf.Input[0], out NodeProto? scaleNode) || Consumers(erf.Input[0]).Count != 1)
                {
                    return null;
                }
                string x;
                if (scaleNode.OpType == "Div" && Near(Scalar(scaleNode.Input[1]), Math.Sqrt(2)))
                {
                    x = scaleNode.Input[0];
                }
                else if (scaleNode.OpType == "Mul" && Near(Scalar(scaleNode.Input[1]), Math.Sqrt(0.5)))
                {
                    x = scaleNode.Input[0];
                }
                else
                {
                    return null;
                }
                NodeProto? plusOne = Only(erf.Output[0], "Add");
                if (plusOne == null || Scalar(Other(plusOne, erf.Output[0])) != 1.0)
                {
                    return null;
                }
                NodeProto? first = Only(plusOne.Output[0], "Mul");
                if (first == null)
                {
                    return null;
                }
                string partner = Other(first, plusOne.Output[0]);
                NodeProto? last;
                if (partner == x)
                {
                    // x·(1 + erf) then ·½.
                    last = Only(first.Output[0], "Mul");
                    if (last == null || Scalar(Other(last, first.Output[0])) != 0.5)
                    {
                        return null;
                    }
                    var matched = new List<NodeProto> { scaleNode, erf, plusOne, first, last };
                    return (matched, GeluNode(erf, x, last.Output[0], matched));
                }
                // (x·½)·(1 + erf): the partner is Mul(x, ½) used only here.
                if (!_producer.TryGetValue(partner, out NodeProto? half) || half.OpType != "Mul" || Consumers(partner).Count != 1 ||
                    !half.Input.Contains(x) || Scalar(Other(half, x)) != 0.5)
                {
                    return null;
                }
                var matchedHalf = new List<NodeProto> { scaleNode, erf, plusOne, half, first };
                return (matchedHalf, GeluNode(erf, x, first.Output[0], matchedHalf));
            }

            private static NodeProto GeluNode(NodeProto erf, string x, string output, List<NodeProto> matched)
            {
                var fused = new NodeProto { Name = erf.Name, OpType = "Gelu" };
                fused.Input.Add(x);
                fused.Output.Add(output);
                fused.Attribute.Add(FusedFrom(matched));
                return fused;
            }

            private static AttributeProto FusedFrom(List<NodeProto> matched) => new()
            {
                Name = FusedFromAttribute,
                Type = AttributeProto.Types.AttributeType.String,
                S = Google.Protobuf.ByteString.CopyFromUtf8(string.Join(" → ", matched.Select(n => n.OpType))),
            };

            private static bool Near(double? value, double expected) => value is { } v && Math.Abs(v - expected) <= 1e-6 * expected;

            private static bool IsDefault(NodeProto n) => n.Domain.Length == 0 || n.Domain == "ai.onnx";

            private static bool KeepDims(NodeProto n) =>
                n.Attribute.FirstOrDefault(a => a.Name == "keepdims") is not { } k || k.I != 0;

            private long[]? ReduceAxes(NodeProto n)
            {
                AttributeProto? axes = n.Attribute.FirstOrDefault(a => a.Name == "axes");
                if (axes != null)
                {
                    return axes.Ints.ToArray();
                }
                return n.Input.Count > 1 && _constants.TryGetValue(n.Input[1], out TensorProto? t) ? ConstValue.FromTensor(t, "fusion").ToLongs() : null;
            }

            private List<NodeProto> Consumers(string value) =>
                _consumers.TryGetValue(value, out List<NodeProto>? list) ? list : new List<NodeProto>();

            /// <summary>The single consumer of an intermediate value when it has the given op; null otherwise.</summary>
            private NodeProto? Only(string value, string opType)
            {
                List<NodeProto> users = Consumers(value);
                return users.Count == 1 && users[0].OpType == opType && IsDefault(users[0]) && !_graphOutputs.Contains(value) && (opType == "ReduceMean" || users[0].Input.Count == Arity(opType))
                    ? users[0]
                    : null;
            }

            private static int Arity(string opType) => opType switch
            {
                "Sqrt" => 1,
                                _ => 2,
            };

            private static string Other(NodeProto binary, string known) => binary.Input[0] == known ? binary.Input[1] : binary.Input[0];

            private double? Scalar(string name)
            {
                if (!_constants.TryGetValue(name, out TensorProto? t))
                {
                    return null;
                }
                ConstValue c = ConstValue.FromTensor(t, "fusion");
                return c.Data.Length == 1 ? c.Data[0] : null;
            }
        }
    }
}
