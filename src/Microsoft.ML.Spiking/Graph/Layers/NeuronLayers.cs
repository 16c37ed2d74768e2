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
    /// A layer of spiking neurons: it replaces an activation, keeps a membrane per neuron and emits at most one
    /// (possibly graded) spike per neuron and step. Spike counts and firing rates are reported per such layer.
    /// </summary>
    public abstract class SpikingNeuronLayer : UnaryElementwiseLayer
    {
        /// <summary>Initializes the common fields.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Op type of the activation it replaces.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="threshold">θ: one value (layer), one per channel, or one per neuron.</param>
        protected SpikingNeuronLayer(string name, string sourceOpType, string input, string output, float[] threshold)
            : base(name, sourceOpType, input, output)
        {
            ArgumentNullException.ThrowIfNull(threshold, nameof(threshold));
            if (threshold.Length == 0)
            {
                throw new ArgumentException("θ must have at least one value.", nameof(threshold));
            }
            Threshold = threshold;
        }

        /// <summary>θ: one value (layer), one per channel (axis 0 of the per-sample shape), or one per neuron.</summary>
        public float[] Threshold { get; }

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            int[] shape = base.InferShape(inputShapes);
            int size = ShapeUtil.Size(shape);
            if (Threshold.Length != 1 && Threshold.Length != size && (shape.Length < 1 || shape[0] != Threshold.Length))
            {
                throw ShapeError($"θ has {Threshold.Length} values, which is neither one, one per channel nor one per neuron of the input {ShapeUtil.Format(shape)}.");
            }
            return shape;
        }
    }

    /// <summary>
    /// Integrate-and-fire neuron (algorithms.md §1.1): per step m = v + I, s = H(m − θ),
    /// v = m − s·θ (or 0), emitted value s·θ. Replaces a ReLU in a rate-coded network.
    /// </summary>
    public sealed class IfNeuronLayer : SpikingNeuronLayer
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
            : base(name, sourceOpType, input, output, threshold)
        {
            InitialMembrane = initialMembrane;
            Reset = reset;
        }

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
