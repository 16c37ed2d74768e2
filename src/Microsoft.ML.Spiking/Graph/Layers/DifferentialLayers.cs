// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>Which of the n thresholds θ_k = θ/2^k a multi-threshold neuron fires (algorithms.md §2.4).</summary>
    public enum FiringRule
    {
        /// <summary>
        /// The reference code's rule (default): the largest θ_k with |m| ≥ 0.75·θ_k, also below the smallest
        /// threshold, so nothing fires for |m| &lt; 0.75·θ_(n−1).
        /// </summary>
        Midpoint = 0,

        /// <summary>
        /// The nearest value of {0, ±θ_k}: as <see cref="Midpoint"/> except that the smallest threshold fires from
        /// |m| ≥ 0.5·θ_(n−1). With one threshold this is the differential IF neuron (<c>IF_diff</c>) up to a
        /// constant θ/2 shift of the membrane.
        /// </summary>
        Nearest = 1,
    }

    /// <summary>
    /// Multi-threshold (MT) neuron of DCGS (algorithms.md §2.4–2.5): at most one graded spike per step from
    /// {0, ±θ, ±θ/2, …, ±θ/2^(n−1)}, reset by subtraction, membrane m(0) = 0. With the ReLU gate a negative spike
    /// θ_k is allowed only while the cumulative equivalent output C ≥ θ_k, so the output never goes below zero.
    /// The differential form transmits s[t] = t·(r[t] − r[t−1]) and adds r_in − r_out to the membrane every step;
    /// the rate form integrates its input directly.
    /// </summary>
    public sealed class MultiThresholdNeuronLayer : SpikingNeuronLayer
    {
        /// <summary>Most thresholds per neuron.</summary>
        public const int MaxLevels = 24;

        /// <summary>Creates a multi-threshold neuron layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Op type of the activation it replaces.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="threshold">Base θ (the largest threshold): one value, one per channel or one per neuron; each ≥ 0.</param>
        /// <param name="levels">n, the number of thresholds θ/2^k, k = 0..n−1.</param>
        /// <param name="gated">True for the ReLU gate on negative spikes (neurons that replace a ReLU).</param>
        /// <param name="rule">Which threshold fires.</param>
        /// <param name="differential">True for the differential neuron (§2.5), false for the rate form (§2.4).</param>
        /// <param name="bias">
        /// Differential form only: the input's value at step 0 (the affine constant reaching the neuron, from the
        /// step-0 probe; §2.3), one value per neuron, or null for zero.
        /// </param>
        public MultiThresholdNeuronLayer(string name, string sourceOpType, string input, string output, float[] threshold, int levels,
            bool gated, FiringRule rule, bool differential, float[]? bias)
            : base(name, sourceOpType, input, output, threshold)
        {
            if (levels < 1 || levels > MaxLevels)
            {
                throw new ArgumentOutOfRangeException(nameof(levels), levels, $"A multi-threshold neuron has 1 to {MaxLevels} thresholds.");
            }
            if (threshold.Any(t => !(t >= 0) || float.IsInfinity(t)))
            {
                throw new ArgumentOutOfRangeException(nameof(threshold), "Every θ must be finite and ≥ 0.");
            }
            if (rule != FiringRule.Midpoint && rule != FiringRule.Nearest)
            {
                throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown firing rule.");
            }
            if (bias != null && !differential)
            {
                throw new ArgumentException("Only the differential neuron has a step-0 bias.", nameof(bias));
            }
            Levels = levels;
            Gated = gated;
            Rule = rule;
            Differential = differential;
            Bias = bias;
        }

        /// <summary>n, the number of thresholds.</summary>
        public int Levels { get; }

        /// <summary>True when negative spikes are gated so that the output stays ≥ 0 (ReLU neurons).</summary>
        public bool Gated { get; }

        /// <summary>Which threshold fires.</summary>
        public FiringRule Rule { get; }

        /// <summary>True for the differential neuron, false for the rate form.</summary>
        public bool Differential { get; }

        /// <summary>The step-0 value of the input per neuron (differential form), or null for zero.</summary>
        public float[]? Bias { get; }

        /// <summary>The fraction of θ_k at which threshold k fires: 0.75, or 0.5 for the smallest one under <see cref="FiringRule.Nearest"/>.</summary>
        /// <param name="k">Threshold index, 0 = the largest.</param>
        public double FiringFraction(int k) => Rule == FiringRule.Nearest && k == Levels - 1 ? 0.5 : 0.75;

        /// <summary>Returns a copy with other thresholds and bias (the conversion fills them in after the step-0 probe).</summary>
        /// <param name="threshold">θ.</param>
        /// <param name="bias">Step-0 bias.</param>
        public MultiThresholdNeuronLayer With(float[] threshold, float[]? bias) =>
            new MultiThresholdNeuronLayer(Name, SourceOpType, Inputs[0], Output, threshold, Levels, Gated, Rule, Differential, bias);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new MultiThresholdNeuronLayer(Name, SourceOpType, inputs[0], output, Threshold, Levels, Gated, Rule, Differential, Bias);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            int[] shape = base.InferShape(inputShapes);
            DifferentialLayerChecks.CheckBias(this, Bias, shape);
            return shape;
        }
    }

    /// <summary>
    /// Differential graded unit (DGU, algorithms.md §2.6–2.7) for a stateless non-linear function f of one or more
    /// tensors: it tracks every input rate r_i[t] = bias_i + Σ d_i[j]/j and emits t·(f(r[t]) − f(r[t−1])) (f(r[0])
    /// taken as 0), so the decoded output is exactly f of the decoded inputs at every step. With one input it is the
    /// DGU of GELU, LayerNorm, Softmax or max-pooling whose kernel differs from its stride; with the product of two
    /// activations it is the product unit (r_out = r_A·r_B).
    /// </summary>
    public sealed class GradedUnitLayer : Layer
    {
        /// <summary>Creates a graded unit.</summary>
        /// <param name="function">The function f: a stateless layer; the unit reads its inputs and writes its output.</param>
        /// <param name="biases">Each input's value at step 0 per element (null for zero), one entry per input; or null for all zero.</param>
        public GradedUnitLayer(Layer function, IReadOnlyList<float[]?>? biases)
            : base(CheckFunction(function).Name, function.SourceOpType, function.Inputs, function.Output)
        {
            biases ??= new float[]?[function.Inputs.Count];
            if (biases.Count != function.Inputs.Count)
            {
                throw new ArgumentException($"A graded unit over '{function.Name}' needs one bias per input ({function.Inputs.Count}); got {biases.Count}.", nameof(biases));
            }
            Function = function;
            Biases = biases;
        }

        /// <summary>The function f.</summary>
        public Layer Function { get; }

        /// <summary>Each input's value at step 0 per element, or null for zero.</summary>
        public IReadOnlyList<float[]?> Biases { get; }

        /// <summary>Returns a copy with other biases.</summary>
        /// <param name="biases">Step-0 biases, one per input.</param>
        public GradedUnitLayer WithBiases(IReadOnlyList<float[]?> biases) => new GradedUnitLayer(Function, biases);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) => new GradedUnitLayer(Function.Rewire(inputs, output), Biases);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, Function.Inputs.Count);
            for (int i = 0; i < inputShapes.Count; i++)
            {
                DifferentialLayerChecks.CheckBias(this, Biases[i], inputShapes[i]);
            }
            return Function.InferShape(inputShapes);
        }

        private static Layer CheckFunction(Layer function)
        {
            ArgumentNullException.ThrowIfNull(function, nameof(function));
            if (function.Inputs.Count < 1 || function is SpikingNeuronLayer or GradedUnitLayer or MaxPoolNeuronLayer)
            {
                throw new ArgumentException($"A graded unit wraps a stateless layer; '{function.Name}' is a {function.GetType().Name}.", nameof(function));
            }
            return function;
        }
    }

    /// <summary>
    /// Stateful max-pool neuron of DCGS (algorithms.md §2.8) for non-overlapping windows (kernel = stride, no
    /// padding): per input element v ← v + d + r_in, r_in ← r_in + d/t; O = max over the window of v; every element of
    /// the window loses O; it emits s = O − r_out and r_out ← r_out + s/t.
    /// </summary>
    public sealed class MaxPoolNeuronLayer : Layer
    {
        /// <summary>Creates a max-pool neuron layer.</summary>
        /// <param name="pool">The max-pooling it replaces: kernel equal to stride, no padding, floor mode.</param>
        /// <param name="bias">The input's value at step 0 per element, or null for zero.</param>
        public MaxPoolNeuronLayer(PoolLayer pool, float[]? bias)
            : base(CheckPool(pool).Name, pool.SourceOpType, pool.Inputs, pool.Output)
        {
            Pool = pool;
            Bias = bias;
        }

        /// <summary>The max-pooling it replaces.</summary>
        public PoolLayer Pool { get; }

        /// <summary>The input's value at step 0 per element, or null for zero.</summary>
        public float[]? Bias { get; }

        /// <summary>True when the neuron can replace <paramref name="pool"/>: max-pooling with kernel = stride and no padding.</summary>
        /// <param name="pool">A pooling layer.</param>
        public static bool Supports(PoolLayer pool)
        {
            ArgumentNullException.ThrowIfNull(pool, nameof(pool));
            return pool.Kind == PoolKind.Max && pool.Kernel.SequenceEqual(pool.Strides) && pool.Pads.All(p => p == 0) && !pool.CeilMode;
        }

        /// <summary>Returns a copy with another bias.</summary>
        /// <param name="bias">Step-0 bias.</param>
        public MaxPoolNeuronLayer WithBias(float[]? bias) => new MaxPoolNeuronLayer(Pool, bias);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) => new MaxPoolNeuronLayer((PoolLayer)Pool.Rewire(inputs, output), Bias);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            ExpectInputs(inputShapes, 1);
            DifferentialLayerChecks.CheckBias(this, Bias, inputShapes[0]);
            return Pool.InferShape(inputShapes);
        }

        private static PoolLayer CheckPool(PoolLayer pool)
        {
            ArgumentNullException.ThrowIfNull(pool, nameof(pool));
            if (!Supports(pool))
            {
                throw new ArgumentException($"The max-pool neuron needs max-pooling with kernel = stride, no padding and floor mode; '{pool.Name}' has kernel [{string.Join(",", pool.Kernel)}], strides [{string.Join(",", pool.Strides)}], pads [{string.Join(",", pool.Pads)}].", nameof(pool));
            }
            return pool;
        }
    }

    internal static class DifferentialLayerChecks
    {
        public static void CheckBias(Layer layer, float[]? bias, int[] inputShape)
        {
            if (bias != null && bias.Length != ShapeUtil.Size(inputShape))
            {
                throw new InvalidOperationException($"Layer '{layer.Name}' ({layer.SourceOpType}): the step-0 bias has {bias.Length} values but the input {ShapeUtil.Format(inputShape)} has {ShapeUtil.Size(inputShape)}.");
            }
        }
    }
}
