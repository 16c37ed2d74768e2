// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// How calibration statistics of one activation site are grouped.
    /// </summary>
    public enum StatisticsGranularity
    {
        /// <summary>One statistic over every value of the tensor (all channels pooled together).</summary>
        Layer = 0,

        /// <summary>One statistic per channel (axis 1 of an NCHW tensor, or the feature axis of a dense tensor).</summary>
        Channel = 1,

        /// <summary>
        /// One statistic per element of the per-sample tensor (per neuron). Only the mean, variance, maximum and
        /// minimum are kept; percentiles are available at layer or channel granularity only.
        /// </summary>
        Neuron = 2,
    }
}
