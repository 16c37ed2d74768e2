// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>Element-wise arithmetic.</summary>
    public enum BinaryOp
    {
        /// <summary>a + b.</summary>
        Add,

        /// <summary>a − b.</summary>
        Sub,

        /// <summary>a · b.</summary>
        Mul,

        /// <summary>a / b.</summary>
        Div,
    }

    /// <summary>Element-wise arithmetic of two activations (a residual Add, for instance), with broadcasting.</summary>
    public sealed class BinaryLayer : Layer
    {
        /// <summary>Creates a binary layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="left">Left input value name.</param>
        /// <param name="right">Right input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="op">The operation.</param>
        public BinaryLayer(string name, string sourceOpType, string left, string right, string output, BinaryOp op)
            : base(name, sourceOpType, new[] { left, right }, output)
        {
            Op = op;
        }

        /// <summary>The operation.</summary>
        public BinaryOp Op { get; }

        /// <inheritdoc/>
        public override bool IsLinear => Op == BinaryOp.Add || Op == BinaryOp.Sub;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new BinaryLayer(Name, SourceOpType, inputs[0], inputs[1], output, Op);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 2);
            if (inputShapes[0].Length != inputShapes[1].Length)
            {
                throw ShapeError($"inputs {ShapeUtil.Format(inputShapes[0])} and {ShapeUtil.Format(inputShapes[1])} have different ranks; the batch axis must line up.");
            }
            return ShapeUtil.Broadcast(inputShapes[0], inputShapes[1])
                ?? throw ShapeError($"inputs {ShapeUtil.Format(inputShapes[0])} and {ShapeUtil.Format(inputShapes[1])} do not broadcast.");
        }
    }

    /// <summary>Element-wise arithmetic of an activation and a constant (a bias Add, a scalar Mul).</summary>
    public sealed class ConstBinaryLayer : Layer
    {
        /// <summary>Creates a layer computing x op c (or c op x when <paramref name="constantOnLeft"/>).</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="op">The operation.</param>
        /// <param name="constant">The constant, shaped to broadcast against the per-sample input shape.</param>
        /// <param name="constantOnLeft">True for c op x.</param>
        public ConstBinaryLayer(string name, string sourceOpType, string input, string output, BinaryOp op, FloatTensor constant, bool constantOnLeft)
            : base(name, sourceOpType, new[] { input }, output)
        {
            Op = op;
            Constant = constant;
            ConstantOnLeft = constantOnLeft;
        }

        /// <summary>The operation.</summary>
        public BinaryOp Op { get; }

        /// <summary>The constant, shaped to broadcast against the per-sample input shape.</summary>
        public FloatTensor Constant { get; }

        /// <summary>True for c op x.</summary>
        public bool ConstantOnLeft { get; }

        /// <inheritdoc/>
        public override bool IsLinear => Op != BinaryOp.Div || !ConstantOnLeft;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ConstBinaryLayer(Name, SourceOpType, inputs[0], output, Op, Constant, ConstantOnLeft);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (Constant.Shape.Length > x.Length)
            {
                throw ShapeError($"constant {ShapeUtil.Format(Constant.Shape)} has more axes than the per-sample input {ShapeUtil.Format(x)}; it would broadcast over the batch axis.");
            }
            int[]? result = ShapeUtil.Broadcast(x, Constant.Shape);
            if (result == null || !ShapeUtil.SameShape(result, x))
            {
                throw ShapeError($"constant {ShapeUtil.Format(Constant.Shape)} does not broadcast to the input {ShapeUtil.Format(x)}.");
            }
            return x;
        }
    }

    /// <summary>Concatenation along a per-sample axis.</summary>
    public sealed class ConcatLayer : Layer
    {
        /// <summary>Creates a concatenation layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="inputs">Input value names.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="axis">Per-sample axis (ONNX axis minus one).</param>
        public ConcatLayer(string name, string sourceOpType, IReadOnlyList<string> inputs, string output, int axis)
            : base(name, sourceOpType, inputs, output)
        {
            Axis = axis;
        }

        /// <summary>Per-sample axis.</summary>
        public int Axis { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ConcatLayer(Name, SourceOpType, inputs, output, Axis);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            if (inputShapes.Count == 0)
            {
                throw ShapeError("needs at least one input.");
            }
            int[] first = inputShapes[0];
            if (Axis < 0 || Axis >= first.Length)
            {
                throw ShapeError($"axis {Axis + 1} is out of range for [N,{string.Join(",", first)}].");
            }
            var result = (int[])first.Clone();
            for (int i = 1; i < inputShapes.Count; i++)
            {
                int[] s = inputShapes[i];
                if (s.Length != first.Length || Enumerable.Range(0, s.Length).Any(d => d != Axis && s[d] != first[d]))
                {
                    throw ShapeError($"input {i} has shape {ShapeUtil.Format(s)}, which does not match {ShapeUtil.Format(first)} outside axis {Axis + 1}.");
                }
                result[Axis] += s[Axis];
            }
            return result;
        }
    }

    /// <summary>Reshape to a fixed per-sample shape (ONNX Flatten with axis 1 and Reshape both become this).</summary>
    public sealed class ReshapeLayer : Layer
    {
        /// <summary>Creates a reshape layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="targetShape">Per-sample target shape; one entry may be −1 (inferred).</param>
        public ReshapeLayer(string name, string sourceOpType, string input, string output, int[] targetShape)
            : base(name, sourceOpType, new[] { input }, output)
        {
            TargetShape = targetShape;
        }

        /// <summary>Per-sample target shape; one entry may be −1.</summary>
        public int[] TargetShape { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ReshapeLayer(Name, SourceOpType, inputs[0], output, TargetShape);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            long size = ShapeUtil.Product(inputShapes[0]);
            var result = (int[])TargetShape.Clone();
            int unknown = Array.IndexOf(result, -1);
            long known = 1;
            for (int i = 0; i < result.Length; i++)
            {
                if (i != unknown)
                {
                    known *= result[i];
                }
            }
            if (unknown >= 0)
            {
                if (known == 0 || size % known != 0)
                {
                    throw ShapeError($"cannot reshape {ShapeUtil.Format(inputShapes[0])} to {ShapeUtil.Format(TargetShape)}.");
                }
                result[unknown] = (int)(size / known);
            }
            else if (known != size)
            {
                throw ShapeError($"cannot reshape {ShapeUtil.Format(inputShapes[0])} ({size} values per sample) to {ShapeUtil.Format(TargetShape)} ({known} values).");
            }
            return result;
        }
    }

    /// <summary>Permutation of the per-sample axes (the batch axis stays first).</summary>
    public sealed class TransposeLayer : Layer
    {
        /// <summary>Creates a transpose layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="permutation">Permutation of the per-sample axes.</param>
        public TransposeLayer(string name, string sourceOpType, string input, string output, int[] permutation)
            : base(name, sourceOpType, new[] { input }, output)
        {
            Permutation = permutation;
        }

        /// <summary>Permutation of the per-sample axes.</summary>
        public int[] Permutation { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new TransposeLayer(Name, SourceOpType, inputs[0], output, Permutation);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (Permutation.Length != x.Length || Permutation.OrderBy(p => p).Where((p, i) => p != i).Any())
            {
                throw ShapeError($"permutation [{string.Join(",", Permutation)}] does not fit the per-sample shape {ShapeUtil.Format(x)}.");
            }
            return Permutation.Select(p => x[p]).ToArray();
        }
    }
}
