// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// A fixed-size histogram of strictly positive magnitudes over [0, range), where range is a power of
    /// two that doubles (merging adjacent bins) whenever a larger magnitude must fit. Memory never grows.
    /// </summary>
    /// <remarks>
    /// The bin of a magnitude x is (int)(x · <see cref="Scale"/>); because the bin count and the range are
    /// powers of two, the scale is a power of two and the product is exact, so it is always below the bin count.
    /// Not thread-safe.
    /// </remarks>
    internal sealed class MagnitudeHistogram
    {
        /// <summary>Smallest range ever used, so that the scale stays a finite float.</summary>
        private const double MinRange = 1.0 / (1L << 40);

        private readonly int _binCount;
        private long[]? _counts;
        private double _range;
        private float _scale;

        /// <summary>Creates an empty histogram; no bin storage is allocated until a value must fit.</summary>
        /// <param name="binCount">Number of bins, a power of two of at least 2.</param>
        public MagnitudeHistogram(int binCount)
        {
            if (binCount < 2 || (binCount & (binCount - 1)) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(binCount), binCount, "The bin count must be a power of two of at least 2.");
            }

            _binCount = binCount;
            _counts = null;
            _range = 0;
            _scale = 0;
        }

        /// <summary>Number of bins.</summary>
        public int BinCount => _binCount;

        /// <summary>Upper end (exclusive) of the covered magnitudes; 0 before the first value.</summary>
        public double Range => _range;

        /// <summary>Width of one bin; 0 before the first value.</summary>
        public double BinWidth => _range / _binCount;

        /// <summary>Bin count divided by range: multiply a magnitude by this and truncate to get its bin.</summary>
        public float Scale => _scale;

        /// <summary>The bin counts, or an empty array before the first value; the caller increments them.</summary>
        public long[] Counts => _counts ?? Array.Empty<long>();

        /// <summary>Sum of all bin counts.</summary>
        public long Total()
        {
            long total = 0;
            if (_counts != null)
            {
                foreach (long c in _counts)
                {
                    total += c;
                }
            }

            return total;
        }

        /// <summary>
        /// Makes sure magnitudes up to <paramref name="maxMagnitude"/> fit, doubling the range (and merging
        /// adjacent bins) as often as needed. Afterwards <see cref="Counts"/> is allocated.
        /// </summary>
        /// <param name="maxMagnitude">A finite, strictly positive magnitude.</param>
        public void EnsureFits(float maxMagnitude)
        {
            Debug.Assert(maxMagnitude > 0 && float.IsFinite(maxMagnitude), "Magnitude must be finite and positive.");
            if (_counts != null && maxMagnitude < _range)
            {
                return;
            }

            // Smallest power of two strictly greater than maxMagnitude.
            double newRange = Math.Max(Math.ScaleB(1.0, Math.ILogB((double)maxMagnitude) + 1), MinRange);
            if (_counts == null)
            {
                _counts = new long[_binCount];
            }
            else
            {
                int doublings = Math.ILogB(newRange) - Math.ILogB(_range);
                Regroup(_counts, doublings);
            }

            _range = newRange;
            _scale = (float)(_binCount / newRange);
        }

        /// <summary>
        /// Finds the value of the magnitude with 0-based ascending rank <paramref name="rank"/>, interpolating
        /// uniformly within its bin. The absolute error is below <see cref="BinWidth"/>.
        /// </summary>
        /// <param name="rank">Rank among the magnitudes in this histogram, below <see cref="Total"/>.</param>
        public double EstimateMagnitude(long rank)
        {
            long[] counts = Counts;
            long before = 0;
            for (int bin = 0; bin < counts.Length; bin++)
            {
                long c = counts[bin];
                if (rank < before + c)
                {
                    double offset = (rank - before + 0.5) / c;
                    return (bin + offset) * BinWidth;
                }

                before += c;
            }

            throw new InvalidOperationException("Rank is beyond the histogram's total count.");
        }

        private static void Regroup(long[] counts, int doublings)
        {
            if (doublings <= 0)
            {
                return;
            }

            int n = counts.Length;
            if (doublings >= 31 || (1 << doublings) >= n)
            {
                long total = 0;
                foreach (long c in counts)
                {
                    total += c;
                }

                Array.Clear(counts);
                counts[0] = total;
                return;
            }

            int factor = 1 << doublings;
            int newUsed = n / factor;
            for (int i = 0; i < newUsed; i++)
            {
                long sum = 0;
                int start = i * factor;
                for (int j = 0; j < factor; j++)
                {
                    sum += counts[start + j];
                }

                counts[i] = sum;
            }

            Array.Clear(counts, newUsed, n - newUsed);
        }
    }
}
