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
    /// The largest min(n, capacity) of n finite values seen, kept exactly, among at most 2·capacity candidates.
    /// </summary>
    /// <remarks>
    /// Candidates are appended; when the array is full a selection (<see cref="TopSelection"/>) keeps the largest
    /// capacity and raises the threshold to the smallest of them, so later values not above it are skipped. A caller that
    /// knows from a histogram that at least capacity values are above some floor also skips the values not above it, and
    /// drops the candidates not above it (<see cref="Prune"/>), which keeps the array short of a selection. A value is thus
    /// dropped only when capacity values at least as large are kept, and each candidate costs amortized O(1) (a heap takes
    /// O(log capacity)). Not thread-safe.
    /// </remarks>
    internal sealed class TopValues
    {
        /// <summary>For each 8-bit lane mask, the indices of its set lanes in order (then zeros): a permutation that packs the selected lanes first.</summary>
        internal static readonly Vector256<int>[] Compress = CompressTable();

        /// <summary>Per-thread scratch for <see cref="ValueAt"/>'s candidates above a floor.</summary>
        [ThreadStatic]
        private static float[]? s_selection;

        private readonly int _capacity;
        private float[] _values;
        private int _count;
        private float _threshold;
        private int _partitioned;

        /// <summary>Creates an empty set for the largest <paramref name="capacity"/> values (at least 1).</summary>
        public TopValues(int capacity)
        {
            _capacity = capacity;
            _values = new float[Math.Min(capacity, 256)];
            _threshold = float.NegativeInfinity;
        }

        /// <summary>Number of largest values known exactly: min(values offered, capacity).</summary>
        public int Count => Math.Min(_count, _capacity);

        /// <summary>Number of candidates held (at least <see cref="Count"/>; at most 2·capacity).</summary>
        public int CandidateCount => _count;

        /// <summary>Length of the candidates' array; never more than 2·capacity.</summary>
        public int StorageLength => _values.Length;

        /// <summary>
        /// Offers values: those above both the threshold and <paramref name="floor"/> become candidates, in order.
        /// </summary>
        /// <param name="values">Finite values.</param>
        /// <param name="floor">A value such that at least capacity values already counted are above it, or −∞.</param>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Offer(ReadOnlySpan<float> values, float floor)
        {
            _partitioned = 0;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                // The bar moves only when a selection raises the threshold (in Add). Four vectors are tested at once:
                // most hold no candidate.
                Vector256<float> bar = Vector256.Create(Math.Max(_threshold, floor));
                ref float first = ref MemoryMarshal.GetReference(values);
                int width = Vector256<float>.Count;
                for (; i <= values.Length - (4 * width); i += 4 * width)
                {
                    Vector256<float> x0 = Vector256.LoadUnsafe(ref first, (nuint)i);
                    Vector256<float> x1 = Vector256.LoadUnsafe(ref first, (nuint)(i + width));
                    Vector256<float> x2 = Vector256.LoadUnsafe(ref first, (nuint)(i + (2 * width)));
                    Vector256<float> x3 = Vector256.LoadUnsafe(ref first, (nuint)(i + (3 * width)));
                    Vector256<float> any = (Vector256.GreaterThan(x0, bar) | Vector256.GreaterThan(x1, bar)) | (Vector256.GreaterThan(x2, bar) | Vector256.GreaterThan(x3, bar));
                    if (any == Vector256<float>.Zero)
                    {
                        continue;
                    }

                    Take(x0, values, i, floor, ref bar);
                    Take(x1, values, i + width, floor, ref bar);
                    Take(x2, values, i + (2 * width), floor, ref bar);
                    Take(x3, values, i + (3 * width), floor, ref bar);
                }

                for (; i <= values.Length - width; i += width)
                {
                    Take(Vector256.LoadUnsafe(ref first, (nuint)i), values, i, floor, ref bar);
                }
            }

            for (; i < values.Length; i++)
            {
                float x = values[i];
                if (x > _threshold && x > floor)
                {
                    Add(x);
                }
            }
        }

        /// <summary>The lanes of <paramref name="x"/> (values i to i + 7) above the bar become candidates, in order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Take(Vector256<float> x, ReadOnlySpan<float> values, int i, float floor, ref Vector256<float> bar)
        {
            uint mask = Vector256.GreaterThan(x, bar).ExtractMostSignificantBits();
            if (mask == 0)
            {
                return;
            }

            if (Avx2.IsSupported && _values.Length - _count >= Vector256<float>.Count)
            {
                // Compress-store: the selected lanes, in order, to the end of the candidates (the rest of the eight slots is
                // overwritten later).
                Avx2.PermuteVar8x32(x, Compress[mask]).CopyTo(_values.AsSpan(_count));
                _count += BitOperations.PopCount(mask);
                return;
            }

            while (mask != 0)
            {
                Add(values[i + BitOperations.TrailingZeroCount(mask)]);
                mask &= mask - 1;
            }

            bar = Vector256.Create(Math.Max(_threshold, floor));
        }

        /// <summary>The value below which nothing can become a candidate any more (−∞ until the first selection).</summary>
        public float Threshold => _threshold;

        /// <summary>
        /// Drops the candidates not above <paramref name="floor"/>, keeping the others in order: a caller that knows at least
        /// capacity values are above the floor (or, at a floor of 0, that the values not above it are counted elsewhere)
        /// keeps the array short, so that offers rarely need a selection.
        /// </summary>
        /// <param name="floor">The floor, as for <see cref="Offer"/>.</param>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Prune(float floor)
        {
            if (!(floor > _threshold) || _count == 0)
            {
                // Every candidate is at least the threshold, so a floor not above it would drop at most values equal to it:
                // keeping them is harmless (pruning only saves work).
                return;
            }

            _partitioned = 0;
            _count = KeepAbove(_values, _count, floor, _values);
        }

        /// <summary>
        /// Copies the first <paramref name="count"/> values of <paramref name="source"/> that are above <paramref name="floor"/>,
        /// in order, to the start of <paramref name="destination"/> (at least as long as the source; it may be the source
        /// itself: the write position never passes the read position, and the eight slots a compress-store writes past the
        /// kept lanes are either read already or overwritten later).
        /// </summary>
        /// <returns>The number of values copied.</returns>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int KeepAbove(float[] source, int count, float floor, float[] destination)
        {
            int kept = 0;
            int i = 0;
            if (Avx2.IsSupported)
            {
                Vector256<float> bar = Vector256.Create(floor);
                for (; i <= count - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    Vector256<float> x = Vector256.Create((ReadOnlySpan<float>)source.AsSpan(i, Vector256<float>.Count));
                    uint mask = Vector256.GreaterThan(x, bar).ExtractMostSignificantBits();
                    Avx2.PermuteVar8x32(x, Compress[mask]).CopyTo(destination.AsSpan(kept));
                    kept += BitOperations.PopCount(mask);
                }
            }

            for (; i < count; i++)
            {
                if (source[i] > floor)
                {
                    destination[kept++] = source[i];
                }
            }

            return kept;
        }

        /// <summary>
        /// The value at 0-based <paramref name="index"/> in ascending order among the largest <see cref="Count"/> values,
        /// found by one selection among the candidates (expected O(capacity), no sort), which reorders them (changing
        /// no result); a call for the next index right after one for this index only takes a minimum.
        /// </summary>
        /// <param name="index">In [0, <see cref="Count"/>).</param>
        /// <param name="floor">
        /// A value with at least Count − index values (among all values seen) above it, or −∞: the selection then runs only
        /// among the candidates above it, copied aside (the wanted value is one of them; the candidates are not changed).
        /// </param>
        public float ValueAt(int index, float floor = float.NegativeInfinity)
        {
            // The (Count − index)-th largest of the top Count is the same among all candidates.
            int rank = Count - index;
            if (floor > float.NegativeInfinity)
            {
                float[] above = s_selection is { } scratch && scratch.Length >= _values.Length ? scratch : (s_selection = new float[_values.Length]);
                int kept = KeepAbove(_values, _count, floor, above);
                if (kept >= rank)
                {
                    _partitioned = 0;
                    return TopSelection.KeepLargest(above.AsSpan(0, kept), rank);
                }
            }

            if (_partitioned == rank + 1)
            {
                // The previous call left the rank + 1 largest first, its value last among them: the rank-th largest
                // is the smallest of the others.
                _partitioned = 0;
                return TensorPrimitives.Min(_values.AsSpan(0, rank));
            }

            _partitioned = rank;
            return TopSelection.KeepLargest(_values.AsSpan(0, _count), rank);
        }

        private static Vector256<int>[] CompressTable()
        {
            var table = new Vector256<int>[256];
            Span<int> lanes = stackalloc int[Vector256<int>.Count];
            for (int mask = 0; mask < table.Length; mask++)
            {
                lanes.Clear();
                int n = 0;
                for (int j = 0; j < lanes.Length; j++)
                {
                    if ((mask & (1 << j)) != 0)
                    {
                        lanes[n++] = j;
                    }
                }

                table[mask] = Vector256.Create((ReadOnlySpan<int>)lanes);
            }

            return table;
        }

        private void Add(float x)
        {
            if (_count == _values.Length)
            {
                long limit = Math.Min(2L * _capacity, Array.MaxLength);
                if (_values.Length < limit)
                {
                    Array.Resize(ref _values, (int)Math.Min(2L * _values.Length, limit));
                }
                else if (limit > _capacity)
                {
                    _threshold = TopSelection.KeepLargest(_values.AsSpan(0, _count), _capacity);
                    _count = _capacity;
                    if (!(x > _threshold))
                    {
                        return;
                    }
                }
                else
                {
                    throw new InvalidOperationException($"More than {limit} values; an exact capacity of {_capacity} cannot be kept.");
                }
            }

            _values[_count++] = x;
        }
    }
}
