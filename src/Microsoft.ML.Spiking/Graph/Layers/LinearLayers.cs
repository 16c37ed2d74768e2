// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>2-D convolution (ONNX Conv on NCHW tensors) with explicit padding.</summary>
    public sealed class ConvLayer : Layer
    {
        /// <summary>Creates a convolution layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="weight">Weights [O, I/group, kH, kW].</param>
        /// <param name="bias">Bias [O], or null.</param>
        /// <param name="strides">Strides [sH, sW].</param>
        /// <param name="pads">Pads [top, left, bottom, right].</param>
        /// <param name="dilations">Dilations [dH, dW].</param>
        /// <param name="group">Number of groups.</param>
        public ConvLayer(string name, string sourceOpType, string input, string output, FloatTensor weight, float[]? bias,
            int[] strides, int[] pads, int[] dilations, int group)
            : base(name, sourceOpType, new[] { input }, output)
        {
            if (weight.Shape.Length != 4)
            {
                throw new ArgumentException($"Conv weight must be 4-D, got {ShapeUtil.Format(weight.Shape)}.", nameof(weight));
            }
            if (bias != null && bias.Length != weight.Shape[0])
            {
                throw new ArgumentException($"Conv bias has {bias.Length} values for {weight.Shape[0]} output channels.", nameof(bias));
            }
            Weight = weight;
            Bias = bias;
            Strides = strides;
            Pads = pads;
            Dilations = dilations;
            Group = group;
        }

        /// <summary>Weights [O, I/group, kH, kW].</summary>
        public FloatTensor Weight { get; }

        /// <summary>Bias [O], or null.</summary>
        public float[]? Bias { get; }

        /// <summary>Strides [sH, sW].</summary>
        public int[] Strides { get; }

        /// <summary>Pads [top, left, bottom, right].</summary>
        public int[] Pads { get; }

        /// <summary>Dilations [dH, dW].</summary>
        public int[] Dilations { get; }

        /// <summary>Number of groups.</summary>
        public int Group { get; }

        /// <summary>Output channels.</summary>
        public int OutChannels => Weight.Shape[0];

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <summary>Returns a copy with other weights and bias.</summary>
        /// <param name="weight">New weights of the same shape.</param>
        /// <param name="bias">New bias.</param>
        public ConvLayer WithParameters(FloatTensor weight, float[]? bias) =>
            new ConvLayer(Name, SourceOpType, Inputs[0], Output, weight, bias, Strides, Pads, Dilations, Group);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ConvLayer(Name, SourceOpType, inputs[0], output, Weight, Bias, Strides, Pads, Dilations, Group);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length != 3)
            {
                throw ShapeError($"expected a [C,H,W] input, got {ShapeUtil.Format(x)}.");
            }
            if (x[0] != Weight.Shape[1] * Group)
            {
                throw ShapeError($"input has {x[0]} channels but the weights expect {Weight.Shape[1] * Group} ({Weight.Shape[1]} per group x {Group} groups).");
            }
            int h = PoolingMath.OutputSize(x[1], Weight.Shape[2], Strides[0], Pads[0], Pads[2], Dilations[0], false);
            int w = PoolingMath.OutputSize(x[2], Weight.Shape[3], Strides[1], Pads[1], Pads[3], Dilations[1], false);
            if (h <= 0 || w <= 0)
            {
                throw ShapeError($"kernel does not fit the input {ShapeUtil.Format(x)}.");
            }
            return new[] { OutChannels, h, w };
        }

        /// <summary>Multiply-accumulate operations per sample for the given input shape.</summary>
        /// <param name="outputShape">The per-sample output shape.</param>
        public long MacsPerSample(int[] outputShape) =>
            ShapeUtil.Product(outputShape) * Weight.Shape[1] * Weight.Shape[2] * Weight.Shape[3];
    }

    /// <summary>
    /// Fully connected layer y = W x + b over the last per-sample axis: a [In] vector (ONNX Gemm), or every row of a
    /// [..., In] tensor (MatMul with constant weights, as in a transformer's token-wise Linear).
    /// </summary>
    public sealed class DenseLayer : Layer
    {
        /// <summary>Creates a dense layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="weight">Weights [Out, In].</param>
        /// <param name="bias">Bias [Out], or null.</param>
        public DenseLayer(string name, string sourceOpType, string input, string output, FloatTensor weight, float[]? bias)
            : base(name, sourceOpType, new[] { input }, output)
        {
            if (weight.Shape.Length != 2)
            {
                throw new ArgumentException($"Dense weight must be 2-D, got {ShapeUtil.Format(weight.Shape)}.", nameof(weight));
            }
            if (bias != null && bias.Length != weight.Shape[0])
            {
                throw new ArgumentException($"Dense bias has {bias.Length} values for {weight.Shape[0]} outputs.", nameof(bias));
            }
            Weight = weight;
            Bias = bias;
        }

        /// <summary>Weights [Out, In].</summary>
        public FloatTensor Weight { get; }

        /// <summary>Bias [Out], or null.</summary>
        public float[]? Bias { get; }

        /// <summary>Output features.</summary>
        public int OutFeatures => Weight.Shape[0];

        /// <summary>Input features.</summary>
        public int InFeatures => Weight.Shape[1];

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <summary>Returns a copy with other weights and bias.</summary>
        /// <param name="weight">New weights.</param>
        /// <param name="bias">New bias.</param>
        public DenseLayer WithParameters(FloatTensor weight, float[]? bias) =>
            new DenseLayer(Name, SourceOpType, Inputs[0], Output, weight, bias);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new DenseLayer(Name, SourceOpType, inputs[0], output, Weight, Bias);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length < 1 || x[^1] != InFeatures)
            {
                throw ShapeError($"expected an input whose last axis has {InFeatures} features, got {ShapeUtil.Format(x)}.");
            }
            int[] result = (int[])x.Clone();
            result[^1] = OutFeatures;
            return result;
        }
    }

    /// <summary>Batch normalization in inference form over channel axis 1.</summary>
    public sealed class BatchNormLayer : Layer
    {
        /// <summary>Creates a batch-normalization layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="gamma">Scale γ per channel.</param>
        /// <param name="beta">Shift β per channel.</param>
        /// <param name="mean">Running mean per channel.</param>
        /// <param name="variance">Running variance per channel.</param>
        /// <param name="epsilon">ε added to the variance.</param>
        public BatchNormLayer(string name, string sourceOpType, string input, string output,
            float[] gamma, float[] beta, float[] mean, float[] variance, float epsilon)
            : base(name, sourceOpType, new[] { input }, output)
        {
            int c = gamma.Length;
            if (beta.Length != c || mean.Length != c || variance.Length != c)
            {
                throw new ArgumentException($"BatchNormalization '{name}': scale, bias, mean and variance must have the same length.");
            }
            Gamma = gamma;
            Beta = beta;
            Mean = mean;
            Variance = variance;
            Epsilon = epsilon;
        }

        /// <summary>Scale γ.</summary>
        public float[] Gamma { get; }

        /// <summary>Shift β.</summary>
        public float[] Beta { get; }

        /// <summary>Running mean μ.</summary>
        public float[] Mean { get; }

        /// <summary>Running variance σ².</summary>
        public float[] Variance { get; }

        /// <summary>ε.</summary>
        public float Epsilon { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <summary>The equivalent per-channel affine map y = a·x + b.</summary>
        /// <param name="scale">a = γ / sqrt(σ² + ε).</param>
        /// <param name="shift">b = β − a·μ.</param>
        public void GetAffine(out float[] scale, out float[] shift)
        {
            int c = Gamma.Length;
            scale = new float[c];
            shift = new float[c];
            for (int i = 0; i < c; i++)
            {
                double a = Gamma[i] / Math.Sqrt((double)Variance[i] + Epsilon);
                scale[i] = (float)a;
                shift[i] = (float)(Beta[i] - a * Mean[i]);
            }
        }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new BatchNormLayer(Name, SourceOpType, inputs[0], output, Gamma, Beta, Mean, Variance, Epsilon);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length < 1 || x[0] != Gamma.Length)
            {
                throw ShapeError($"input {ShapeUtil.Format(x)} does not have {Gamma.Length} channels on axis 1.");
            }
            return x;
        }
    }

    /// <summary>
    /// Per-channel affine map y[c] = Scale[c]·x[c] + Shift[c] over axis 1: the form of an unfolded
    /// batch normalization and of input normalization that cannot be folded into a padded convolution.
    /// </summary>
    public sealed class ChannelAffineLayer : Layer
    {
        /// <summary>Creates a per-channel affine layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="scale">Scale per channel.</param>
        /// <param name="shift">Shift per channel.</param>
        public ChannelAffineLayer(string name, string sourceOpType, string input, string output, float[] scale, float[] shift)
            : base(name, sourceOpType, new[] { input }, output)
        {
            if (scale.Length != shift.Length)
            {
                throw new ArgumentException("Scale and shift must have the same length.", nameof(shift));
            }
            Scale = scale;
            Shift = shift;
        }

        /// <summary>Scale per channel.</summary>
        public float[] Scale { get; }

        /// <summary>Shift per channel.</summary>
        public float[] Shift { get; }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ChannelAffineLayer(Name, SourceOpType, inputs[0], output, Scale, Shift);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length < 1 || x[0] != Scale.Length)
            {
                throw ShapeError($"input {ShapeUtil.Format(x)} does not have {Scale.Length} channels on axis 1.");
            }
            return x;
        }
    }
}
