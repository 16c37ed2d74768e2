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
            var low = Vector256.Create(float.PositiveInfinity);
            var high = Vector256.Create(float.NegativeInfinity);
            Vector256<float> low2 = low;
            Vector256<float> high2 = high;
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
                        Vector256<float> x = Vector256.Create(segment.Slice(i, Vector256<float>.Count));
                        Vector256<float> y = Vector256.Create(segment.Slice(i + Vector256<float>.Count, Vector256<float>.Count));
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
            var low = Vector256.Create(float.PositiveInfinity);
            var high = Vector256.Create(float.NegativeInfinity);
            Vector256<float> low2 = low;
            Vector256<float> high2 = high;
            min = float.PositiveInfinity;
            max = float.NegativeInfinity;
            for (int k = 0; k < count; k++)
            {
                ReadOnlySpan<float> segment = data.Slice(start + (k * stride), length);
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    // IEEE 754:2019 minimum and maximum: NaN propagates, −0 < +0, as in TensorPrimitives. The sums take
                    // the same groups of sixteen as RunningMoments.Sums.Add, which continues after them.
                    Vector256<double> s0 = sums.V0, s1 = sums.V1, s2 = sums.V2, s3 = sums.V3;
                    ref float first = ref MemoryMarshal.GetReference(segment);
                    for (; i <= segment.Length - RunningMoments.Lanes; i += RunningMoments.Lanes)
                    {
                        Vector256<float> x = Vector256.LoadUnsafe(ref first, (nuint)i);
                        Vector256<float> y = Vector256.LoadUnsafe(ref first, (nuint)(i + Vector256<float>.Count));
                        low = Vector256.Min(low, x);
                        high = Vector256.Max(high, x);
                        low2 = Vector256.Min(low2, y);
                        high2 = Vector256.Max(high2, y);
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
            var low = Vector256.Create(float.PositiveInfinity);
            var high = Vector256.Create(float.NegativeInfinity);
            Vector256<float> low2 = low;
            Vector256<float> high2 = high;
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
                        low = Vector256.Min(low, x);
                        high = Vector256.Max(high, x);
                        low2 = Vector256.Min(low2, y);
                        high2 = Vector256.Max(high2, y);
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

        /// <summary>Folds the two vector accumulators of each kind into the scalar extremes of the segments' tails.</summary>
        /// <returns>Whether the extremes are finite (no NaN or infinity was seen).</returns>
        private static bool Finish(Vector256<float> low, Vector256<float> low2, Vector256<float> high, Vector256<float> high2, ref float min, ref float max)
        {
            low = Vector256.Min(low, low2);
            high = Vector256.Max(high, high2);
            for (int j = 0; j < Vector256<float>.Count; j++)
            {
                min = MathF.Min(min, low.GetElement(j));
                max = MathF.Max(max, high.GetElement(j));
            }

            return float.IsFinite(min) && float.IsFinite(max);
        }
    }
}
