// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>The reduction a pooling layer applies.</summary>
    public enum PoolKind
    {
        /// <summary>Maximum over the window.</summary>
        Max,

        /// <summary>Mean over the window.</summary>
        Average,
    }

    /// <summary>2-D max or average pooling on NCHW tensors with explicit padding.</summary>
    public sealed class PoolLayer : Layer
    {
        /// <summary>Creates a pooling layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="kind">Max or average.</param>
        /// <param name="kernel">Kernel [kH, kW].</param>
        /// <param name="strides">Strides [sH, sW].</param>
        /// <param name="pads">Pads [top, left, bottom, right].</param>
        /// <param name="ceilMode">ONNX ceil_mode.</param>
        /// <param name="countIncludePad">ONNX count_include_pad (average only).</param>
        public PoolLayer(string name, string sourceOpType, string input, string output, PoolKind kind,
            int[] kernel, int[] strides, int[] pads, bool ceilMode, bool countIncludePad)
            : base(name, sourceOpType, new[] { input }, output)
        {
            Kind = kind;
            Kernel = kernel;
            Strides = strides;
            Pads = pads;
            CeilMode = ceilMode;
            CountIncludePad = countIncludePad;
        }

        /// <summary>Max or average.</summary>
        public PoolKind Kind { get; }

        /// <summary>Kernel [kH, kW].</summary>
        public int[] Kernel { get; }

        /// <summary>Strides [sH, sW].</summary>
        public int[] Strides { get; }

        /// <summary>Pads [top, left, bottom, right].</summary>
        public int[] Pads { get; }

        /// <summary>ONNX ceil_mode.</summary>
        public bool CeilMode { get; }

        /// <summary>ONNX count_include_pad.</summary>
        public bool CountIncludePad { get; }

        /// <inheritdoc/>
        public override bool IsLinear => Kind == PoolKind.Average;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new PoolLayer(Name, SourceOpType, inputs[0], output, Kind, Kernel, Strides, Pads, CeilMode, CountIncludePad);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length != 3)
            {
                throw ShapeError($"expected a [C,H,W] input, got {ShapeUtil.Format(x)}.");
            }
            int h = PoolingMath.OutputSize(x[1], Kernel[0], Strides[0], Pads[0], Pads[2], 1, CeilMode);
            int w = PoolingMath.OutputSize(x[2], Kernel[1], Strides[1], Pads[1], Pads[3], 1, CeilMode);
            if (h <= 0 || w <= 0)
            {
                throw ShapeError($"kernel does not fit the input {ShapeUtil.Format(x)}.");
            }
            return new[] { x[0], h, w };
        }
    }

    /// <summary>Global average pooling: [C,H,W] to [C,1,1].</summary>
    public sealed class GlobalAveragePoolLayer : Layer
    {
        /// <summary>Creates a global average pooling layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Source op type.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        public GlobalAveragePoolLayer(string name, string sourceOpType, string input, string output)
            : base(name, sourceOpType, new[] { input }, output)
        {
        }

        /// <inheritdoc/>
        public override bool IsLinear => true;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new GlobalAveragePoolLayer(Name, SourceOpType, inputs[0], output);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            int[] x = inputShapes[0];
            if (x.Length < 2)
            {
                throw ShapeError($"expected a [C,H,W] input, got {ShapeUtil.Format(x)}.");
            }
            var result = new int[x.Length];
            result[0] = x[0];
            for (int i = 1; i < x.Length; i++)
            {
                result[i] = 1;
            }
            return result;
        }
    }

    /// <summary>Output-size arithmetic shared by convolution and pooling.</summary>
    internal static class PoolingMath
    {
        public static int OutputSize(int size, int kernel, int stride, int padBegin, int padEnd, int dilation, bool ceilMode)
        {
            int effective = dilation * (kernel - 1) + 1;
            int span = size + padBegin + padEnd - effective;
            if (span < 0)
            {
                return 0;
            }
            int output = ceilMode ? (span + stride - 1) / stride + 1 : span / stride + 1;
            if (ceilMode && (output - 1) * stride >= size + padBegin)
            {
                // The last window would start inside the end padding only: ONNX drops it.
                output--;
            }
            return output;
        }
    }
}
