// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Streaming mean and population variance, merged exactly across batches with the parallel
    /// algorithm of Chan, Golub and LeVeque. Accumulators are <see cref="double"/>.
    /// </summary>
    /// <remarks>
    /// Each batch's mean and variance are computed with a two-pass pass over the batch, then merged:
    /// with m = B/(N+B) and δ = mean_b − mean, mean ← (1−m)·mean + m·mean_b and
    /// var ← (1−m)·var + m·(var_b + (1−m)·δ²).
    /// Not thread-safe: all mutating calls must come from one thread at a time.
    /// </remarks>
    internal sealed class RunningMoments
    {
        private long _count;
        private double _mean;
        private double _variance;

        /// <summary>Creates an empty accumulator.</summary>
        public RunningMoments()
        {
            _count = 0;
            _mean = 0;
            _variance = 0;
        }

        /// <summary>Number of values seen.</summary>
        public long Count => _count;

        /// <summary>Mean of the values seen; 0 when none.</summary>
        public double Mean => _mean;

        /// <summary>Population variance (divided by N) of the values seen; 0 when none.</summary>
        public double Variance => _variance;

        /// <summary>Adds a batch of values.</summary>
        /// <param name="values">The values; an empty span is a no-op.</param>
        public void AddBatch(ReadOnlySpan<float> values)
        {
            if (values.IsEmpty)
            {
                return;
            }

            double sum = 0;
            for (int i = 0; i < values.Length; i++)
            {
                sum += values[i];
            }

            double batchMean = sum / values.Length;
            double sumSquares = 0;
            double sumDeviations = 0;
            for (int i = 0; i < values.Length; i++)
            {
                double d = values[i] - batchMean;
                sumDeviations += d;
                sumSquares += d * d;
            }

            // Corrected two-pass formula: removes the rounding error left in batchMean.
            double batchVariance = (sumSquares - (sumDeviations * sumDeviations / values.Length)) / values.Length;
            if (batchVariance < 0)
            {
                batchVariance = 0;
            }

            Combine(values.Length, batchMean, batchVariance);
        }

        /// <summary>Merges the values seen by another accumulator into this one.</summary>
        /// <param name="other">The other accumulator; it is not changed.</param>
        public void Merge(RunningMoments other)
        {
            ArgumentNullException.ThrowIfNull(other, nameof(other));
            Combine(other._count, other._mean, other._variance);
        }

        private void Combine(long batchCount, double batchMean, double batchVariance)
        {
            if (batchCount == 0)
            {
                return;
            }

            if (_count == 0)
            {
                _count = batchCount;
                _mean = batchMean;
                _variance = batchVariance;
                return;
            }

            long total = _count + batchCount;
            double m = (double)batchCount / total;
            double delta = batchMean - _mean;
            _mean = ((1 - m) * _mean) + (m * batchMean);
            _variance = ((1 - m) * _variance) + (m * (batchVariance + ((1 - m) * delta * delta)));
            _count = total;
        }
    }
}
