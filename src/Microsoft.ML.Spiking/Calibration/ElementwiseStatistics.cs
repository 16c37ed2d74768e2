// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Exact streaming statistics of every element of a per-sample tensor (neuron granularity): mean,
    /// population variance, maximum and minimum, kept in flat arrays (24 bytes per element).
    /// </summary>
    /// <remarks>
    /// Each sample is merged with Welford's update, which is the exact pooled-moments merge of
    /// <see cref="RunningMoments"/> (algorithms.md §2.10, "var") for a batch of one: with n samples seen and
    /// δ = x − mean, mean ← mean + δ/n and M2 ← M2 + δ·(x − mean), variance = M2/n. Double accumulators, one
    /// vectorised pass over the data, no allocation per batch (for batches of up to 256 samples). The batch is walked in
    /// blocks of elements, each block across all samples of the batch, which changes no element's sequence of operations
    /// (so no result) but keeps the accumulators in cache. Not thread-safe.
    /// </remarks>
    internal sealed class ElementwiseStatistics
    {
        /// <summary>Elements updated together across a batch: 24 bytes of state each, 24 KiB in all.</summary>
        private const int BlockSize = 1024;

        private readonly double[] _mean;
        private readonly double[] _m2;
        private readonly float[] _max;
        private readonly float[] _min;
        private long _count;

        /// <summary>Creates empty statistics for <paramref name="size"/> elements.</summary>
        /// <param name="size">Number of elements per sample; at least 1.</param>
        public ElementwiseStatistics(int size)
        {
            if (size < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(size), size, "The element count must be at least 1.");
            }

            _mean = new double[size];
            _m2 = new double[size];
            _max = new float[size];
            _min = new float[size];
            _max.AsSpan().Fill(float.NegativeInfinity);
            _min.AsSpan().Fill(float.PositiveInfinity);
        }

        /// <summary>Number of elements per sample.</summary>
        public int Size => _mean.Length;

        /// <summary>Number of samples added.</summary>
        public long Count => _count;

        /// <summary>Adds <paramref name="batchSize"/> samples laid out one after another.</summary>
        /// <param name="data">batchSize·<see cref="Size"/> finite values (the caller validates them).</param>
        /// <param name="batchSize">Number of samples.</param>
        public void AddBatch(ReadOnlySpan<float> data, int batchSize)
        {
            int size = _mean.Length;
            if (batchSize <= 0)
            {
                return;
            }

            // Each element sees its samples in order with the same 1/n as one sample at a time would; blocks of
            // elements keep their accumulators in the L1 cache across the batch instead of streaming all of them per sample.
            Span<double> inverseCounts = batchSize <= 256 ? stackalloc double[batchSize] : new double[batchSize];
            for (int n = 0; n < batchSize; n++)
            {
                inverseCounts[n] = 1.0 / (_count + n + 1);
            }

            for (int start = 0; start < size; start += BlockSize)
            {
                int length = Math.Min(BlockSize, size - start);
                Span<float> max = _max.AsSpan(start, length);
                Span<float> min = _min.AsSpan(start, length);
                for (int n = 0; n < batchSize; n++)
                {
                    ReadOnlySpan<float> row = data.Slice((n * size) + start, length);
                    Update(row, start, inverseCounts[n]);
                    TensorPrimitives.Max(row, max, max);
                    TensorPrimitives.Min(row, min, min);
                }
            }

            _count += batchSize;
        }

        /// <summary>Mean of each element.</summary>
        public float[] GetMean() => ToSingle(_mean, 1);

        /// <summary>Population variance of each element.</summary>
        public float[] GetVariance() => ToSingle(_m2, _count == 0 ? 0 : 1.0 / _count);

        /// <summary>Maximum of each element.</summary>
        public float[] GetMax() => (float[])_max.Clone();

        /// <summary>Minimum of each element.</summary>
        public float[] GetMin() => (float[])_min.Clone();

        private static float[] ToSingle(double[] values, double scale)
        {
            var result = new float[values.Length];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = (float)(values[i] * scale);
            }

            return result;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Update(ReadOnlySpan<float> row, int offset, double inverseCount)
        {
            int j = 0;
            int floats = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated && row.Length >= floats)
            {
                int doubles = Vector<double>.Count;
                var scale = new Vector<double>(inverseCount);
                for (; j <= row.Length - floats; j += floats)
                {
                    Vector.Widen(new Vector<float>(row.Slice(j)), out Vector<double> low, out Vector<double> high);
                    Step(low, offset + j, scale);
                    Step(high, offset + j + doubles, scale);
                }
            }

            for (; j < row.Length; j++)
            {
                double x = row[j];
                int k = offset + j;
                double delta = x - _mean[k];
                _mean[k] += delta * inverseCount;
                _m2[k] += delta * (x - _mean[k]);
            }
        }

        private void Step(Vector<double> x, int offset, Vector<double> inverseCount)
        {
            var mean = new Vector<double>(_mean, offset);
            Vector<double> delta = x - mean;
            mean += delta * inverseCount;
            (new Vector<double>(_m2, offset) + (delta * (x - mean))).CopyTo(_m2, offset);
            mean.CopyTo(_mean, offset);
        }
    }
}
