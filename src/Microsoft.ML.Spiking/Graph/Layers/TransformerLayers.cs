// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>
    /// Layer normalization over the last per-sample axis (ONNX LayerNormalization with axis −1, or PyTorch's
    /// decomposed form): y = (x − mean) / sqrt(var + ε) · scale + bias, with the population variance.
    /// </summary>
    public sealed class LayerNormLayer : Layer
    {
        /// <summary>Creates a layer-normalization layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="scale">Scale per feature of the last axis.</param>
        /// <param name="bias">Bias per feature, or null.</param>
        /// <param name="epsilon">ε added to the variance.</param>
        public LayerNormLayer(string name, string sourceOpType, string input, string output, float[] scale, float[]? bias, float epsilon)
            : base(name, sourceOpType, new[] { input }, output)
        {
            ArgumentNullException.ThrowIfNull(scale, nameof(scale));
            if (bias != null && bias.Length != scale.Length)
            {
                throw new ArgumentException($"LayerNorm '{name}': bias has {bias.Length} values for {scale.Length} features.", nameof(bias));
            }
            if (!(epsilon >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"LayerNorm '{name}': epsilon must be non-negative.");
            }
            Scale = scale;
            Bias = bias;
            Epsilon = epsilon;
        }

        /// <summary>Scale per feature of the last axis.</summary>
        public float[] Scale { get; }

        /// <summary>Bias per feature, or null.</summary>
        public float[]? Bias { get; }

        /// <summary>ε added to the variance.</summary>
        public float Epsilon { get; }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new LayerNormLayer(Name, SourceOpType, inputs[0], output, Scale, Bias, Epsilon);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length == 0 || x[^1] != Scale.Length)
            {
                throw ShapeError($"normalizes a last axis of {Scale.Length} features, but the input is [N,{string.Join(",", x)}].");
            }
            return x;
        }
    }

    /// <summary>GELU activation: x·Φ(x) (ONNX Gelu, or PyTorch's x·½·(1 + erf(x/√2)); the tanh approximation as an option).</summary>
    public sealed class GeluLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a GELU layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="tanhApproximation">True for ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</param>
        public GeluLayer(string name, string sourceOpType, string input, string output, bool tanhApproximation)
            : base(name, sourceOpType, input, output)
        {
            TanhApproximation = tanhApproximation;
        }

        /// <summary>True for the tanh approximation, false for the exact erf form.</summary>
        public bool TanhApproximation { get; }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new GeluLayer(Name, SourceOpType, inputs[0], output, TanhApproximation);
    }

    /// <summary>
    /// Matrix product of two activations (attention's q·kᵀ and attn·v): per sample [..., M, K] @ [..., K, N], the
    /// leading axes broadcast. Not linear in the pair; differential coding makes it a product unit (algorithms.md §2.7).
    /// </summary>
    public sealed class MatMulLayer : Layer
    {
        /// <summary>Creates a product layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="left">Left operand.</param>
        /// <param name="right">Right operand.</param>
        /// <param name="output">Output value name.</param>
        public MatMulLayer(string name, string sourceOpType, string left, string right, string output)
            : base(name, sourceOpType, new[] { left, right }, output)
        {
        }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new MatMulLayer(Name, SourceOpType, inputs[0], inputs[1], output);

        /// <summary>Multiply-accumulates per sample of the dense product, for the energy baseline.</summary>
        /// <param name="left">Per-sample shape of the left operand.</param>
        /// <param name="outputShape">Per-sample output shape.</param>
        public static long MacsPerSample(int[] left, int[] outputShape) => ShapeUtil.Product(outputShape) * left[^1];

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 2);
            int[] a = inputShapes[0];
            int[] b = inputShapes[1];
            if (a.Length < 2 || b.Length != a.Length)
            {
                throw ShapeError($"expects two operands of the same rank ≥ 2 per sample, got [N,{string.Join(",", a)}] and [N,{string.Join(",", b)}].");
            }
            if (a[^1] != b[^2])
            {
                throw ShapeError($"inner dimensions differ: [N,{string.Join(",", a)}] @ [N,{string.Join(",", b)}].");
            }
            int[]? lead = ShapeUtil.Broadcast(a[..^2], b[..^2])
                ?? throw ShapeError($"leading axes of [N,{string.Join(",", a)}] and [N,{string.Join(",", b)}] do not broadcast.");
            return lead.Concat(new[] { a[^2], b[^1] }).ToArray();
        }
    }

    /// <summary>Selects one index of a per-sample axis and drops that axis (ONNX Gather with a scalar index; x[:, 0]).</summary>
    public sealed class GatherLayer : Layer
    {
        /// <summary>Creates a gather layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="axis">Per-sample axis.</param>
        /// <param name="index">Index on that axis (non-negative).</param>
        public GatherLayer(string name, string sourceOpType, string input, string output, int axis, int index)
            : base(name, sourceOpType, new[] { input }, output)
        {
            if (axis < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(axis), axis, $"Gather '{name}': the per-sample axis must be non-negative.");
            }
            if (index < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"Gather '{name}': the index must be non-negative.");
            }
            Axis = axis;
            Index = index;
        }

        /// <summary>Per-sample axis.</summary>
        public int Axis { get; }

        /// <summary>Index on that axis.</summary>
        public int Index { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new GatherLayer(Name, SourceOpType, inputs[0], output, Axis, Index);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (Axis >= x.Length || Index >= x[Axis])
            {
                throw ShapeError($"index {Index} on axis {Axis + 1} is out of range for [N,{string.Join(",", x)}].");
            }
            return x.Where((_, i) => i != Axis).ToArray();
        }
    }

    /// <summary>A contiguous range [Start, End) of one per-sample axis (ONNX Slice with step 1, or one output of Split).</summary>
    public sealed class SliceLayer : Layer
    {
        /// <summary>Creates a slice layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="axis">Per-sample axis.</param>
        /// <param name="start">First index kept.</param>
        /// <param name="end">One past the last index kept.</param>
        public SliceLayer(string name, string sourceOpType, string input, string output, int axis, int start, int end)
            : base(name, sourceOpType, new[] { input }, output)
        {
            if (axis < 0 || start < 0 || end <= start)
            {
                throw new ArgumentException($"Slice '{name}': needs axis ≥ 0 and 0 ≤ start < end; got axis {axis}, [{start}, {end}).");
            }
            Axis = axis;
            Start = start;
            End = end;
        }

        /// <summary>Per-sample axis.</summary>
        public int Axis { get; }

        /// <summary>First index kept.</summary>
        public int Start { get; }

        /// <summary>One past the last index kept.</summary>
        public int End { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new SliceLayer(Name, SourceOpType, inputs[0], output, Axis, Start, End);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (Axis >= x.Length || End > x[Axis])
            {
                throw ShapeError($"range [{Start}, {End}) on axis {Axis + 1} is out of range for [N,{string.Join(",", x)}].");
            }
            int[] result = (int[])x.Clone();
            result[Axis] = End - Start;
            return result;
        }
    }

    /// <summary>
    /// A constant repeated for every sample of the batch of its reference input (PyTorch's
    /// <c>cls_token.expand(B, -1, -1)</c>). Its only input gives the batch size; the values do not depend on it.
    /// </summary>
    public sealed class BroadcastConstantLayer : Layer
    {
        /// <summary>Creates the layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="reference">Any activation of the network; only its batch size is read.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="value">The per-sample constant.</param>
        public BroadcastConstantLayer(string name, string sourceOpType, string reference, string output, FloatTensor value)
            : base(name, sourceOpType, new[] { reference }, output)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(value));
            Value = value;
        }

        /// <summary>The per-sample constant.</summary>
        public FloatTensor Value { get; }

        /// <summary>True: a constant is an affine map (with zero weight) of any input.</summary>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new BroadcastConstantLayer(Name, SourceOpType, inputs[0], output, Value);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            return (int[])Value.Shape.Clone();
        }
    }

    /// <summary>
    /// Identity that marks where differential coding places an identity multi-threshold neuron in a transformer: on the
    /// input of every convolution and dense layer and on both operands of a product of activations (algorithms.md §2.9).
    /// Calibration collects the statistics of its output; conversion replaces it by the neuron.
    /// </summary>
    public sealed class NeuronSiteLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a site.</summary>
        /// <param name="name">Site name (its first consumer's name and operand).</param>
        /// <param name="input">The marked value.</param>
        /// <param name="output">Output value name (the same values).</param>
        public NeuronSiteLayer(string name, string input, string output)
            : base(name, "NeuronSite", input, output)
        {
        }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) => new NeuronSiteLayer(Name, inputs[0], output);
    }
}
