// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Evaluates at import time the nodes whose inputs are all constants: weight reshapes (old
    /// exporters), the Shape → Gather → Unsqueeze → Concat chains PyTorch emits for view(), casts,
    /// constant arithmetic.
    /// </summary>
    internal static class ConstantFolding
    {
        public static readonly IReadOnlyList<string> FoldableOps = new[]
        {
            "Identity", "Dropout", "Reshape", "Flatten", "Transpose", "Add", "Sub", "Mul", "Div", "Neg",
            "Sqrt", "Reciprocal", "Unsqueeze", "Squeeze", "Concat", "Gather", "Cast", "Floor", "Relu", "Clip",
            "Equal", "Where", "ConstantOfShape", "Expand", "Slice",
        };

        /// <summary>Folds a node, or returns null when the op is not foldable.</summary>
        public static ConstValue? TryFold(string op, IReadOnlyList<ConstValue?> inputs, NodeAttributes attributes, int opset, string where)
        {
            ConstValue x = inputs[0] ?? throw new OnnxImportException($"{where}: its first input is missing.");
            switch (op)
            {
                case "Identity":
                case "Dropout":
                    return x;
                case "Reshape":
                    return new ConstValue(ResolveReshape(x.Shape, inputs[1]!.ToLongs(), where), x.Data, x.IsInteger);
                case "Flatten":
                {
                    int axis = NormalizeAxis((int)attributes.GetInt("axis", 1), x.Shape.Length + 1, where);
                    int outer = (int)ShapeUtil.Product(x.Shape.Take(axis).ToArray());
                    return new ConstValue(new[] { outer, x.Data.Length / Math.Max(outer, 1) }, x.Data, x.IsInteger);
                }
                case "Transpose":
                {
                    long[]? permAttr = attributes.GetInts("perm");
                    int[] perm = permAttr?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Shape.Length).Reverse().ToArray();
                    if (perm.Length != x.Shape.Length || !perm.OrderBy(p => p).SequenceEqual(Enumerable.Range(0, perm.Length)))
                    {
                        throw new OnnxImportException($"{where}: perm [{string.Join(",", perm)}] is not a permutation of the axes of {ShapeUtil.Format(x.Shape)}.");
                    }
                    return Transpose(x, perm);
                }
                case "Add":
                case "Sub":
                case "Mul":
                case "Div":
                    return Elementwise(x, inputs[1]!, op, where);
                case "Neg":
                    return Map(x, v => -v);
                case "Sqrt":
                    return Map(x, Math.Sqrt);
                case "Reciprocal":
                    return Map(x, v => 1.0 / v);
                case "Floor":
                    return Map(x, Math.Floor);
                case "Relu":
                    return Map(x, v => Math.Max(v, 0));
                case "Clip":
                {
                    if (opset >= 11 && inputs.Skip(1).Any(b => b != null && b.Data.Length != 1))
                    {
                        throw new OnnxImportException($"{where}: min and max must be scalars.");
                    }
                    double lo = opset < 11 ? attributes.GetFloat("min", float.NegativeInfinity) : inputs.Count > 1 && inputs[1] != null ? inputs[1]!.Data[0] : double.NegativeInfinity;
                    double hi = opset < 11 ? attributes.GetFloat("max", float.PositiveInfinity) : inputs.Count > 2 && inputs[2] != null ? inputs[2]!.Data[0] : double.PositiveInfinity;
                    return Map(x, v => Math.Min(Math.Max(v, lo), hi));
                }
                case "Cast":
                {
                    long to = attributes.GetInt("to", 1);
                    bool toInteger = to != 1 && to != 10 && to != 11 && to != 16;
                    return toInteger ? new ConstValue(x.Shape, x.Data.Select(v => v == ConstValue.DynamicBatch ? v : Math.Truncate(v)).ToArray(), true)
                                     : new ConstValue(x.Shape, x.Data.Select(v => (double)(float)v).ToArray(), false);
                }
                case "Unsqueeze":
                {
                    long[] axes = opset >= 13 ? inputs[1]!.ToLongs() : attributes.GetInts("axes") ?? Array.Empty<long>();
                    int rank = x.Shape.Length + axes.Length;
                    var normalized = axes.Select(a => NormalizeAxis((int)a, rank, where)).ToHashSet();
                    if (normalized.Count != axes.Length)
                    {
                        throw new OnnxImportException($"{where}: axes [{string.Join(",", axes)}] repeat an axis.");
                    }
                    var shape = new List<int>();
                    int src = 0;
                    for (int i = 0; i < rank; i++)
                    {
                        shape.Add(normalized.Contains(i) ? 1 : x.Shape[src++]);
                    }
                    return new ConstValue(shape.ToArray(), x.Data, x.IsInteger);
                }
                case "Squeeze":
                {
                    long[]? axes = opset >= 13 ? (inputs.Count > 1 ? inputs[1]?.ToLongs() : null) : attributes.GetInts("axes");
                    var drop = axes?.Select(a => NormalizeAxis((int)a, x.Shape.Length, where)).ToHashSet()
                        ?? Enumerable.Range(0, x.Shape.Length).Where(i => x.Shape[i] == 1).ToHashSet();
                    return new ConstValue(x.Shape.Where((d, i) => !drop.Contains(i)).ToArray(), x.Data, x.IsInteger);
                }
                case "Concat":
                    return Concat(inputs.Select(i => i!).ToList(), (int)attributes.GetInt("axis", 0), where);
                case "Gather":
                    return Gather(x, inputs[1]!, (int)attributes.GetInt("axis", 0), where);
                case "Equal":
                {
                    int[] shape = ShapeUtil.Broadcast(x.Shape, inputs[1]!.Shape)
                        ?? throw new OnnxImportException($"{where}: constants {ShapeUtil.Format(x.Shape)} and {ShapeUtil.Format(inputs[1]!.Shape)} do not broadcast.");
                    double[] a = BroadcastTo(x, shape);
                    double[] b = BroadcastTo(inputs[1]!, shape);
                    return new ConstValue(shape, a.Select((v, i) => v == b[i] ? 1.0 : 0.0).ToArray(), true);
                }
                case "Where":
                {
                    ConstValue t = inputs[1]!;
                    ConstValue f = inputs[2]!;
                    int[] shape = ShapeUtil.Broadcast(ShapeUtil.Broadcast(x.Shape, t.Shape) ?? x.Shape, f.Shape)
                        ?? throw new OnnxImportException($"{where}: Where inputs {ShapeUtil.Format(x.Shape)}, {ShapeUtil.Format(t.Shape)}, {ShapeUtil.Format(f.Shape)} do not broadcast.");
                    double[] c = BroadcastTo(x, shape);
                    double[] tv = BroadcastTo(t, shape);
                    double[] fv = BroadcastTo(f, shape);
                    return new ConstValue(shape, c.Select((v, i) => v != 0 ? tv[i] : fv[i]).ToArray(), t.IsInteger && f.IsInteger);
                }
                case "ConstantOfShape":
                {
                    long[] dims = x.ToLongs();
                    if (dims.Any(d => d < 0 || d > int.MaxValue))
                    {
                        throw new OnnxImportException($"{where}: shape [{string.Join(",", dims)}] is not a fixed non-negative shape (a dimension depends on the batch size?).");
                    }
                    int[] shape = dims.Select(d => (int)d).ToArray();
                    Proto.TensorProto? value = attributes.GetTensor("value");
                    ConstValue fill = value != null ? ConstValue.FromTensor(value, where) : new ConstValue(new[] { 1 }, new[] { 0.0 }, false);
                    return new ConstValue(shape, Enumerable.Repeat(fill.Data[0], (int)ShapeUtil.Product(shape)).ToArray(), fill.IsInteger);
                }
                case "Expand":
                {
                    long[] target = inputs[1]!.ToLongs();
                    if (target.Any(d => d < 0 || d > int.MaxValue))
                    {
                        throw new OnnxImportException($"{where}: expand target [{string.Join(",", target)}] is not a fixed shape.");
                    }
                    int[] shape = ShapeUtil.Broadcast(x.Shape, target.Select(d => (int)d).ToArray())
                        ?? throw new OnnxImportException($"{where}: {ShapeUtil.Format(x.Shape)} does not expand to [{string.Join(",", target)}].");
                    return new ConstValue(shape, BroadcastTo(x, shape), x.IsInteger);
                }
                case "Slice":
                    return SliceConstant(x, inputs, attributes, opset, where);
                default:
                    return null;
            }
        }

        public static int NormalizeAxis(int axis, int rank, string where)
        {
            int a = axis < 0 ? axis + rank : axis;
            if (a < 0 || a >= rank)
            {
                throw new OnnxImportException($"{where}: axis {axis} is out of range for rank {rank}.");
            }
            return a;
        }

        /// <summary>Resolves an ONNX Reshape target (0 copies a dimension, −1 is inferred) against a full shape.</summary>
        public static int[] ResolveReshape(int[] inputShape, long[] target, string where)
        {
            long size = ShapeUtil.Product(inputShape);
            var result = new int[target.Length];
            int unknown = -1;
            long known = 1;
            for (int i = 0; i < target.Length; i++)
            {
                if (target[i] == 0)
                {
                    if (i >= inputShape.Length)
                    {
                        throw new OnnxImportException($"{where}: reshape target [{string.Join(",", target)}] copies axis {i}, which {ShapeUtil.Format(inputShape)} lacks.");
                    }
                    result[i] = inputShape[i];
                }
                else if (target[i] == -1)
                {
                    if (unknown >= 0)
                    {
                        throw new OnnxImportException($"{where}: reshape target [{string.Join(",", target)}] has more than one -1.");
                    }
                    unknown = i;
                    continue;
                }
                else if (target[i] < 0 || target[i] > int.MaxValue)
                {
                    throw new OnnxImportException($"{where}: reshape target [{string.Join(",", target)}] has an invalid dimension {target[i]}.");
                }
                else
                {
                    result[i] = (int)target[i];
                }
                known *= result[i];
            }
            if (unknown >= 0)
            {
                result[unknown] = known == 0 ? 0 : (int)(size / known);
            }
            if (ShapeUtil.Product(result) != size)
            {
                throw new OnnxImportException($"{where}: cannot reshape {ShapeUtil.Format(inputShape)} to [{string.Join(",", target)}].");
            }
            return result;
        }

        private static ConstValue Map(ConstValue x, Func<double, double> f) =>
            new ConstValue(x.Shape, x.Data.Select(f).ToArray(), x.IsInteger);

        private static ConstValue Elementwise(ConstValue a, ConstValue b, string op, string where)
        {
            int[] shape = ShapeUtil.Broadcast(a.Shape, b.Shape)
                ?? throw new OnnxImportException($"{where}: constants {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)} do not broadcast.");
            double[] av = BroadcastTo(a, shape);
            double[] bv = BroadcastTo(b, shape);
            bool integer = a.IsInteger && b.IsInteger;
            var result = new double[av.Length];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = op switch
                {
                    "Add" => av[i] + bv[i],
                    "Sub" => av[i] - bv[i],
                    "Mul" => av[i] * bv[i],
                    _ => integer ? Math.Truncate(av[i] / bv[i]) : av[i] / bv[i],
                };
                if (!integer)
                {
                    result[i] = (float)result[i];
                }
            }
            return new ConstValue(shape, result, integer);
        }

        /// <summary>Expands a constant to a broadcast shape (row-major).</summary>
        public static double[] BroadcastTo(ConstValue x, int[] shape)
        {
            if (ShapeUtil.SameShape(x.Shape, shape))
            {
                return x.Data;
            }
            int rank = shape.Length;
            var srcShape = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                int j = i - (rank - x.Shape.Length);
                srcShape[i] = j >= 0 ? x.Shape[j] : 1;
            }
            long total = ShapeUtil.Product(shape);
            var result = new double[total];
            var index = new int[rank];
            for (long flat = 0; flat < total; flat++)
            {
                long src = 0;
                for (int d = 0; d < rank; d++)
                {
                    src = src * srcShape[d] + (srcShape[d] == 1 ? 0 : index[d]);
                }
                result[flat] = x.Data[src];
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (++index[d] < shape[d])
                    {
                        break;
                    }
                    index[d] = 0;
                }
            }
            return result;
        }

        private static ConstValue Transpose(ConstValue x, int[] perm)
        {
            int rank = x.Shape.Length;
            int[] outShape = perm.Select(p => x.Shape[p]).ToArray();
            var srcStrides = new long[rank];
            long stride = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                srcStrides[d] = stride;
                stride *= x.Shape[d];
            }
            var result = new double[x.Data.Length];
            var index = new int[rank];
            for (long flat = 0; flat < result.Length; flat++)
            {
                long src = 0;
                for (int d = 0; d < rank; d++)
                {
                    src += index[d] * srcStrides[perm[d]];
                }
                result[flat] = x.Data[src];
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (++index[d] < outShape[d])
                    {
                        break;
                    }
                    index[d] = 0;
                }
            }
            return new ConstValue(outShape, result, x.IsInteger);
        }

        private static ConstValue Concat(IReadOnlyList<ConstValue> parts, int axis, string where)
        {
            int rank = parts[0].Shape.Length;
            axis = NormalizeAxis(axis, rank, where);
            foreach (ConstValue p in parts)
            {
                if (p.Shape.Length != rank || Enumerable.Range(0, rank).Any(d => d != axis && p.Shape[d] != parts[0].Shape[d]))
                {
                    throw new OnnxImportException($"{where}: cannot concatenate {string.Join(" and ", parts.Select(q => ShapeUtil.Format(q.Shape)))} along axis {axis}.");
                }
            }
            int outer = (int)ShapeUtil.Product(parts[0].Shape.Take(axis).ToArray());
            var shape = (int[])parts[0].Shape.Clone();
            shape[axis] = parts.Sum(p => p.Shape[axis]);
            var result = new List<double>();
            for (int o = 0; o < outer; o++)
            {
                foreach (ConstValue p in parts)
                {
                    int inner = (int)ShapeUtil.Product(p.Shape.Skip(axis).ToArray());
                    result.AddRange(p.Data.Skip(o * inner).Take(inner));
                }
            }
            return new ConstValue(shape, result.ToArray(), parts.All(p => p.IsInteger));
        }

        /// <summary>Reads a Slice node's starts, ends, axes and steps (inputs from opset 10, attributes before).</summary>
        public static (long[] Starts, long[] Ends, long[] Axes, long[] Steps) SliceArguments(IReadOnlyList<ConstValue?> inputs, NodeAttributes attributes, int opset, int rank, string where)
        {
            long[] starts = (opset >= 10 ? inputs.ElementAtOrDefault(1)?.ToLongs() : attributes.GetInts("starts"))
                ?? throw new OnnxImportException($"{where}: Slice needs constant starts.");
            long[] ends = (opset >= 10 ? inputs.ElementAtOrDefault(2)?.ToLongs() : attributes.GetInts("ends"))
                ?? throw new OnnxImportException($"{where}: Slice needs constant ends.");
            long[] axes = (opset >= 10 ? inputs.ElementAtOrDefault(3)?.ToLongs() : attributes.GetInts("axes"))
                ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            long[] steps = (opset >= 10 ? inputs.ElementAtOrDefault(4)?.ToLongs() : null) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
            if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            {
                throw new OnnxImportException($"{where}: Slice starts, ends, axes and steps have different lengths.");
            }
            return (starts, ends, axes.Select(a => (long)NormalizeAxis((int)a, rank, where)).ToArray(), steps);
        }

        /// <summary>Clamps a Slice range for step 1 the way ONNX does; returns [start, end) with 0 ≤ start ≤ end ≤ dim.</summary>
        public static (int Start, int End) ClampRange(long start, long end, int dim)
        {
            long s = start < 0 ? start + dim : start;
            long e = end < 0 ? end + dim : end;
            s = Math.Clamp(s, 0, dim);
            e = Math.Clamp(e, 0, dim);
            return ((int)s, (int)Math.Max(s, e));
        }

        private static ConstValue SliceConstant(ConstValue x, IReadOnlyList<ConstValue?> inputs, NodeAttributes attributes, int opset, string where)
        {
            (long[] starts, long[] ends, long[] axes, long[] steps) = SliceArguments(inputs, attributes, opset, x.Shape.Length, where);
            if (steps.Any(s => s != 1))
            {
                throw new OnnxImportException($"{where}: only step 1 is supported when slicing constants.");
            }
            ConstValue result = x;
            for (int i = 0; i < starts.Length; i++)
            {
                int axis = (int)axes[i];
                (int start, int end) = ClampRange(starts[i], ends[i], result.Shape[axis]);
                var indices = new ConstValue(new[] { end - start }, Enumerable.Range(start, end - start).Select(v => (double)v).ToArray(), true);
                result = Gather(result, indices, axis, where);
            }
            return result;
        }

        private static ConstValue Gather(ConstValue data, ConstValue indices, int axis, string where)
        {
            axis = NormalizeAxis(axis, data.Shape.Length, where);
            int outer = (int)ShapeUtil.Product(data.Shape.Take(axis).ToArray());
            int inner = (int)ShapeUtil.Product(data.Shape.Skip(axis + 1).ToArray());
            int dim = data.Shape[axis];
            var result = new List<double>();
            for (int o = 0; o < outer; o++)
            {
                foreach (long raw in indices.ToLongs())
                {
                    long i = raw < 0 ? raw + dim : raw;
                    if (i < 0 || i >= dim)
                    {
                        throw new OnnxImportException($"{where}: gather index {raw} is out of range for dimension {dim}.");
                    }
                    result.AddRange(data.Data.Skip((int)((o * dim + i) * inner)).Take(inner));
                }
            }
            int[] shape = data.Shape.Take(axis).Concat(indices.Shape).Concat(data.Shape.Skip(axis + 1)).ToArray();
            return new ConstValue(shape, result.ToArray(), data.IsInteger);
        }
    }
}
