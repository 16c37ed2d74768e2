// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>Counting values into the whole histogram, before any cut: batch bins in int copies, folded into the long bins.</summary>
    internal sealed partial class PercentileEstimator
    {
        /// <summary>Adds segments with every value binned (no cut yet): the histograms, the zero count and the candidates.</summary>
        private void AddCounted(ReadOnlySpan<float> data, int start, int stride, int length, int count, float batchMin, float batchMax)
        {
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
    }
}
