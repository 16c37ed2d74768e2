// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Streaming mean and population variance, merged exactly across batches with the parallel
    /// algorithm of Chan, Golub and LeVeque. Accumulators are <see cref="double"/>.
    /// </summary>
    /// <remarks>
    /// Each batch's mean and variance are computed with a two-pass pass over the batch (four accumulators per pass,
    /// value i in accumulator i mod 4, vectorized one lane per accumulator so that the sums are bit for bit those of
    /// four scalar accumulators), then merged:
    /// with m = B/(N+B) and δ = mean_b − mean, mean ← (1−m)·mean + m·mean_b and
    /// var ← (1−m)·var + m·(var_b + (1−m)·δ²).
    /// Not thread-safe: all mutating calls must come from one thread at a time.
    /// </remarks>
    internal sealed class RunningMoments
    {
        /// <summary>Independent accumulators per pass (one double lane each).</summary>
        internal const int Lanes = 4;

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
            Sums sums = default;
            sums.Add(values);
            AddBatch(values, 0, values.Length, values.Length, 1, sums);
        }

        /// <summary>
        /// Adds the values of <paramref name="count"/> segments of <paramref name="length"/> values, segment k starting at
        /// <paramref name="start"/> + k·<paramref name="stride"/>, as one batch in that order, given their first-pass
        /// <paramref name="sums"/> (<see cref="Sums.Add(ReadOnlySpan{float})"/> over the same segments in the same order).
        /// The result is bit for bit that of <see cref="AddBatch(ReadOnlySpan{float})"/> on the concatenated values.
        /// </summary>
        /// <remarks>With more than one segment, <paramref name="length"/> must be a multiple of 4 (so that value i of the
        /// concatenation always lands in accumulator i mod 4, as in the one-span form).</remarks>
        internal void AddBatch(ReadOnlySpan<float> data, int start, int stride, int length, int count, in Sums sums)
        {
            Debug.Assert(count == 1 || length % Lanes == 0, "Segments must keep the accumulator of each value.");
            long n = (long)length * count;
            if (n == 0)
            {
                return;
            }

            double batchMean = sums.Total() / n;
            Sums deviations = default;
            Sums squares = default;
            for (int k = 0; k < count; k++)
            {
                AddDeviations(data.Slice(start + (k * stride), length), batchMean, ref deviations, ref squares);
            }

            // Corrected two-pass formula: removes the rounding error left in batchMean.
            double deviation = deviations.Total();
            double batchVariance = (squares.Total() - (deviation * deviation / n)) / n;
            if (batchVariance < 0)
            {
                batchVariance = 0;
            }

            Combine(n, batchMean, batchVariance);
        }

        /// <summary>Merges the values seen by another accumulator into this one.</summary>
        /// <param name="other">The other accumulator; it is not changed.</param>
        public void Merge(RunningMoments other)
        {
            ArgumentNullException.ThrowIfNull(other, nameof(other));
            Combine(other._count, other._mean, other._variance);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AddDeviations(ReadOnlySpan<float> values, double mean, ref Sums deviations, ref Sums squares)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> d = deviations.Vector;
                Vector256<double> q = squares.Vector;
                var m = Vector256.Create(mean);
                for (; i + (2 * Lanes) <= values.Length; i += 2 * Lanes)
                {
                    (Vector256<double> low, Vector256<double> high) = Vector256.Widen(Vector256.Create(values.Slice(i, 2 * Lanes)));
                    low -= m;
                    high -= m;
                    d += low;
                    q += low * low;
                    d += high;
                    q += high * high;
                }

                deviations.Vector = d;
                squares.Vector = q;
            }

            for (; i + (Lanes - 1) < values.Length; i += Lanes)
            {
                double a = values[i] - mean;
                double b = values[i + 1] - mean;
                double c = values[i + 2] - mean;
                double e = values[i + 3] - mean;
                deviations.AddLanes(a, b, c, e);
                squares.AddLanes(a * a, b * b, c * c, e * e);
            }

            for (; i < values.Length; i++)
            {
                double a = values[i] - mean;
                deviations.AddFirst(a);
                squares.AddFirst(a * a);
            }
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

        /// <summary>
        /// The four running sums of the first pass: value i of a stream goes to sum i mod 4 while whole groups of four
        /// remain, the last (length mod 4) values of a span to sum 0; the total is ((s0 + s1) + s2) + s3. Vectorized
        /// with one double lane per sum, which adds every value in the same order as four scalar accumulators.
        /// </summary>
        internal struct Sums
        {
            /// <summary>The four sums, one per lane.</summary>
            public Vector256<double> Vector;

            /// <summary>Adds the values of a span (then, in a stream of spans, every span but the last must have a length that is a multiple of 4).</summary>
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public void Add(ReadOnlySpan<float> values)
            {
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<double> s = Vector;
                    for (; i + (2 * Lanes) <= values.Length; i += 2 * Lanes)
                    {
                        (Vector256<double> low, Vector256<double> high) = Vector256.Widen(Vector256.Create(values.Slice(i, 2 * Lanes)));
                        s += low;
                        s += high;
                    }

                    Vector = s;
                }

                for (; i + (Lanes - 1) < values.Length; i += Lanes)
                {
                    AddLanes(values[i], values[i + 1], values[i + 2], values[i + 3]);
                }

                for (; i < values.Length; i++)
                {
                    AddFirst(values[i]);
                }
            }

            /// <summary>((s0 + s1) + s2) + s3.</summary>
            public readonly double Total() => ((Vector.GetElement(0) + Vector.GetElement(1)) + Vector.GetElement(2)) + Vector.GetElement(3);

            public void AddLanes(double a, double b, double c, double d) => Vector += Vector256.Create(a, b, c, d);

            public void AddFirst(double a) => Vector = Vector.WithElement(0, Vector.GetElement(0) + a);
        }
    }
}
