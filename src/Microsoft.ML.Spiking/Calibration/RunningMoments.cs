// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Streaming mean and population variance, merged exactly across batches with the parallel
    /// algorithm of Chan, Golub and LeVeque. Accumulators are <see cref="double"/>.
    /// </summary>
    /// <remarks>
    /// Each batch's mean and variance are computed with a two-pass pass over the batch (sixteen accumulators per pass,
    /// see <see cref="Sums"/>, vectorized one lane per accumulator so that the sums are bit for bit those of sixteen
    /// scalar accumulators, and no add waits for the one before it), then merged:
    /// with m = B/(N+B) and δ = mean_b − mean, mean ← (1−m)·mean + m·mean_b and
    /// var ← (1−m)·var + m·(var_b + (1−m)·δ²).
    /// Not thread-safe: all mutating calls must come from one thread at a time.
    /// </remarks>
    internal sealed class RunningMoments
    {
        /// <summary>Independent accumulators per pass (one double lane each).</summary>
        internal const int Lanes = 16;

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
        /// <remarks>With more than one segment, <paramref name="length"/> must be a multiple of <see cref="Lanes"/> (so that
        /// value i of the concatenation always lands in accumulator i mod 16, as in the one-span form).</remarks>
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

        /// <summary>The second pass over a span: the deviations from <paramref name="mean"/> and their squares, summed lane by lane as in <see cref="Sums.Add"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AddDeviations(ReadOnlySpan<float> values, double mean, ref Sums deviations, ref Sums squares)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> d0 = deviations.V0, d1 = deviations.V1, d2 = deviations.V2, d3 = deviations.V3;
                Vector256<double> q0 = squares.V0, q1 = squares.V1, q2 = squares.V2, q3 = squares.V3;
                var m = Vector256.Create(mean);
                ref float first = ref MemoryMarshal.GetReference(values);
                for (; i + Lanes <= values.Length; i += Lanes)
                {
                    (Vector256<double> a0, Vector256<double> a1) = Vector256.Widen(Vector256.LoadUnsafe(ref first, (nuint)i));
                    (Vector256<double> a2, Vector256<double> a3) = Vector256.Widen(Vector256.LoadUnsafe(ref first, (nuint)(i + 8)));
                    a0 -= m;
                    a1 -= m;
                    a2 -= m;
                    a3 -= m;
                    d0 += a0;
                    d1 += a1;
                    d2 += a2;
                    d3 += a3;
                    q0 += a0 * a0;
                    q1 += a1 * a1;
                    q2 += a2 * a2;
                    q3 += a3 * a3;
                }

                (deviations.V0, deviations.V1, deviations.V2, deviations.V3) = (d0, d1, d2, d3);
                (squares.V0, squares.V1, squares.V2, squares.V3) = (q0, q1, q2, q3);
            }
            else
            {
                for (; i + Lanes <= values.Length; i += Lanes)
                {
                    for (int j = 0; j < Lanes; j++)
                    {
                        double a = values[i + j] - mean;
                        deviations.AddLane(j, a);
                        squares.AddLane(j, a * a);
                    }
                }
            }

            for (; i + 3 < values.Length; i += 4)
            {
                double a = values[i] - mean;
                double b = values[i + 1] - mean;
                double c = values[i + 2] - mean;
                double e = values[i + 3] - mean;
                deviations.AddFirstFour(a, b, c, e);
                squares.AddFirstFour(a * a, b * b, c * c, e * e);
            }

            for (; i < values.Length; i++)
            {
                double a = values[i] - mean;
                deviations.AddLane(0, a);
                squares.AddLane(0, a * a);
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
        /// The sixteen running sums of a pass, s0 … s15: value i of a stream goes to s(i mod 16) while whole groups of sixteen
        /// remain; of the last (length mod 16) values of a span, whole groups of four go to s0 … s3 and the rest to s0.
        /// The total is ((w0 + w1) + w2) + w3 with wj = (sj + s(4+j)) + (s(8+j) + s(12+j)). Vectorized with one double lane
        /// per sum (four vectors of four), which adds every value in the same order as sixteen scalar accumulators.
        /// </summary>
        internal struct Sums
        {
            /// <summary>s0 … s3, one per lane.</summary>
            public Vector256<double> V0;

            /// <summary>s4 … s7.</summary>
            public Vector256<double> V1;

            /// <summary>s8 … s11.</summary>
            public Vector256<double> V2;

            /// <summary>s12 … s15.</summary>
            public Vector256<double> V3;

            /// <summary>Adds the values of a span (then, in a stream of spans, every span but the last must have a length that is a multiple of 16).</summary>
            [MethodImpl(MethodImplOptions.AggressiveOptimization)]
            public void Add(ReadOnlySpan<float> values)
            {
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<double> s0 = V0, s1 = V1, s2 = V2, s3 = V3;
                    ref float first = ref MemoryMarshal.GetReference(values);
                    for (; i + Lanes <= values.Length; i += Lanes)
                    {
                        (Vector256<double> a0, Vector256<double> a1) = Vector256.Widen(Vector256.LoadUnsafe(ref first, (nuint)i));
                        (Vector256<double> a2, Vector256<double> a3) = Vector256.Widen(Vector256.LoadUnsafe(ref first, (nuint)(i + 8)));
                        s0 += a0;
                        s1 += a1;
                        s2 += a2;
                        s3 += a3;
                    }

                    (V0, V1, V2, V3) = (s0, s1, s2, s3);
                }
                else
                {
                    for (; i + Lanes <= values.Length; i += Lanes)
                    {
                        for (int j = 0; j < Lanes; j++)
                        {
                            AddLane(j, values[i + j]);
                        }
                    }
                }

                AddRest(values.Slice(i));
            }

            /// <summary>Adds fewer than sixteen values ending a span: groups of four to s0 … s3, the rest to s0.</summary>
            public void AddRest(ReadOnlySpan<float> values)
            {
                int i = 0;
                for (; i + 3 < values.Length; i += 4)
                {
                    AddFirstFour(values[i], values[i + 1], values[i + 2], values[i + 3]);
                }

                for (; i < values.Length; i++)
                {
                    AddLane(0, values[i]);
                }
            }

            /// <summary>((w0 + w1) + w2) + w3 with wj = (sj + s(4+j)) + (s(8+j) + s(12+j)).</summary>
            public readonly double Total()
            {
                Vector256<double> w = (V0 + V1) + (V2 + V3);
                return ((w.GetElement(0) + w.GetElement(1)) + w.GetElement(2)) + w.GetElement(3);
            }

            /// <summary>Adds a, b, c, d to s0, s1, s2, s3.</summary>
            public void AddFirstFour(double a, double b, double c, double d) => V0 += Vector256.Create(a, b, c, d);

            /// <summary>Adds a to s(lane).</summary>
            public void AddLane(int lane, double a)
            {
                switch (lane >> 2)
                {
                    case 0:
                        V0 = V0.WithElement(lane & 3, V0.GetElement(lane & 3) + a);
                        break;
                    case 1:
                        V1 = V1.WithElement(lane & 3, V1.GetElement(lane & 3) + a);
                        break;
                    case 2:
                        V2 = V2.WithElement(lane & 3, V2.GetElement(lane & 3) + a);
                        break;
                    default:
                        V3 = V3.WithElement(lane & 3, V3.GetElement(lane & 3) + a);
                        break;
                }
            }
        }
    }
}
