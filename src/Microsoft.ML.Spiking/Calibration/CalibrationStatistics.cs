// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Which statistics calibration keeps for each activation site. The exact maximum and minimum are always kept; the
    /// others cost a pass over the activations each, so a conversion asks only for what its thresholds read.
    /// </summary>
    [Flags]
    public enum CalibrationStatistics
    {
        /// <summary>The exact maximum and minimum only (max thresholds).</summary>
        Extremes = 0,

        /// <summary>Also the exact mean and population variance (threshold iteration).</summary>
        Moments = 1,

        /// <summary>Also percentiles, at layer or channel granularity: the exact largest values and a bounded histogram (percentile thresholds).</summary>
        Percentiles = 2,

        /// <summary>Everything: extremes, moments and percentiles.</summary>
        All = Moments | Percentiles,
    }
}
