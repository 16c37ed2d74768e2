// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

// The calibration statistics as they were before the vectorized, segment-reading versions (commit 739e4c3): scalar
// loops, per-channel copies, one value at a time into the histogram. Kept verbatim (renamed, doc references flattened)
// as the reference the product classes must match bit for bit, except for one later, deliberate change of the
// definition: the moments' sums take sixteen accumulators instead of four (ScalarRunningMoments.AddBatch).
#pragma warning disable CS1591

using Microsoft.ML.Spiking.Calibration;
using System.Numerics.Tensors;
using System.Numerics;
using System;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>
    /// Streaming, bounded-memory estimate of percentiles, defined like <c>torch.quantile</c>'s default:
    /// linear interpolation at position q·(N−1) of the ascending sorted sample, with q = p/100.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Two structures are kept. The largest it values are kept exactly in a min-heap.
    /// Every value is also counted in a fixed-size histogram over [0, hi) for positive values and a mirrored one
    /// for negative values (hi a power of two per side that doubles, merging adjacent bins, when a larger
    /// magnitude arrives); exact zeros are counted on their own. Memory is O(capacity + bins) whatever the count.
    /// </para>
    /// <para>
    /// Accuracy: the ranks r = floor(q(N−1)) and r + 1 are read from the heap when N − r ≤ capacity, from the
    /// zero count, or as the exact minimum or maximum; such a result is exact (it). Otherwise a
    /// rank is read from the histogram, interpolating uniformly within its bin, and the absolute error is below
    /// one bin width hi/bins ≤ 2·max|x|/bins (hi is never below 2⁻⁴⁰), reported by it.
    /// The estimate is also clamped to [it, it].
    /// </para>
    /// <para>Not thread-safe: it must be called from one thread at a time.</para>
    /// </remarks>
    internal sealed class ScalarPercentileEstimator
    {
        /// <summary>Default number of largest values kept exactly.</summary>
        public const int DefaultCapacity = 4096;

        /// <summary>Default number of histogram bins per sign.</summary>
        public const int DefaultBinCount = 2048;

        private readonly double _percentile;
        private readonly int _capacity;
        private readonly MagnitudeHistogram _positive;
        private readonly MagnitudeHistogram _negative;
        private float[] _heap;
        private int _heapCount;
        private float[]? _sortedHeap;
        private long _count;
        private long _zeroCount;
        private float _max;
        private float _min;

        /// <summary>Creates an empty estimator.</summary>
        /// <param name="percentile">Default percentile p in (0, 100], used by it, it and it.</param>
        /// <param name="exactCapacity">Number of largest values kept exactly; at least 1.</param>
        /// <param name="binCount">Histogram bins per sign; a power of two of at least 2.</param>
        public ScalarPercentileEstimator(double percentile = 99.9, int exactCapacity = DefaultCapacity, int binCount = DefaultBinCount)
        {
            CheckPercentile(percentile, nameof(percentile));
            if (exactCapacity < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(exactCapacity), exactCapacity, "The capacity must be at least 1.");
            }

            _percentile = percentile;
            _capacity = exactCapacity;
            _positive = new MagnitudeHistogram(binCount);
            _negative = new MagnitudeHistogram(binCount);
            _heap = new float[Math.Min(exactCapacity, 256)];
            _heapCount = 0;
            _sortedHeap = null;
            _count = 0;
            _zeroCount = 0;
            _max = float.NaN;
            _min = float.NaN;
        }

        /// <summary>The default percentile p given at construction.</summary>
        public double Percentile => _percentile;

        /// <summary>Number of largest values kept exactly.</summary>
        public int ExactCapacity => _capacity;

        /// <summary>Number of values currently held in the exact heap; never more than it.</summary>
        public int HeapCount => _heapCount;

        /// <summary>Length of the heap's backing array; never more than it.</summary>
        internal int HeapStorageLength => _heap.Length;

        /// <summary>Total length of both histograms' bin arrays; never more than twice the bin count.</summary>
        internal int HistogramStorageLength => _positive.Counts.Length + _negative.Counts.Length;

        /// <summary>Number of values added.</summary>
        public long Count => _count;

        /// <summary>Exact largest value; NaN when none was added.</summary>
        public float Max => _max;

        /// <summary>Exact smallest value; NaN when none was added.</summary>
        public float Min => _min;

        /// <summary>Whether it for the default percentile is exact.</summary>
        public bool IsExact => GetErrorBound(_percentile) == 0;

        /// <summary>Bound on the absolute error of it for the default percentile; 0 when exact.</summary>
        public double ErrorBound => GetErrorBound(_percentile);

        /// <summary>Adds values.</summary>
        /// <param name="values">The values; an empty span is a no-op.</param>
        /// <exception cref="ArgumentException">A value is NaN or infinite; nothing is added then.</exception>
        public void Add(ReadOnlySpan<float> values)
        {
            if (values.IsEmpty)
            {
                return;
            }

            // Vectorized pre-pass: exact extremes, and validation before any state changes.
            ValidateFinite(values, nameof(values), out float batchMax, out float batchMin);

            if (batchMax >= 0)
            {
                // Zeros are binned (into bin 0) and taken out again after the loop, so the positive
                // histogram must exist whenever a non-negative value does.
                _positive.EnsureFits(Math.Max(batchMax, float.Epsilon));
            }

            if (batchMin < 0)
            {
                _negative.EnsureFits(-batchMin);
            }

            _max = _count == 0 ? batchMax : Math.Max(_max, batchMax);
            _min = _count == 0 ? batchMin : Math.Min(_min, batchMin);
            _count += values.Length;
            _sortedHeap = null;

            long[] positive = _positive.Counts;
            long[] negative = _negative.Counts;
            float positiveScale = _positive.Scale;
            float negativeScale = _negative.Scale;
            long zeros = 0;
            float threshold = HeapThreshold();
            for (int i = 0; i < values.Length; i++)
            {
                float x = values[i];

                // Hot path: no data-dependent branch for the mix of zeros and positives (ReLU outputs);
                // a zero lands in bin 0 and is counted, the bin is corrected below.
                if (x >= 0f)
                {
                    positive[(int)(x * positiveScale)]++;
                    zeros += x == 0f ? 1 : 0;
                }
                else
                {
                    negative[(int)(-x * negativeScale)]++;
                }

                if (x > threshold)
                {
                    Offer(x);
                    threshold = HeapThreshold();
                }
            }

            if (zeros != 0)
            {
                positive[0] -= zeros;
                _zeroCount += zeros;
            }
        }

        /// <summary>Estimates the default percentile given at construction.</summary>
        /// <returns>The estimate; see it and it.</returns>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetPercentile() => GetPercentile(_percentile);

        /// <summary>Estimates the p-th percentile; p = 100 gives it.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <returns>The estimate; its absolute error is at most it.</returns>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetPercentile(double p) => Evaluate(p, out _);

        /// <summary>Bound on the absolute error of it for p; 0 when exact.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetErrorBound(double p)
        {
            Evaluate(p, out double bound);
            return bound;
        }

        /// <summary>Whether it for p is exact.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public bool IsExactFor(double p) => GetErrorBound(p) == 0;

        /// <summary>Throws when a value is NaN or infinite; otherwise returns the extremes of a non-empty span.</summary>
        internal static void ValidateFinite(ReadOnlySpan<float> values, string paramName, out float max, out float min)
        {
            max = TensorPrimitives.Max(values);
            if (float.IsNaN(max))
            {
                throw new ArgumentException("The values contain NaN; calibration statistics need finite activations.", paramName);
            }

            min = TensorPrimitives.Min(values);
            if (float.IsInfinity(max) || float.IsInfinity(min))
            {
                throw new ArgumentException("The values contain an infinity; calibration statistics need finite activations.", paramName);
            }
        }

        internal static void CheckPercentile(double p, string paramName)
        {
            if (!(p > 0 && p <= 100))
            {
                throw new ArgumentOutOfRangeException(paramName, p, "The percentile must be in (0, 100].");
            }
        }

        private double Evaluate(double p, out double bound)
        {
            CheckPercentile(p, nameof(p));
            if (_count == 0)
            {
                throw new InvalidOperationException("No values were added; a percentile is undefined.");
            }

            bound = 0;
            if (p == 100)
            {
                return _max;
            }

            double position = p / 100.0 * (_count - 1);
            long low = Math.Min((long)Math.Floor(position), _count - 1);
            double fraction = position - low;
            double lowValue = ValueAtRank(low, ref bound);
            if (fraction == 0 || low == _count - 1)
            {
                return lowValue;
            }

            double highValue = ValueAtRank(low + 1, ref bound);
            return lowValue + (fraction * (highValue - lowValue));
        }

        private double ValueAtRank(long rank, ref double bound)
        {
            if (rank == _count - 1)
            {
                return _max;
            }

            if (rank == 0)
            {
                return _min;
            }

            long firstKept = _count - _heapCount;
            if (rank >= firstKept)
            {
                return SortedHeap()[rank - firstKept];
            }

            long negativeTotal = _count - _zeroCount - _positive.Total();
            double estimate;
            if (rank < negativeTotal)
            {
                // Ascending values are descending magnitudes.
                estimate = -_negative.EstimateMagnitude(negativeTotal - 1 - rank);
                bound = Math.Max(bound, _negative.BinWidth);
            }
            else if (rank < negativeTotal + _zeroCount)
            {
                return 0;
            }
            else
            {
                estimate = _positive.EstimateMagnitude(rank - negativeTotal - _zeroCount);
                bound = Math.Max(bound, _positive.BinWidth);
            }

            // The true value lies in [Min, Max]; clamping can only bring the estimate closer.
            return Math.Clamp(estimate, _min, _max);
        }

        private float HeapThreshold() => _heapCount == _capacity ? _heap[0] : float.NegativeInfinity;

        private float[] SortedHeap()
        {
            if (_sortedHeap == null)
            {
                _sortedHeap = _heap.AsSpan(0, _heapCount).ToArray();
                Array.Sort(_sortedHeap);
            }

            return _sortedHeap;
        }

        /// <summary>Puts x into the heap of largest values: pushes while not full, else replaces the minimum (x is larger).</summary>
        private void Offer(float x)
        {
            if (_heapCount < _capacity)
            {
                if (_heapCount == _heap.Length)
                {
                    Array.Resize(ref _heap, (int)Math.Min((long)_heap.Length * 2, _capacity));
                }

                int i = _heapCount++;
                while (i > 0)
                {
                    int parent = (i - 1) >> 1;
                    if (_heap[parent] <= x)
                    {
                        break;
                    }

                    _heap[i] = _heap[parent];
                    i = parent;
                }

                _heap[i] = x;
                return;
            }

            // Sift x down from the root.
            int n = _heapCount;
            int k = 0;
            while (true)
            {
                int child = (2 * k) + 1;
                if (child >= n)
                {
                    break;
                }

                if (child + 1 < n && _heap[child + 1] < _heap[child])
                {
                    child++;
                }

                if (_heap[child] >= x)
                {
                    break;
                }

                _heap[k] = _heap[child];
                k = child;
            }

            _heap[k] = x;
        }
    }

    /// <summary>
    /// Streaming mean and population variance, merged exactly across batches with the parallel
    /// algorithm of Chan, Golub and LeVeque. Accumulators are it.
    /// </summary>
    /// <remarks>
    /// Each batch's mean and variance are computed with a two-pass pass over the batch, then merged:
    /// with m = B/(N+B) and δ = mean_b − mean, mean ← (1−m)·mean + m·mean_b and
    /// var ← (1−m)·var + m·(var_b + (1−m)·δ²).
    /// Not thread-safe: all mutating calls must come from one thread at a time.
    /// </remarks>
    internal sealed class ScalarRunningMoments
    {
        private long _count;
        private double _mean;
        private double _variance;

        /// <summary>Creates an empty accumulator.</summary>
        public ScalarRunningMoments()
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

            // Sixteen independent accumulators per pass (four in the version this file was copied from): value i in accumulator i mod 16 while
            // whole groups of sixteen remain, then groups of four in accumulators 0-3, the rest in accumulator 0.
            int n = values.Length;
            var sums = new double[16];
            Accumulate(values, sums, v => v);
            double batchMean = Total(sums) / n;
            var d = new double[16];
            var q = new double[16];
            Accumulate(values, d, v => v - batchMean);
            Accumulate(values, q, v => (v - batchMean) * (v - batchMean));

            // Corrected two-pass formula: removes the rounding error left in batchMean.
            double deviations = Total(d);
            double batchVariance = (Total(q) - (deviations * deviations / n)) / n;
            if (batchVariance < 0)
            {
                batchVariance = 0;
            }

            Combine(values.Length, batchMean, batchVariance);
        }

        /// <summary>Merges the values seen by another accumulator into this one.</summary>
        /// <param name="other">The other accumulator; it is not changed.</param>
        public void Merge(ScalarRunningMoments other)
        {
            ArgumentNullException.ThrowIfNull(other, nameof(other));
            Combine(other._count, other._mean, other._variance);
        }

        private static void Accumulate(ReadOnlySpan<float> values, double[] sums, Func<double, double> term)
        {
            int i = 0;
            for (; i + 16 <= values.Length; i += 16)
            {
                for (int j = 0; j < 16; j++)
                {
                    sums[j] += term(values[i + j]);
                }
            }

            for (; i + 4 <= values.Length; i += 4)
            {
                for (int j = 0; j < 4; j++)
                {
                    sums[j] += term(values[i + j]);
                }
            }

            for (; i < values.Length; i++)
            {
                sums[0] += term(values[i]);
            }
        }

        private static double Total(double[] s)
        {
            var w = new double[4];
            for (int j = 0; j < 4; j++)
            {
                w[j] = (s[j] + s[4 + j]) + (s[8 + j] + s[12 + j]);
            }

            return ((w[0] + w[1]) + w[2]) + w[3];
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
