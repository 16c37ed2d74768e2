// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

namespace Microsoft.ML.Spiking.Conversion
{
    /// <summary>How neuron thresholds are chosen from calibration statistics.</summary>
    public enum ThresholdMethod
    {
        /// <summary>The largest activation seen ("max norm", Diehl et al. 2015).</summary>
        Max,

        /// <summary>The p-th percentile of the activations (99.9 by default; Rueckauer et al. 2017's robust normalization).</summary>
        Percentile,

        /// <summary>
        /// Threshold iteration (DCGS, algorithms.md §2.11): θ minimises the expected quantization error of N uniform
        /// levels for a Gaussian fitted to the mean and variance of the ReLU's input. Differential coding only.
        /// </summary>
        Iteration,
    }
}
