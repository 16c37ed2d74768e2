// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>The upper-tail histogram (a lowest percentile): the cut, and the values at or above it.</summary>
    internal sealed partial class PercentileEstimator
    {
        /// <summary>
        /// Adds a batch of <paramref name="total"/> validated values, with extremes <paramref name="batchMin"/> and
        /// <paramref name="batchMax"/>, of which <paramref name="staged"/> are, in order, exactly those at or above
        /// <see cref="Cut"/>, which must be set: they are binned and offered as candidates; the others are only counted.
        /// </summary>
        internal void AddStaged(ReadOnlySpan<float> staged, long total, float batchMin, float batchMax)
        {
            Debug.Assert(_cut > 0f, "The cut must be set.");
            if (total == 0)
            {
                return;
            }

            if (batchMax >= _cut)
            {
                _positive.EnsureFits(batchMax);
            }

            _max = Math.Max(_max, batchMax);
            _min = Math.Min(_min, batchMin);
            _count += total;
            long[] counts = _positive.Counts;
            float scale = _positive.Scale;
            foreach (float x in staged)
            {
                counts[(int)(x * scale)]++;
            }

            // One walk down the bins gives the candidates' floor (the bin where capacity values are reached, as in
            // FloorBelow) and then, going on, the new cut.
            long above = 0;
            int floorBin = WalkDown(TopBin(), -1, _capacity, ref above);
            float floor = floorBin < 0 ? float.NegativeInfinity : EdgeBelow(floorBin);
            if (_top.CandidateCount >= _capacity + (_capacity / 2))
            {
                _top.Prune(floor);
            }

            _top.Offer(staged, floor);
            if (floorBin >= 0)
            {
                // The cut needs more values above it than the floor: the walk goes on from the floor's bin.
                above -= counts[floorBin];
                RaiseCut(floorBin, ref above);
            }
        }

        /// <summary>
        /// The values a cut must keep above it: the capacity and a quarter (so that the candidates' floor lies above the cut),
        /// and twice the (1 − q₀)·N largest values that percentile q₀ reaches (so that it stays above the cut as N grows).
        /// </summary>
        private long CutMargin() =>
            Math.Max(_capacity + (_capacity / 4), 2 * (long)Math.Ceiling((1 - (_lowestPercentile / 100)) * _count));

        /// <summary>
        /// With a lowest percentile q₀, raises the cut to the highest bin edge with at least <see cref="CutMargin"/>
        /// counted values at or above it, when that is above the current cut; the bins below it are emptied (their values
        /// stay counted in N). From the first cut on, negative values are only counted too.
        /// </summary>
        private void RaiseCut()
        {
            if (_lowestPercentile > 0)
            {
                long above = 0;
                RaiseCut(TopBin(), ref above);
            }
        }

        /// <summary>
        /// <see cref="RaiseCut()"/> continuing a walk down the bins: <paramref name="above"/> values are counted above
        /// bin <paramref name="from"/>, which is the next to add.
        /// </summary>
        private void RaiseCut(int from, ref long above)
        {
            float scale = _positive.Scale;
            int b = WalkDown(from, (int)(_cut * scale), CutMargin(), ref above);
            if (b >= 0)
            {
                Array.Clear(_positive.Counts, 0, b);
                if (_cut == 0f)
                {
                    Array.Clear(_negative.Counts);
                }

                // Exact: the scale is a power of two; and above the old cut, since b > old cut · scale.
                _cut = b / scale;
            }
        }
    }
}
