// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>How an integrate-and-fire neuron resets after a spike.</summary>
    public enum ResetMode
    {
        /// <summary>Reset by subtraction: v ← m − θ (keeps the residual; the accurate choice).</summary>
        Subtract,

        /// <summary>Reset to zero: v ← 0 (Diehl et al. 2015).</summary>
        Zero,
    }

    /// <summary>
    /// Integrate-and-fire neuron (algorithms.md §1.1): per step m = v + I, s = H(m − θ),
    /// v = m − s·θ (or 0), emitted value s·θ. Replaces a ReLU in a rate-coded network.
    /// </summary>
    public sealed class IfNeuronLayer : UnaryElementwiseLayer
    {
        /// <summary>Creates an IF neuron layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Op type of the activation it replaces.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="threshold">θ: one value (layer) or one per channel.</param>
        /// <param name="initialMembrane">v(0) as a fraction of θ (0.5 by default).</param>
        /// <param name="reset">Reset rule.</param>
        public IfNeuronLayer(string name, string sourceOpType, string input, string output, float[] threshold,
            float initialMembrane, ResetMode reset)
            : base(name, sourceOpType, input, output)
        {
            if (threshold.Length == 0)
            {
                throw new ArgumentException("θ must have at least one value.", nameof(threshold));
            }
            Threshold = threshold;
            InitialMembrane = initialMembrane;
            Reset = reset;
        }

        /// <summary>θ: one value (layer) or one per channel.</summary>
        public float[] Threshold { get; }

        /// <summary>v(0) as a fraction of θ.</summary>
        public float InitialMembrane { get; }

        /// <summary>Reset rule.</summary>
        public ResetMode Reset { get; }

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new IfNeuronLayer(Name, SourceOpType, inputs[0], output, Threshold, InitialMembrane, Reset);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            int[] shape = base.InferShape(inputShapes);
            if (Threshold.Length != 1 && (shape.Length < 1 || shape[0] != Threshold.Length))
            {
                throw ShapeError($"θ has {Threshold.Length} channels but the input is {ShapeUtil.Format(shape)}.");
            }
            return shape;
        }
    }
}
