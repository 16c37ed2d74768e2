// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Streaming, bounded-memory estimate of percentiles, defined like <c>torch.quantile</c>'s default:
    /// linear interpolation at position q·(N−1) of the ascending sorted sample, with q = p/100.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Two structures are kept. The largest <see cref="ExactCapacity"/> values are kept exactly, among at most twice as
    /// many candidates (a selection keeps the largest when the candidates' array is full).
    /// Every value is also counted in a fixed-size histogram over [0, hi) for positive values and a mirrored one
    /// for negative values (hi a power of two per side that doubles, merging adjacent bins, when a larger
    /// magnitude arrives); exact zeros are counted on their own. Memory is O(capacity + bins) whatever the count: at most 2·capacity floats and 2·bins longs.
    /// </para>
    /// <para>
    /// Accuracy: the ranks r = floor(q(N−1)) and r + 1 are read from the largest values when N − r ≤ capacity, from the
    /// zero count, or as the exact minimum or maximum; such a result is exact (<see cref="IsExact"/>). Otherwise a
    /// rank is read from the histogram, interpolating uniformly within its bin, and the absolute error is below
    /// one bin width hi/bins ≤ 2·max|x|/bins (hi is never below 2⁻⁴⁰), reported by <see cref="ErrorBound"/>.
    /// The estimate is also clamped to [<see cref="Min"/>, <see cref="Max"/>].
    /// </para>
    /// <para>Not thread-safe: <see cref="Add"/> must be called from one thread at a time.</para>
    /// </remarks>
    internal sealed class PercentileEstimator
    {
        /// <summary>Default number of largest values kept exactly.</summary>
        public const int DefaultCapacity = 4096;

        /// <summary>Default number of histogram bins per sign.</summary>
        public const int DefaultBinCount = 2048;

        [ThreadStatic]
        private static int[]? s_batchHistogram;

        private readonly double _percentile;
        private readonly int _capacity;
        private readonly MagnitudeHistogram _positive;
        private readonly MagnitudeHistogram _negative;
        private readonly TopValues _top;
        private long _count;
        private long _zeroCount;
        private float _max;
        private float _min;

        /// <summary>Creates an empty estimator.</summary>
        /// <param name="percentile">Default percentile p in (0, 100], used by <see cref="GetPercentile()"/>, <see cref="IsExact"/> and <see cref="ErrorBound"/>.</param>
        /// <param name="exactCapacity">Number of largest values kept exactly; at least 1.</param>
        /// <param name="binCount">Histogram bins per sign; a power of two of at least 2.</param>
        public PercentileEstimator(double percentile = 99.9, int exactCapacity = DefaultCapacity, int binCount = DefaultBinCount)
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
            _top = new TopValues(exactCapacity);
            _count = 0;
            _zeroCount = 0;
            _max = float.NaN;
            _min = float.NaN;
        }

        /// <summary>The default percentile p given at construction.</summary>
        public double Percentile => _percentile;

        /// <summary>Number of largest values kept exactly.</summary>
        public int ExactCapacity => _capacity;

        /// <summary>
        /// Number of largest values currently known exactly: min(<see cref="Count"/>, <see cref="ExactCapacity"/>). They are
        /// the kept values, and, when the positive values are fewer than the capacity and zeros make up the rest, the zeros
        /// (counted, not kept).
        /// </summary>
        public int HeapCount => (int)Math.Min(_count, _capacity);

        /// <summary>Length of the candidates' backing array; never more than twice <see cref="ExactCapacity"/>.</summary>
        internal int HeapStorageLength => _top.StorageLength;

        /// <summary>Total length of both histograms' bin arrays; never more than twice the bin count.</summary>
        internal int HistogramStorageLength => _positive.Counts.Length + _negative.Counts.Length;

        /// <summary>Number of values added.</summary>
        public long Count => _count;

        /// <summary>Exact largest value; NaN when none was added.</summary>
        public float Max => _max;

        /// <summary>Exact smallest value; NaN when none was added.</summary>
        public float Min => _min;

        /// <summary>Whether <see cref="GetPercentile()"/> for the default percentile is exact.</summary>
        public bool IsExact => GetErrorBound(_percentile) == 0;

        /// <summary>Bound on the absolute error of <see cref="GetPercentile()"/> for the default percentile; 0 when exact.</summary>
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
            AddValidated(values, 0, values.Length, values.Length, 1, batchMin, batchMax);
        }

        /// <summary>
        /// Adds the values of <paramref name="count"/> segments of <paramref name="length"/> values, segment k starting at
        /// <paramref name="start"/> + k·<paramref name="stride"/>, already checked to be finite, whose smallest and largest
        /// values are <paramref name="batchMin"/> and <paramref name="batchMax"/>. Same state afterwards as
        /// <see cref="Add"/> on the concatenated values.
        /// </summary>
        internal void AddValidated(ReadOnlySpan<float> data, int start, int stride, int length, int count, float batchMin, float batchMax)
        {
            if (length == 0 || count == 0)
            {
                return;
            }

            if (batchMax >= 0)
            {
                // Zeros have a slot of their own in the batch histogram, but the positive histogram must exist whenever a
                // non-negative value does.
                _positive.EnsureFits(Math.Max(batchMax, float.Epsilon));
            }

            if (batchMin < 0)
            {
                _negative.EnsureFits(-batchMin);
            }

            _max = _count == 0 ? batchMax : Math.Max(_max, batchMax);
            _min = _count == 0 ? batchMin : Math.Min(_min, batchMin);
            _count += (long)length * count;

            // The batch is counted in int bins on a per-thread scratch (four interleaved copies, so that runs of equal bins,
            // such as a ReLU's zeros, do not wait on one another), then added to the long bins: a value's bin is
            // (int)(|x| · scale) either way, so the counts are exactly those of counting one value at a time.
            int binCount = Math.Max(_positive.BinCount, _negative.BinCount);
            int copyStride = (2 * binCount) + 1;
            int[] scratch = BatchHistogram(4 * copyStride);
            Accumulate(data, start, stride, length, count, scratch, binCount, copyStride);

            int positiveBins = batchMax >= 0 ? (int)(batchMax * _positive.Scale) + 1 : 0;
            int negativeBins = batchMin < 0 ? (int)(-batchMin * _negative.Scale) + 1 : 0;
            Fold(scratch, 0, copyStride, _positive.Counts.AsSpan(0, positiveBins));
            Fold(scratch, binCount, copyStride, _negative.Counts.AsSpan(0, negativeBins));
            Span<long> zeros = stackalloc long[1];
            Fold(scratch, 2 * binCount, copyStride, zeros);
            _zeroCount += zeros[0];

            // The largest values, in a second pass: with this batch counted, only values above the floor the histogram
            // gives (and above the candidates' threshold) can be among them.
            // The candidates kept from earlier batches that the new floor excludes are dropped first: always at a floor of 0
            // (the kept values must then be exactly the positive ones, the zeros being counted), otherwise once the
            // candidates pass one and a half times the capacity, which keeps them short of a selection at little cost.
            float floor = CandidateFloor();
            if (floor == 0f || _top.CandidateCount >= _capacity + (_capacity / 2))
            {
                _top.Prune(floor);
            }
            for (int k = 0; k < count; k++)
            {
                _top.Offer(data.Slice(start + (k * stride), length), floor);
            }
        }

        /// <summary>Estimates the default percentile given at construction.</summary>
        /// <returns>The estimate; see <see cref="IsExact"/> and <see cref="ErrorBound"/>.</returns>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetPercentile() => GetPercentile(_percentile);

        /// <summary>Estimates the p-th percentile; p = 100 gives <see cref="Max"/>.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <returns>The estimate; its absolute error is at most <see cref="GetErrorBound(double)"/>.</returns>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetPercentile(double p) => Evaluate(p, out _);

        /// <summary>Bound on the absolute error of <see cref="GetPercentile(double)"/> for p; 0 when exact.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="InvalidOperationException">No value was added.</exception>
        public double GetErrorBound(double p)
        {
            Evaluate(p, out double bound);
            return bound;
        }

        /// <summary>Whether <see cref="GetPercentile(double)"/> for p is exact.</summary>
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

            long firstKept = _count - _top.Count;
            if (rank >= firstKept)
            {
                // Only the kept values above a floor with (count − rank) values over it can be the one wanted: the
                // selection runs among those.
                return _top.ValueAt((int)(rank - firstKept), FloorBelow(_count - rank, out _));
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

        /// <summary>The calling thread's batch histogram of at least <paramref name="length"/> int bins, all zero.</summary>
        private static int[] BatchHistogram(int length)
        {
            int[]? scratch = s_batchHistogram;
            if (scratch == null || scratch.Length < length)
            {
                scratch = new int[length];
                s_batchHistogram = scratch;
            }

            return scratch;
        }

        /// <summary>Adds the counts of bins [offset, offset + target.Length) of the four copies to <paramref name="target"/> and clears them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Fold(int[] scratch, int offset, int copyStride, Span<long> target)
        {
            int b = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Span<int> bins = scratch.AsSpan(offset);
                for (; b <= target.Length - Vector256<int>.Count; b += Vector256<int>.Count)
                {
                    // Per-copy counts are below 2³¹ and so is their sum for a batch (one span of ints), so int adds are exact.
                    Vector256<int> sum = Vector256.Create(bins.Slice(b, Vector256<int>.Count))
                        + Vector256.Create(bins.Slice(b + copyStride, Vector256<int>.Count))
                        + Vector256.Create(bins.Slice(b + (2 * copyStride), Vector256<int>.Count))
                        + Vector256.Create(bins.Slice(b + (3 * copyStride), Vector256<int>.Count));
                    bins.Slice(b, Vector256<int>.Count).Clear();
                    bins.Slice(b + copyStride, Vector256<int>.Count).Clear();
                    bins.Slice(b + (2 * copyStride), Vector256<int>.Count).Clear();
                    bins.Slice(b + (3 * copyStride), Vector256<int>.Count).Clear();
                    (Vector256<long> low, Vector256<long> high) = Vector256.Widen(sum);
                    Span<long> t = target.Slice(b, Vector256<int>.Count);
                    (Vector256.Create((ReadOnlySpan<long>)t.Slice(0, Vector256<long>.Count)) + low).CopyTo(t);
                    (Vector256.Create((ReadOnlySpan<long>)t.Slice(Vector256<long>.Count, Vector256<long>.Count)) + high).CopyTo(t.Slice(Vector256<long>.Count));
                }
            }

            for (; b < target.Length; b++)
            {
                int i = offset + b;
                long sum = (long)scratch[i] + scratch[i + copyStride] + scratch[i + (2 * copyStride)] + scratch[i + (3 * copyStride)];
                scratch[i] = 0;
                scratch[i + copyStride] = 0;
                scratch[i + (2 * copyStride)] = 0;
                scratch[i + (3 * copyStride)] = 0;
                target[b] += sum;
            }
        }

        /// <summary>
        /// Counts values into the batch histogram: bin (int)(x·scale) for x &gt; 0, binCount + (int)(−x·scale) for x &lt; 0,
        /// 2·binCount for zeros, in one of four copies (so that runs of equal bins do not wait on one another).
        /// </summary>
        /// <remarks>
        /// The zeros (half of a ReLU's output, and all of its dead units) are counted eight lanes at a time with a population
        /// count. The bins of the other values are packed into a staging buffer (compress-store) and counted from there, the
        /// k-th staged value in copy k mod 4: one increment per non-zero value, none per zero.
        /// </remarks>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Accumulate(ReadOnlySpan<float> data, int start, int stride, int length, int segments, int[] scratch, int binCount, int copyStride)
        {
            float positiveScale = _positive.Scale;
            float negativeScale = _negative.Scale;
            int zeroBin = 2 * binCount;
            const int StageLength = 512;
            Span<int> staged = stackalloc int[StageLength + Vector256<int>.Count];
            var positive = Vector256.Create(positiveScale);
            var negative = Vector256.Create(-negativeScale);
            var negativeOffset = Vector256.Create(binCount);
            int zeros = 0;
            int count = 0;

            // One staging buffer for every segment (a segment may be short: a channel's 64 values of one sample).
            for (int k = 0; k < segments; k++)
            {
                ReadOnlySpan<float> values = data.Slice(start + (k * stride), length);
                int i = 0;
                if (Avx2.IsSupported)
                {
                    ref float first = ref MemoryMarshal.GetReference(values);
                    for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                    {
                        Vector256<float> x = Vector256.LoadUnsafe(ref first, (nuint)i);
                        uint zero = Vector256.Equals(x, Vector256<float>.Zero).ExtractMostSignificantBits();
                        zeros += BitOperations.PopCount(zero);
                        if (zero == 0xFF)
                        {
                            continue;
                        }

                        // x·(−scale) is exactly (−x)·scale; the lanes not selected may hold any value.
                        Vector256<int> index = Vector256.ConditionalSelect(
                            Vector256.LessThan(x, Vector256<float>.Zero).AsInt32(),
                            Vector256.ConvertToInt32(x * negative) + negativeOffset,
                            Vector256.ConvertToInt32(x * positive));
                        uint kept = ~zero & 0xFF;
                        Avx2.PermuteVar8x32(index, TopValues.Compress[kept]).CopyTo(staged.Slice(count));
                        count += BitOperations.PopCount(kept);
                        if (count >= StageLength)
                        {
                            CountStaged(staged.Slice(0, count), scratch, copyStride);
                            count = 0;
                        }
                    }
                }

                for (; i < values.Length; i++)
                {
                    float x = values[i];
                    if (x > 0f)
                    {
                        scratch[(int)(x * positiveScale)]++;
                    }
                    else if (x < 0f)
                    {
                        scratch[binCount + (int)(-x * negativeScale)]++;
                    }
                    else
                    {
                        zeros++;
                    }
                }
            }

            CountStaged(staged.Slice(0, count), scratch, copyStride);
            scratch[zeroBin] += zeros;
        }

        /// <summary>Adds one to each staged bin, the k-th in copy k mod 4.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void CountStaged(ReadOnlySpan<int> staged, int[] scratch, int copyStride)
        {
            int k = 0;
            for (; k <= staged.Length - 4; k += 4)
            {
                scratch[staged[k]]++;
                scratch[staged[k + 1] + copyStride]++;
                scratch[staged[k + 2] + (2 * copyStride)]++;
                scratch[staged[k + 3] + (3 * copyStride)]++;
            }

            for (; k < staged.Length; k++)
            {
                scratch[staged[k]]++;
            }
        }

        /// <summary>
        /// A value such that at least capacity values counted so far are above it, from the positive histogram. With the bin
        /// b where the count from the top reaches the capacity, it is the largest float below b's lower edge b/scale (exact:
        /// the scale is a power of two), or 0 for b = 0. With fewer positive values than the capacity it is 0 when the
        /// zeros make up the rest (a ReLU's output): every positive value is then kept, and the ranks below them are zeros,
        /// which the zero count answers exactly; otherwise −∞.
        /// </summary>
        private float CandidateFloor()
        {
            float floor = FloorBelow(_capacity, out long positives);
            return floor == float.NegativeInfinity && positives + _zeroCount >= _capacity ? 0f : floor;
        }

        /// <summary>
        /// From the positive histogram, a value with at least <paramref name="count"/> values counted above it (see
        /// <see cref="CandidateFloor"/>), or −∞ when fewer positive values than that were counted.
        /// </summary>
        /// <param name="count">The number of values wanted above the floor.</param>
        /// <param name="positives">The number of positive values counted, when the result is −∞.</param>
        private float FloorBelow(long count, out long positives)
        {
            long[] counts = _positive.Counts;
            long above = 0;
            for (int b = _max > 0 ? Math.Min((int)(_max * _positive.Scale), counts.Length - 1) : -1; b >= 0; b--)
            {
                above += counts[b];
                if (above >= count)
                {
                    positives = above;
                    return b == 0 ? 0f : MathF.BitDecrement(b / _positive.Scale);
                }
            }

            positives = above;
            return float.NegativeInfinity;
        }
    }
}
