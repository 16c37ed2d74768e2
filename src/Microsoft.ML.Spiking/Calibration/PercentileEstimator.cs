// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
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
    /// <para>
    /// Upper tail only: given a lowest percentile q₀ that will be asked (<see cref="LowestPercentile"/> above 0), the
    /// histogram stops counting below a cut L once at least max(1.25·capacity, 2·(1 − q₀)·N) of the positive values counted
    /// so far are at or above a bin edge L; L only rises, and everything below it is merely counted. Each value then costs
    /// one compare instead of a histogram increment (percentile statistics took about half the time on ResNet-20). Every result above
    /// is unchanged while the ranks asked for stay at or above L: with the data in a stationary order (about a fraction
    /// 2(1 − q₀) of the values stays above L) that holds for every percentile of at least q₀. A rank below L is
    /// estimated as the middle of [<see cref="Min"/>, L) and its bound is half that interval, so a percentile that falls
    /// there (one below q₀, or data whose order is far from stationary) is reported with its true, larger error bound.
    /// </para>
    /// <para>Not thread-safe: <see cref="Add"/> must be called from one thread at a time.</para>
    /// </remarks>
    internal sealed partial class PercentileEstimator
    {
        /// <summary>Default number of largest values kept exactly.</summary>
        public const int DefaultCapacity = 4096;

        /// <summary>
        /// Number of largest values the conversion estimator keeps exactly for percentile thresholds (with the upper-tail
        /// histogram): a percentile p is then exact while (1 − p/100)·N stays below it (at p = 99.9, N up to about a million
        /// values per channel) and within one bin beyond; four times fewer candidates than <see cref="DefaultCapacity"/>
        /// make the collection cheaper where the channels hold few values.
        /// </summary>
        public const int ThresholdCapacity = 1024;

        /// <summary>Default number of histogram bins per sign.</summary>
        public const int DefaultBinCount = 2048;

        [ThreadStatic]
        private static int[]? s_batchHistogram;

        [ThreadStatic]
        private static float[]? s_staged;

        private readonly double _percentile;
        private readonly double _lowestPercentile;
        private readonly int _capacity;
        private readonly MagnitudeHistogram _positive;
        private readonly MagnitudeHistogram _negative;
        private readonly TopValues _top;
        private long _count;
        private long _zeroCount;
        private float _max;
        private float _min;

        // The histogram's lower cut L (0: none): values below it are only counted (in _count, outside the positive bins).
        private float _cut;

        /// <summary>Creates an empty estimator.</summary>
        /// <param name="percentile">Default percentile p in (0, 100], used by <see cref="GetPercentile()"/>, <see cref="IsExact"/> and <see cref="ErrorBound"/>.</param>
        /// <param name="exactCapacity">Number of largest values kept exactly; at least 1.</param>
        /// <param name="binCount">Histogram bins per sign; a power of two of at least 2.</param>
        /// <param name="lowestPercentile">
        /// The lowest percentile q₀ that will be asked, in [0, <paramref name="percentile"/>]: above 0 the histogram keeps only
        /// the upper tail (see the remarks); 0 (default) keeps every value's bin, so that any percentile is within one bin.
        /// </param>
        public PercentileEstimator(double percentile = 99.9, int exactCapacity = DefaultCapacity, int binCount = DefaultBinCount, double lowestPercentile = 0)
        {
            CheckPercentile(percentile, nameof(percentile));
            if (exactCapacity < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(exactCapacity), exactCapacity, "The capacity must be at least 1.");
            }

            CheckLowestPercentile(lowestPercentile, percentile, nameof(lowestPercentile));
            _percentile = percentile;
            _lowestPercentile = lowestPercentile;
            _cut = 0f;
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

        /// <summary>The lowest percentile q₀ the histogram is kept for; 0 when it keeps every value's bin.</summary>
        public double LowestPercentile => _lowestPercentile;

        /// <summary>The histogram's lower cut L: values below it are only counted; 0 while every value's bin is kept.</summary>
        internal float Cut => _cut;

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
        /// <see cref="Add"/> on the concatenated values (with a lowest percentile, the same results: the cut may rise
        /// between segments).
        /// </summary>
        internal void AddValidated(ReadOnlySpan<float> data, int start, int stride, int length, int count, float batchMin, float batchMax)
        {
            if (length == 0 || count == 0)
            {
                return;
            }

            int k = 0;
            while (k < count)
            {
                // With a lowest percentile, a batch is taken a few segments at a time while the values counted so far are
                // few: until the cut can be set (about twice the values it needs above it), then in groups about as large
                // as the count (so that the cut keeps up: right after it is set, a large share of the values is above it).
                int group = count - k;
                if (_lowestPercentile > 0)
                {
                    long wanted = _cut == 0f ? 2 * CutMargin() : Math.Max(_count, CutMargin());
                    group = (int)Math.Clamp((wanted + length - 1) / length, 1, count - k);
                }

                if (_cut == 0f)
                {
                    AddCounted(data, start + (k * stride), stride, length, group, batchMin, batchMax);
                    RaiseCut();
                }
                else
                {
                    int total = group * length;
                    float[]? staged = s_staged;
                    if (staged == null || staged.Length < total + Vector256<float>.Count)
                    {
                        staged = new float[total + Vector256<float>.Count];
                        s_staged = staged;
                    }

                    SegmentScan.ScanStaging(data, start + (k * stride), stride, length, group, _cut, staged, out int n, out _, out _);
                    AddStaged(staged.AsSpan(0, n), total, batchMin, batchMax);
                }

                k += group;
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

        internal static void CheckLowestPercentile(double lowest, double percentile, string paramName)
        {
            if (!(lowest >= 0 && lowest <= percentile))
            {
                throw new ArgumentOutOfRangeException(paramName, lowest, $"The lowest percentile must be in [0, {percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}] (the default percentile); 0 keeps the whole histogram.");
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

            if (_cut > 0f)
            {
                // Ascending: every value below the cut (only counted), then the binned ones at or above it.
                long below = _count - _positive.Total();
                if (rank < below)
                {
                    bound = Math.Max(bound, ((double)_cut - _min) / 2);
                    return ((double)_min + _cut) / 2;
                }

                bound = Math.Max(bound, _positive.BinWidth);
                return Math.Clamp(_positive.EstimateMagnitude(rank - below), _cut, _max);
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

        /// <summary>
        /// A value such that at least capacity values counted so far are above it, from the positive histogram, for the
        /// whole-histogram counting (before any cut). With the bin b where the count from the top reaches the capacity, it
        /// is <see cref="EdgeBelow"/>(b). With fewer positive values than the capacity it is 0 when the zeros make up the
        /// rest (a ReLU's output): every positive value is then kept, and the ranks below them are zeros, which the zero
        /// count answers exactly; otherwise −∞.
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
            positives = 0;
            int b = WalkDown(TopBin(), -1, count, ref positives);
            return b < 0 ? float.NegativeInfinity : EdgeBelow(b);
        }

        /// <summary>The largest float below the lower edge b/scale of positive bin <paramref name="bin"/> (exact: the scale is a power of two), or 0 for bin 0.</summary>
        private float EdgeBelow(int bin) => bin == 0 ? 0f : MathF.BitDecrement(bin / _positive.Scale);

        /// <summary>The positive bin of <see cref="Max"/>, the highest that can hold a value; −1 when no positive value was added.</summary>
        private int TopBin() => _max > 0 ? Math.Min((int)(_max * _positive.Scale), _positive.Counts.Length - 1) : -1;

        /// <summary>
        /// Adds the positive bins' counts to <paramref name="above"/> from bin <paramref name="from"/> down, stopping at the
        /// first bin above <paramref name="lowest"/> where it reaches <paramref name="target"/>; returns that bin, or −1.
        /// </summary>
        private int WalkDown(int from, int lowest, long target, ref long above)
        {
            long[] counts = _positive.Counts;
            for (int b = from; b > lowest; b--)
            {
                above += counts[b];
                if (above >= target)
                {
                    return b;
                }
            }

            return -1;
        }
    }
}
