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

            // Four independent accumulators per pass: more precise and faster than one chain.
            int n = values.Length;
            int i = 0;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (; i + 3 < n; i += 4)
            {
                s0 += values[i];
                s1 += values[i + 1];
                s2 += values[i + 2];
                s3 += values[i + 3];
            }

            for (; i < n; i++)
            {
                s0 += values[i];
            }

            double batchMean = (s0 + s1 + s2 + s3) / n;
            double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
            double q0 = 0, q1 = 0, q2 = 0, q3 = 0;
            for (i = 0; i + 3 < n; i += 4)
            {
                double a = values[i] - batchMean;
                double b = values[i + 1] - batchMean;
                double c = values[i + 2] - batchMean;
                double d = values[i + 3] - batchMean;
                d0 += a;
                d1 += b;
                d2 += c;
                d3 += d;
                q0 += a * a;
                q1 += b * b;
                q2 += c * c;
                q3 += d * d;
            }

            for (; i < n; i++)
            {
                double a = values[i] - batchMean;
                d0 += a;
                q0 += a * a;
            }

            // Corrected two-pass formula: removes the rounding error left in batchMean.
            double deviations = d0 + d1 + d2 + d3;
            double batchVariance = (q0 + q1 + q2 + q3 - (deviations * deviations / n)) / n;
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
