// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// The first pass of <see cref="ChannelStatistics"/> over a statistic's values, which also validates them: extremes, and
    /// the moments' first-pass sums when they are kept.
    /// </summary>
    internal static class SegmentScan
    {
        /// <summary>
        /// One pass over <paramref name="count"/> segments of <paramref name="length"/> values (segment k at
        /// <paramref name="start"/> + k·<paramref name="stride"/>): their extremes and, when <paramref name="withSums"/>,
        /// their first-pass sums.
        /// </summary>
        /// <returns>Whether every value is finite (the extremes and sums are meaningless otherwise).</returns>
        internal static bool Scan(ReadOnlySpan<float> data, int start, int stride, int length, int count, bool withSums, out float min, out float max, ref RunningMoments.Sums sums) =>
            withSums
                ? Scan(data, start, stride, length, count, out min, out max, ref sums)
                : ScanExtremes(data, start, stride, length, count, out min, out max);

        /// <summary>The extremes of <see cref="Scan(ReadOnlySpan{float}, int, int, int, int, bool, out float, out float, ref RunningMoments.Sums)"/> alone.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static bool ScanExtremes(ReadOnlySpan<float> data, int start, int stride, int length, int count, out float min, out float max)
        {
            // Two accumulators of each kind, so that the minimum and maximum chains do not wait on one another.
            Vector256<int> low = s_lowest, high = s_highest, low2 = low, high2 = high;
            min = float.PositiveInfinity;
            max = float.NegativeInfinity;
            for (int k = 0; k < count; k++)
            {
                ReadOnlySpan<float> segment = data.Slice(start + (k * stride), length);
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; i <= segment.Length - (2 * Vector256<float>.Count); i += 2 * Vector256<float>.Count)
                    {
                        Vector256<int> x = Ordered(Vector256.Create(segment.Slice(i, Vector256<float>.Count)));
                        Vector256<int> y = Ordered(Vector256.Create(segment.Slice(i + Vector256<float>.Count, Vector256<float>.Count)));
                        low = Vector256.Min(low, x);
                        high = Vector256.Max(high, x);
                        low2 = Vector256.Min(low2, y);
                        high2 = Vector256.Max(high2, y);
                    }
                }

                for (; i < segment.Length; i++)
                {
                    min = MathF.Min(min, segment[i]);
                    max = MathF.Max(max, segment[i]);
                }
            }

            return Finish(low, low2, high, high2, ref min, ref max);
        }

        /// <summary>The extremes and first-pass sums (see the overload with <c>withSums</c>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static bool Scan(ReadOnlySpan<float> data, int start, int stride, int length, int count, out float min, out float max, ref RunningMoments.Sums sums)
        {
            Vector256<int> low = s_lowest, high = s_highest, low2 = low, high2 = high;
            min = float.PositiveInfinity;
            max = float.NegativeInfinity;
            for (int k = 0; k < count; k++)
            {
                ReadOnlySpan<float> segment = data.Slice(start + (k * stride), length);
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    // The sums take the same groups of sixteen as RunningMoments.Sums.Add, which continues after them.
                    Vector256<double> s0 = sums.V0, s1 = sums.V1, s2 = sums.V2, s3 = sums.V3;
                    ref float first = ref MemoryMarshal.GetReference(segment);
                    for (; i <= segment.Length - RunningMoments.Lanes; i += RunningMoments.Lanes)
                    {
                        Vector256<float> x = Vector256.LoadUnsafe(ref first, (nuint)i);
                        Vector256<float> y = Vector256.LoadUnsafe(ref first, (nuint)(i + Vector256<float>.Count));
                        Vector256<int> ox = Ordered(x), oy = Ordered(y);
                        low = Vector256.Min(low, ox);
                        high = Vector256.Max(high, ox);
                        low2 = Vector256.Min(low2, oy);
                        high2 = Vector256.Max(high2, oy);
                        (Vector256<double> a0, Vector256<double> a1) = Vector256.Widen(x);
                        (Vector256<double> a2, Vector256<double> a3) = Vector256.Widen(y);
                        s0 += a0;
                        s1 += a1;
                        s2 += a2;
                        s3 += a3;
                    }

                    (sums.V0, sums.V1, sums.V2, sums.V3) = (s0, s1, s2, s3);
                }

                ReadOnlySpan<float> rest = segment.Slice(i);
                for (int j = 0; j < rest.Length; j++)
                {
                    min = MathF.Min(min, rest[j]);
                    max = MathF.Max(max, rest[j]);
                }

                sums.Add(rest);
            }

            return Finish(low, low2, high, high2, ref min, ref max);
        }

        /// <summary>
        /// The extremes of <see cref="Scan(ReadOnlySpan{float}, int, int, int, int, bool, out float, out float, ref RunningMoments.Sums)"/>,
        /// and in the same pass the values at or above <paramref name="cut"/>, in order, packed into <paramref name="staged"/>
        /// (which must have room for every value and eight more).
        /// </summary>
        /// <returns>Whether every value is finite (the extremes and the staged values are meaningless otherwise).</returns>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static bool ScanStaging(ReadOnlySpan<float> data, int start, int stride, int length, int count, float cut, Span<float> staged, out int stagedCount, out float min, out float max)
        {
            Vector256<int> low = s_lowest, high = s_highest, low2 = low, high2 = high;
            var bar = Vector256.Create(cut);
            min = float.PositiveInfinity;
            max = float.NegativeInfinity;
            int n = 0;
            for (int k = 0; k < count; k++)
            {
                ReadOnlySpan<float> segment = data.Slice(start + (k * stride), length);
                int i = 0;
                if (Avx2.IsSupported)
                {
                    ref float first = ref MemoryMarshal.GetReference(segment);
                    for (; i <= segment.Length - (2 * Vector256<float>.Count); i += 2 * Vector256<float>.Count)
                    {
                        Vector256<float> x = Vector256.LoadUnsafe(ref first, (nuint)i);
                        Vector256<float> y = Vector256.LoadUnsafe(ref first, (nuint)(i + Vector256<float>.Count));
                        Vector256<int> ox = Ordered(x), oy = Ordered(y);
                        low = Vector256.Min(low, ox);
                        high = Vector256.Max(high, ox);
                        low2 = Vector256.Min(low2, oy);
                        high2 = Vector256.Max(high2, oy);
                        if ((Vector256.GreaterThanOrEqual(x, bar) | Vector256.GreaterThanOrEqual(y, bar)) == Vector256<float>.Zero)
                        {
                            continue;
                        }

                        n = Stage(x, bar, staged, n);
                        n = Stage(y, bar, staged, n);
                    }
                }

                for (; i < segment.Length; i++)
                {
                    float x = segment[i];
                    min = MathF.Min(min, x);
                    max = MathF.Max(max, x);
                    if (x >= cut)
                    {
                        staged[n++] = x;
                    }
                }
            }

            stagedCount = n;
            return Finish(low, low2, high, high2, ref min, ref max);
        }

        /// <summary>Appends the lanes of <paramref name="x"/> at or above the bar to <paramref name="staged"/> at <paramref name="n"/> (compress-store: eight slots written); returns the new count.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int Stage(Vector256<float> x, Vector256<float> bar, Span<float> staged, int n)
        {
            uint mask = Vector256.GreaterThanOrEqual(x, bar).ExtractMostSignificantBits();
            if (mask == 0)
            {
                return n;
            }

            Avx2.PermuteVar8x32(x, TopValues.Compress[mask]).CopyTo(staged.Slice(n));
            return n + BitOperations.PopCount(mask);
        }

        /// <summary>
        /// The float's bits as an integer whose signed order is the IEEE 754:2019 order of the values: negative floats have
        /// their magnitude bits flipped, so −0 &lt; +0, ±∞ are the extremes of the finite values and NaNs lie beyond them.
        /// The mapping is its own inverse. (Integer minima and maxima of these are single instructions, where the
        /// IEEE-conforming float ones are not: the percentile's scan ran about a quarter faster.)
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Ordered(Vector256<float> x)
        {
            Vector256<int> bits = x.AsInt32();
            return bits ^ (Vector256.ShiftRightArithmetic(bits, 31) & Vector256.Create(int.MaxValue));
        }

        private static int Ordered(int bits) => bits ^ ((bits >> 31) & int.MaxValue);

        private static readonly Vector256<int> s_lowest = Vector256.Create(int.MaxValue);
        private static readonly Vector256<int> s_highest = Vector256.Create(int.MinValue);

        /// <summary>Folds the two vector accumulators of each kind into the scalar extremes of the segments' tails.</summary>
        /// <returns>Whether the extremes are finite (no NaN or infinity was seen).</returns>
        private static bool Finish(Vector256<int> low, Vector256<int> low2, Vector256<int> high, Vector256<int> high2, ref float min, ref float max)
        {
            low = Vector256.Min(low, low2);
            high = Vector256.Max(high, high2);
            int lowest = int.MaxValue, highest = int.MinValue;
            for (int j = 0; j < Vector256<int>.Count; j++)
            {
                lowest = Math.Min(lowest, low.GetElement(j));
                highest = Math.Max(highest, high.GetElement(j));
            }

            // With no vector seen, the accumulators keep their starting values (which map to NaNs): leave the tails'
            // extremes alone. Any value seen moves at least one of them.
            if (lowest != int.MaxValue || highest != int.MinValue)
            {
                min = MathF.Min(min, BitConverter.Int32BitsToSingle(Ordered(lowest)));
                max = MathF.Max(max, BitConverter.Int32BitsToSingle(Ordered(highest)));
            }

            return float.IsFinite(min) && float.IsFinite(max);
        }
    }
}
