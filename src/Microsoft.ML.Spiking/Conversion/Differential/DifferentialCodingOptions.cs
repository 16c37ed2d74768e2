// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>The neuron that replaces a ReLU under differential coding.</summary>
    public enum DifferentialNeuron
    {
        /// <summary>Multi-threshold neuron (<c>MTH_diff</c>): n thresholds θ/2^k, one graded spike per step (default).</summary>
        MultiThreshold = 0,

        /// <summary>
        /// Single-threshold differential IF neuron (<c>IF_diff</c>): m(0) = θ/2, spike θ at m ≥ θ and −θ at m ≤ 0 (gated).
        /// Simulated as a one-threshold MT neuron with <see cref="FiringRule.Nearest"/>, which is the same neuron with
        /// its membrane shifted by θ/2. Threshold iteration uses N = T levels.
        /// </summary>
        IntegrateAndFire = 1,
    }

    /// <summary>Options of differential-coding conversion (DCGS, algorithms.md §2).</summary>
    public sealed class DifferentialCodingOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public DifferentialCodingOptions()
        {
            Thresholds = ThresholdMethod.Iteration;
            Percentile = 99.9;
            ThresholdLevels = 4;
            TimeSteps = 8;
            Neuron = DifferentialNeuron.MultiThreshold;
            Rule = FiringRule.Midpoint;
            IterationMode = ThresholdIterationMode.Converge;
            UseMaxPoolNeurons = true;
            ThresholdScale = DefaultThresholdScale;
            Execution = new ExecutionOptions();
        }

        /// <summary>
        /// The reference code's factor on transformer thresholds (<c>scale = 8</c>, hard-coded there); a third-party
        /// summary of the paper reports 4 with n = 8 (algorithms.md §2.9).
        /// </summary>
        public const float DefaultThresholdScale = 8f;

        /// <summary>
        /// Transformers: the base threshold θ of each identity neuron is this factor times the percentile (or max) of
        /// its input (default <see cref="DefaultThresholdScale"/>). Not used for ReLU neurons.
        /// </summary>
        public float ThresholdScale { get; set; }

        /// <summary>
        /// How base thresholds θ of ReLU neurons are chosen: <see cref="ThresholdMethod.Iteration"/> (default, the
        /// reference configuration for CNNs; needs pre-activation statistics), <see cref="ThresholdMethod.Percentile"/>
        /// or <see cref="ThresholdMethod.Max"/> of the ReLU output.
        /// </summary>
        public ThresholdMethod Thresholds { get; set; }

        /// <summary>p for <see cref="ThresholdMethod.Percentile"/> (99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>n, the thresholds per multi-threshold neuron (θ, θ/2, …, θ/2^(n−1)); default 4. Ignored for IF neurons (n = 1).</summary>
        public int ThresholdLevels { get; set; }

        /// <summary>T of the intended simulation: threshold iteration uses N = T·2^n levels (N = T for IF neurons). Default 8.</summary>
        public int TimeSteps { get; set; }

        /// <summary>N for threshold iteration when positive, instead of T·2^n.</summary>
        public int IterationLevels { get; set; }

        /// <summary>How the threshold iteration is solved: to convergence (default) or the reference code's 100 iterations from θ = 1.</summary>
        public ThresholdIterationMode IterationMode { get; set; }

        /// <summary>The neuron model.</summary>
        public DifferentialNeuron Neuron { get; set; }

        /// <summary>Which threshold a multi-threshold neuron fires (the reference code's 0.75 midpoints by default).</summary>
        public FiringRule Rule { get; set; }

        /// <summary>
        /// Use the stateful max-pool neuron (§2.8) where the kernel equals the stride (default true); other max-pools,
        /// and all when false, become graded units, exact on rates for any kernel and stride.
        /// </summary>
        public bool UseMaxPoolNeurons { get; set; }

        /// <summary>
        /// Test hook: also turn the non-linear layers that read only the image (normally computed once, exactly) into
        /// graded units, so a network without neurons exercises every graded unit and must reproduce the ANN at every step.
        /// </summary>
        internal bool GradedStaticPrefix { get; set; }

        /// <summary>Where ONNX Runtime runs the step-0 probe.</summary>
        public ExecutionOptions Execution { get; set; }
    }
}
