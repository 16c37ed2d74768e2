// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>Where a parallel neuron's N spikes sit in its block of T steps (algorithms.md §3.2).</summary>
    public enum SpikeOrder
    {
        /// <summary>The first N steps (the reference code: step i fires iff Σ I + ψ ≥ i·θ); the default.</summary>
        FirstSteps = 0,

        /// <summary>The last N steps (the paper's Λ_PC formulation, s_x = H(m_x − θ)).</summary>
        LastSteps = 1,
    }

    /// <summary>
    /// Parallel spiking neuron of "Faster and Stronger" (algorithms.md §3.2): over a block of T steps it integrates the
    /// whole input at once and emits N = clip(floor((Σ_t I[t] + ψ)/θ), 0, T) spikes of amplitude A, with
    /// ψ = θ/2 + T·ψ_DA. With A = θ = λ and ψ_DA = 0 it is the QCFS activation with L = T. Stateless between blocks.
    /// </summary>
    public sealed class ParallelNeuronLayer : SpikingNeuronLayer
    {
        /// <summary>Creates a parallel neuron layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Op type of the activation it replaces.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="threshold">θ, the pre-threshold: one value or one per channel; each finite and &gt; 0.</param>
        /// <param name="amplitude">A, the emitted value of a spike (post-amplitude, θ + φ_DA): as many values as θ, or null for θ.</param>
        /// <param name="stepShift">ψ_DA, the distribution-aware shift per step added to the input: as many values as θ, or null for 0.</param>
        /// <param name="order">Where the spikes sit in the block.</param>
        public ParallelNeuronLayer(string name, string sourceOpType, string input, string output, float[] threshold, float[]? amplitude, float[]? stepShift, SpikeOrder order)
            : base(name, sourceOpType, input, output, threshold)
        {
            if (threshold.Any(t => !(t > 0) || float.IsInfinity(t)))
            {
                throw new ArgumentOutOfRangeException(nameof(threshold), "Every θ must be finite and > 0.");
            }
            amplitude ??= (float[])threshold.Clone();
            stepShift ??= new float[threshold.Length];
            if (amplitude.Length != threshold.Length || stepShift.Length != threshold.Length)
            {
                throw new ArgumentException($"θ has {threshold.Length} values; the amplitude has {amplitude.Length} and the step shift {stepShift.Length}.", nameof(amplitude));
            }
            if (amplitude.Concat(stepShift).Any(v => !float.IsFinite(v)))
            {
                throw new ArgumentOutOfRangeException(nameof(amplitude), "The amplitude and the step shift must be finite.");
            }
            if (order != SpikeOrder.FirstSteps && order != SpikeOrder.LastSteps)
            {
                throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown spike order.");
            }
            Amplitude = amplitude;
            StepShift = stepShift;
            Order = order;
        }

        /// <summary>A, the emitted value of a spike (θ unless distribution-aware calibration moved it).</summary>
        public float[] Amplitude { get; }

        /// <summary>ψ_DA, the per-step input shift of distribution-aware calibration (0 otherwise); the total shift is θ/2 + T·ψ_DA.</summary>
        public float[] StepShift { get; }

        /// <summary>Where the spikes sit in the block.</summary>
        public SpikeOrder Order { get; }

        /// <summary>Returns a copy with distribution-aware corrections.</summary>
        /// <param name="amplitude">A = θ + φ_DA.</param>
        /// <param name="stepShift">ψ_DA.</param>
        public ParallelNeuronLayer WithCalibration(float[] amplitude, float[] stepShift) =>
            new ParallelNeuronLayer(Name, SourceOpType, Inputs[0], Output, Threshold, amplitude, stepShift, Order);

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new ParallelNeuronLayer(Name, SourceOpType, inputs[0], output, Threshold, Amplitude, StepShift, Order);

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
