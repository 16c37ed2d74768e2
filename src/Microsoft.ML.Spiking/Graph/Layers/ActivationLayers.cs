// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>Base of element-wise layers whose output shape equals their input shape.</summary>
    public abstract class UnaryElementwiseLayer : Layer
    {
        /// <summary>Initializes the common fields.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        protected UnaryElementwiseLayer(string name, string sourceOpType, string input, string output)
            : base(name, sourceOpType, new[] { input }, output)
        {
        }

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            return inputShapes[0];
        }
    }

    /// <summary>ReLU activation: the site where conversion places a spiking neuron.</summary>
    public sealed class ReluLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a ReLU layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        public ReluLayer(string name, string sourceOpType, string input, string output)
            : base(name, sourceOpType, input, output)
        {
        }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ReluLayer(Name, SourceOpType, inputs[0], output);
    }

    /// <summary>Clip to [Min, Max] (ONNX Clip; ReLU6 is Clip(0, 6)).</summary>
    public sealed class ClipLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a clip layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="min">Lower bound (may be negative infinity).</param>
        /// <param name="max">Upper bound (may be positive infinity).</param>
        public ClipLayer(string name, string sourceOpType, string input, string output, float min, float max)
            : base(name, sourceOpType, input, output)
        {
            Min = min;
            Max = max;
        }

        /// <summary>Lower bound.</summary>
        public float Min { get; }

        /// <summary>Upper bound.</summary>
        public float Max { get; }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ClipLayer(Name, SourceOpType, inputs[0], output, Min, Max);
    }

    /// <summary>Element-wise floor (only meaningful inside a QCFS pattern, which the QCFS pass fuses).</summary>
    public sealed class FloorLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a floor layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        public FloorLayer(string name, string sourceOpType, string input, string output)
            : base(name, sourceOpType, input, output)
        {
        }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new FloorLayer(Name, SourceOpType, inputs[0], output);
    }

    /// <summary>
    /// Quantization-clip-floor-shift activation (QCFS, Bu et al. 2022):
    /// a = (λ/L)·clip(floor(z·L/λ + 1/2), 0, L), with λ per layer or per channel.
    /// </summary>
    public sealed class QcfsLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates a QCFS layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op types of the fused pattern.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="lambda">λ: one value (layer-wise) or one per channel.</param>
        /// <param name="levels">L, the number of quantization steps.</param>
        public QcfsLayer(string name, string sourceOpType, string input, string output, float[] lambda, int levels)
            : base(name, sourceOpType, input, output)
        {
            if (lambda.Length == 0)
            {
                throw new ArgumentException("λ must have at least one value.", nameof(lambda));
            }
            if (levels < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(levels), levels, "L must be at least 1.");
            }
            Lambda = lambda;
            Levels = levels;
        }

        /// <summary>λ: one value (layer-wise) or one per channel.</summary>
        public float[] Lambda { get; }

        /// <summary>L, the number of quantization steps.</summary>
        public int Levels { get; }

        /// <summary>The QCFS function for one value (reference, double precision).</summary>
        /// <param name="z">Pre-activation.</param>
        /// <param name="lambda">λ.</param>
        /// <param name="levels">L.</param>
        public static double Evaluate(double z, double lambda, int levels)
        {
            double k = Math.Floor(z * levels / lambda + 0.5);
            k = Math.Clamp(k, 0, levels);
            return lambda * k / levels;
        }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new QcfsLayer(Name, SourceOpType, inputs[0], output, Lambda, Levels);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            int[] shape = base.InferShape(inputShapes);
            if (Lambda.Length != 1 && (shape.Length < 1 || shape[0] != Lambda.Length))
            {
                throw ShapeError($"λ has {Lambda.Length} channels but the input is {ShapeUtil.Format(shape)}.");
            }
            return shape;
        }
    }

    /// <summary>Softmax or LogSoftmax over one per-sample axis; accepted only as the network's output.</summary>
    public sealed class SoftmaxLayer : Layer
    {
        /// <summary>Creates a softmax layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="axis">Per-sample axis (ONNX axis minus one).</param>
        /// <param name="log">True for LogSoftmax.</param>
        public SoftmaxLayer(string name, string sourceOpType, string input, string output, int axis, bool log)
            : base(name, sourceOpType, new[] { input }, output)
        {
            Axis = axis;
            Log = log;
        }

        /// <summary>Per-sample axis.</summary>
        public int Axis { get; }

        /// <summary>True for LogSoftmax.</summary>
        public bool Log { get; }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new SoftmaxLayer(Name, SourceOpType, inputs[0], output, Axis, Log);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            if (Axis < 0 || Axis >= inputShapes[0].Length)
            {
                throw ShapeError($"axis {Axis + 1} is out of range for input [N,{string.Join(",", inputShapes[0])}].");
            }
            return inputShapes[0];
        }
    }
}
