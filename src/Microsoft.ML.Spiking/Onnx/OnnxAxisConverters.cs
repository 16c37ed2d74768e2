// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Per-op conversion of the axis ops transformers use for heads, the class token and the positional
    /// embedding: Gather, Split, Slice, Squeeze, Unsqueeze, Expand, and Transposes that move the batch axis.
    /// </summary>
    /// <remarks>
    /// The IR keeps the batch axis first. A Transpose that moves it (timm's qkv.permute(2, 0, 3, 1, 4)) is held back
    /// as a pending permutation of its input; the Gather, Split or Squeeze that follows is applied to the input's own
    /// axis, and once the batch axis is back in front the remaining permutation becomes an ordinary transpose.
    /// </remarks>
    internal sealed partial class GraphImporter
    {
        /// <summary>A value whose axes are a permutation of an IR value's full axes (batch included), batch not first.</summary>
        private sealed record PendingTranspose(string Value, int[] Permutation, string Source);

        /// <summary>The Transpose nodes that moved the batch axis, by output, for the message when nothing brings it back.</summary>
        private readonly Dictionary<string, (string Name, string Op, int[] Permutation)> _pendingSources = new(StringComparer.Ordinal);

        /// <summary>Reports the batch-moving Transposes whose value reaches the graph output with the batch axis still moved.</summary>
        private void RejectPendingOutput(string output)
        {
            if (_pendingSources.TryGetValue(output, out var source))
            {
                _unsupported.Add(new UnsupportedNode(source.Name, source.Op, $"permutation [{string.Join(",", source.Permutation)}] moves the batch axis, and no Gather, Split or Squeeze brings it back to the front before the output"));
            }
            else
            {
                _unsupported.Add(new UnsupportedNode(output, "Transpose", $"the output has its batch axis moved by {_pending[output].Source}"));
            }
        }

        private bool IsPending(NodeProto node, int index) =>
            index < node.Input.Count && _pending.ContainsKey(node.Input[index]);

        /// <summary>Handles a node that reads a pending transpose; returns null on success or why it is not supported.</summary>
        private string? ConvertOnPending(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int index = Enumerable.Range(0, node.Input.Count).First(i => IsPending(node, i));
            PendingTranspose p = _pending[node.Input[index]];
            if (index != 0 || op is not ("Transpose" or "Gather" or "Split" or "Squeeze"))
            {
                return $"its input '{node.Input[index]}' has the batch axis on axis {Array.IndexOf(p.Permutation, 0)} (moved by {p.Source}); only Transpose, Gather, Split or Squeeze may read such a value";
            }
            int[] full = FullShape(p.Value);
            int rank = p.Permutation.Length;
            switch (op)
            {
                case "Transpose":
                {
                    int[] perm = a.GetInts("perm")?.Select(v => (int)v).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
                    if (perm.Length != rank || perm.OrderBy(v => v).Where((v, i) => v != i).Any())
                    {
                        return $"permutation [{string.Join(",", perm)}] does not fit rank {rank}";
                    }
                    Bind(node.Output[0], p.Value, perm.Select(q => p.Permutation[q]).ToArray(), name, op, where);
                    return null;
                }
                case "Gather":
                {
                    int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 0), rank, where);
                    int own = p.Permutation[axis];
                    if (own == 0)
                    {
                        return "it gathers along the batch axis";
                    }
                    if (!ScalarIndex(node, full[own], out int i, out string? problem))
                    {
                        return problem;
                    }
                    string gathered = Intermediate(node.Output[0], "gather");
                    AddLayer(new GatherLayer(name, op, p.Value, gathered, own - 1, i));
                    Bind(node.Output[0], gathered, DropAxis(p.Permutation, axis), $"{name}/transpose", "Transpose", where);
                    return null;
                }
                case "Squeeze":
                {
                    long[]? axes = SqueezeAxes(node, a);
                    int[] viewShape = p.Permutation.Select(q => full[q]).ToArray();
                    var drop = (axes ?? Enumerable.Range(0, rank).Where(d => viewShape[d] == 1).Select(d => (long)d).ToArray())
                        .Select(v => ConstantFolding.NormalizeAxis((int)v, rank, where)).OrderByDescending(v => v).ToList();
                    string value = p.Value;
                    int[] perm = p.Permutation;
                    foreach (int axis in drop)
                    {
                        int own = perm[axis];
                        if (own == 0 || full[own] != 1)
                        {
                            return own == 0 ? "it squeezes the batch axis" : $"axis {axis} has size {full[own]}, not 1";
                        }
                        int[] perSample = _shapes[value].Where((_, d) => d != own - 1).ToArray();
                        string reshaped = Intermediate(node.Output[0], $"squeeze{axis}");
                        AddLayer(new ReshapeLayer($"{name}/axis{axis}", op, value, reshaped, perSample));
                        value = reshaped;
                        full = FullShape(value);
                        perm = DropAxis(perm, axis);
                    }
                    Bind(node.Output[0], value, perm, $"{name}/transpose", "Transpose", where);
                    return null;
                }
                default: // Split
                {
                    int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 0), rank, where);
                    int own = p.Permutation[axis];
                    if (own == 0)
                    {
                        return "it splits the batch axis";
                    }
                    if (!SplitSizes(node, a, full[own], out int[] sizes, out string? problem))
                    {
                        return problem;
                    }
                    int start = 0;
                    for (int j = 0; j < sizes.Length; j++)
                    {
                        if (node.Output[j].Length > 0)
                        {
                            string part = Intermediate(node.Output[j], "split");
                            AddLayer(new SliceLayer(SplitName(name, j, sizes.Length), op, p.Value, part, own - 1, start, start + sizes[j]));
                            Bind(node.Output[j], part, p.Permutation, $"{SplitName(name, j, sizes.Length)}/transpose", "Transpose", where);
                        }
                        start += sizes[j];
                    }
                    return null;
                }
            }
        }

        private string? ConvertTransposeAny(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int rank = x.Length + 1;
            int[] perm = a.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
            if (perm.Length != rank || perm.OrderBy(v => v).Where((v, i) => v != i).Any())
            {
                return $"permutation [{string.Join(",", perm)}] does not fit [N,{string.Join(",", x)}]";
            }
            if (perm[0] == 0)
            {
                AddLayer(new TransposeLayer(name, op, In(node, 0), node.Output[0], perm.Skip(1).Select(v => v - 1).ToArray()));
                return null;
            }
            _pendingSources[node.Output[0]] = (name, op, perm);
            Bind(node.Output[0], In(node, 0), perm, name, op, where);
            return null;
        }

        private string? ConvertGather(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 0), x.Length + 1, where);
            if (axis == 0)
            {
                return "it gathers along the batch axis";
            }
            ConstValue? indices = ConstInput(node, 1);
            if (indices == null)
            {
                return "its indices are not constant";
            }
            if (indices.Shape.Length == 1 && indices.Data.Length == 1)
            {
                long raw = indices.ToLongs()[0];
                long i = raw < 0 ? raw + x[axis - 1] : raw;
                if (i < 0 || i >= x[axis - 1])
                {
                    return $"index {raw} is out of range for axis {axis} of [N,{string.Join(",", x)}]";
                }
                AddLayer(new SliceLayer(name, op, In(node, 0), node.Output[0], axis - 1, (int)i, (int)i + 1));
                return null;
            }
            if (!ScalarIndex(node, x[axis - 1], out int index, out string? problem))
            {
                return problem;
            }
            AddLayer(new GatherLayer(name, op, In(node, 0), node.Output[0], axis - 1, index));
            return null;
        }

        private string? ConvertSplit(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", 0), x.Length + 1, where);
            if (axis == 0)
            {
                return "it splits the batch axis";
            }
            if (!SplitSizes(node, a, x[axis - 1], out int[] sizes, out string? problem))
            {
                return problem;
            }
            int start = 0;
            for (int j = 0; j < sizes.Length; j++)
            {
                if (node.Output[j].Length > 0)
                {
                    AddLayer(new SliceLayer(SplitName(name, j, sizes.Length), op, In(node, 0), node.Output[j], axis - 1, start, start + sizes[j]));
                }
                start += sizes[j];
            }
            return null;
        }

        private string? ConvertSlice(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            var inputs = node.Input.Select((n, i) => i == 0 || n.Length == 0 ? null : ConstInput(node, i)).ToList();
            if (node.Input.Skip(1).Where((n, i) => n.Length > 0 && inputs[i + 1] == null).Any())
            {
                return "its starts, ends, axes or steps are not constant";
            }
            (long[] starts, long[] ends, long[] axes, long[] steps) = ConstantFolding.SliceArguments(inputs, a, _opset, x.Length + 1, where);
            if (steps.Any(s => s != 1))
            {
                return $"steps [{string.Join(",", steps)}]: only step 1 is supported";
            }
            string value = In(node, 0);
            var ranges = new List<(int Axis, int Start, int End)>();
            for (int i = 0; i < starts.Length; i++)
            {
                int axis = (int)axes[i];
                int dim = axis == 0 ? int.MaxValue : x[axis - 1];
                (int start, int end) = ConstantFolding.ClampRange(starts[i], ends[i], axis == 0 ? int.MaxValue : dim);
                if (axis == 0)
                {
                    if (start != 0 || end != int.MaxValue)
                    {
                        return "it slices the batch axis";
                    }
                    continue;
                }
                if (end == start)
                {
                    return $"the range [{starts[i]}, {ends[i]}) on axis {axis} is empty";
                }
                if (start != 0 || end != dim)
                {
                    ranges.Add((axis - 1, start, end));
                }
            }
            if (ranges.Count == 0)
            {
                Alias(node.Output[0], value);
                return null;
            }
            for (int i = 0; i < ranges.Count; i++)
            {
                string output = i == ranges.Count - 1 ? node.Output[0] : Intermediate(node.Output[0], $"slice{i}");
                AddLayer(new SliceLayer(name, op, value, output, ranges[i].Axis, ranges[i].Start, ranges[i].End));
                value = output;
            }
            return null;
        }

        private string? ConvertSqueeze(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            long[]? axes = SqueezeAxes(node, a);
            var drop = (axes ?? Enumerable.Range(1, x.Length).Where(d => x[d - 1] == 1).Select(d => (long)d).ToArray())
                .Select(v => ConstantFolding.NormalizeAxis((int)v, x.Length + 1, where)).ToHashSet();
            if (drop.Contains(0))
            {
                return "it squeezes the batch axis";
            }
            if (drop.Any(d => x[d - 1] != 1))
            {
                return $"axes [{string.Join(",", drop)}] of [N,{string.Join(",", x)}] are not all of size 1";
            }
            AddLayer(new ReshapeLayer(name, op, In(node, 0), node.Output[0], x.Where((_, d) => !drop.Contains(d + 1)).ToArray()));
            return null;
        }

        private string? ConvertUnsqueeze(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            long[]? axes = _opset >= 13 ? ConstInput(node, 1)?.ToLongs() : a.GetInts("axes");
            if (axes == null)
            {
                return "its axes are not constant";
            }
            int rank = x.Length + 1 + axes.Length;
            var insert = axes.Select(v => ConstantFolding.NormalizeAxis((int)v, rank, where)).ToHashSet();
            if (insert.Contains(0))
            {
                return "it inserts an axis before the batch axis";
            }
            var shape = new List<int>();
            int source = 0;
            for (int d = 1; d < rank; d++)
            {
                shape.Add(insert.Contains(d) ? 1 : x[source++]);
            }
            AddLayer(new ReshapeLayer(name, op, In(node, 0), node.Output[0], shape.ToArray()));
            return null;
        }

        private string? ConvertExpand(NodeProto node, string name, string op)
        {
            int[] x = ShapeOf(node, 0);
            ConstValue? target = ConstInput(node, 1);
            if (target == null)
            {
                return "its target shape is not constant";
            }
            long[] t = target.ToLongs();
            long[] full = new long[] { 1 }.Concat(x.Select(d => (long)d)).ToArray();
            bool keeps = t.Length <= full.Length && t.Select((d, i) => (d, full[full.Length - t.Length + i]))
                .All(p => p.d == 1 || p.d == p.Item2 || (p.d == (long)ConstValue.DynamicBatch && full.Length - t.Length == 0));
            if (!keeps)
            {
                return $"expanding [N,{string.Join(",", x)}] to [{string.Join(",", t.Select(d => d == (long)ConstValue.DynamicBatch ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}] would copy values; only an Expand that keeps the shape is supported on activations";
            }
            Alias(node.Output[0], In(node, 0));
            return null;
        }

        /// <summary>A constant Expand whose target's first entry is the free batch size (cls_token.expand(B, -1, -1)).</summary>
        private bool TryExpandOverBatch(NodeProto node, IReadOnlyList<ConstValue?> inputs, string where)
        {
            if (inputs.Count < 2 || inputs[0] == null || inputs[1] == null)
            {
                return false;
            }
            long[] target = inputs[1]!.ToLongs();
            if (target.Length == 0 || target[0] != (long)ConstValue.DynamicBatch || target.Skip(1).Contains((long)ConstValue.DynamicBatch))
            {
                return false;
            }
            var fixedTarget = new ConstValue(new[] { target.Length }, target.Select((d, i) => i == 0 ? 1.0 : d).ToArray(), true);
            ConstValue expanded = ConstantFolding.TryFold("Expand", new[] { inputs[0], fixedTarget }, new NodeAttributes(node, where), _opset, where)!;
            if (expanded.Shape.Length != target.Length || expanded.Shape[0] != 1)
            {
                throw new OnnxImportException($"{where}: the constant {ShapeUtil.Format(inputs[0]!.Shape)} expanded over the batch must keep a leading axis of 1.");
            }
            _constants[node.Output[0]] = expanded;
            _batchBroadcast.Add(node.Output[0]);
            return true;
        }

        /// <summary>The Concat inputs as activations; constants repeated over the batch become <see cref="BroadcastConstantLayer"/>s.</summary>
        private List<string>? ConcatParts(NodeProto node, string name, out string? problem)
        {
            problem = null;
            string? reference = node.Input.FirstOrDefault(i => _activations.ContainsKey(i));
            if (reference == null)
            {
                problem = "none of its inputs is an activation";
                return null;
            }
            int rank = _shapes[_activations[reference]].Length + 1;
            var parts = new List<string>();
            for (int i = 0; i < node.Input.Count; i++)
            {
                string input = node.Input[i];
                if (_activations.TryGetValue(input, out string? value))
                {
                    parts.Add(value);
                    continue;
                }
                ConstValue? c = _constants.GetValueOrDefault(input);
                if (c == null || c.Shape.Length != rank || c.Shape[0] != 1 || !(_batchBroadcast.Contains(input) || _batchFixedToOne))
                {
                    problem = $"input '{input}' is a constant that is not repeated over the batch (expected [1,...] from an Expand to the batch size)";
                    return null;
                }
                string constant = Intermediate(node.Output[0], $"const{i}");
                AddLayer(new BroadcastConstantLayer($"{name}/{input}", "Expand", _activations[reference], constant, new FloatTensor(c.Shape[1..], c.ToFloats())));
                parts.Add(constant);
            }
            return parts;
        }

        /// <summary>Records a value with the given full permutation: pending while the batch axis is not first.</summary>
        private void Bind(string output, string value, int[] permutation, string name, string op, string where)
        {
            if (permutation[0] != 0)
            {
                _pending[output] = new PendingTranspose(value, permutation, _pending.TryGetValue(value, out PendingTranspose? p) ? p.Source : $"'{name}' ({op})");
                return;
            }
            if (permutation.Select((v, i) => v == i).All(b => b))
            {
                _activations[output] = value;
                return;
            }
            AddLayer(new TransposeLayer(name, op, value, output, permutation.Skip(1).Select(v => v - 1).ToArray()));
        }

        private int[] FullShape(string value) => new[] { 1 }.Concat(_shapes[value]).ToArray();

        private static int[] DropAxis(int[] permutation, int axis)
        {
            int own = permutation[axis];
            return permutation.Where((_, i) => i != axis).Select(v => v > own ? v - 1 : v).ToArray();
        }

        private static string Intermediate(string output, string what) => $"{output}::{what}";

        private static string SplitName(string name, int index, int count) => count == 1 ? name : $"{name}:{index}";

        private bool ScalarIndex(NodeProto node, int dim, out int index, out string? problem)
        {
            index = 0;
            problem = null;
            ConstValue? indices = ConstInput(node, 1);
            if (indices == null || indices.Shape.Length != 0)
            {
                problem = indices == null ? "its indices are not constant" : $"indices of shape {ShapeUtil.Format(indices.Shape)}: only a scalar index (x[:, i]) or one index is supported";
                return false;
            }
            long raw = indices.ToLongs()[0];
            long i = raw < 0 ? raw + dim : raw;
            if (i < 0 || i >= dim)
            {
                problem = $"index {raw} is out of range for a dimension of {dim}";
                return false;
            }
            index = (int)i;
            return true;
        }

        private long[]? SqueezeAxes(NodeProto node, NodeAttributes a) =>
            _opset >= 13 ? ConstInput(node, 1)?.ToLongs() : a.GetInts("axes");

        private bool SplitSizes(NodeProto node, NodeAttributes a, int dim, out int[] sizes, out string? problem)
        {
            problem = null;
            long[]? split = _opset >= 13 ? ConstInput(node, 1)?.ToLongs() : a.GetInts("split");
            if (_opset >= 13 && node.Input.Count > 1 && node.Input[1].Length > 0 && split == null)
            {
                sizes = Array.Empty<int>();
                problem = "its split sizes are not constant";
                return false;
            }
            int count = node.Output.Count;
            if (split == null)
            {
                int parts = a.Has("num_outputs") ? (int)a.GetInt("num_outputs", count) : count;
                int chunk = (dim + parts - 1) / parts;
                split = Enumerable.Range(0, parts).Select(j => (long)Math.Max(0, Math.Min(chunk, dim - j * chunk))).ToArray();
            }
            if (split.Length != count || split.Sum() != dim || split.Any(s => s <= 0))
            {
                sizes = Array.Empty<int>();
                problem = $"split sizes [{string.Join(",", split)}] do not divide a dimension of {dim} into {count} non-empty parts";
                return false;
            }
            sizes = split.Select(s => (int)s).ToArray();
            return true;
        }
    }
}
