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
    /// Streaming calibration statistics of one activation tensor site, per layer, per channel or per neuron:
    /// exact maximum and minimum, exact mean and population variance, and (per layer or channel) a
    /// bounded-memory percentile estimate.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Data is NCHW-contiguous [batch, C, S], where S is the product of the per-sample dimensions after the
    /// channel axis. For a dense [batch, features] tensor use C = features and S = 1.
    /// </para>
    /// <para>
    /// Percentiles are defined like <c>torch.quantile</c>'s default (linear interpolation at q·(N−1) of the
    /// sorted values). The largest <c>exactCapacity</c> values of each statistic are kept exactly, so high
    /// percentiles are exact while N·(1 − q) stays below the capacity; otherwise they come from a histogram with
    /// an absolute error of at most one bin width (≤ 2·max|x| / 2048), reported by it.
    /// </para>
    /// <para>
    /// At it granularity there is one statistic per element (C·S of them),
    /// kept in flat arrays (24 bytes per element): mean and variance are merged exactly sample by sample, and
    /// there is no percentile estimator (it would need memory per element);
    /// it and it throw.
    /// </para>
    /// <para>
    /// Thread safety: not thread-safe. it is expected to be called from one thread (the
    /// calibration loop); reading accessors concurrently with it is not supported.
    /// </para>
    /// </remarks>
    internal sealed class ScalarChannelStatistics
    {
        private readonly int _channels;
        private readonly int _spatialSize;
        private readonly StatisticsGranularity _granularity;
        private readonly double _percentile;
        private readonly ScalarPercentileEstimator[] _estimators;
        private readonly ScalarRunningMoments[] _moments;
        private readonly ScalarElementwiseStatistics? _elements;
        private float[] _scratch;
        private long _count;

        /// <summary>Creates empty statistics for one activation site.</summary>
        /// <param name="channels">Number of channels C; at least 1.</param>
        /// <param name="spatialSize">Number of values per channel and sample S; at least 1.</param>
        /// <param name="granularity">Whether to keep one statistic for the whole tensor, one per channel or one per element.</param>
        /// <param name="percentile">Default percentile p in (0, 100], used by it (not used per neuron).</param>
        /// <param name="exactCapacity">Number of largest values kept exactly per statistic; at least 1.</param>
        /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or C·S overflows.</exception>
        public ScalarChannelStatistics(
            int channels,
            int spatialSize,
            StatisticsGranularity granularity,
            double percentile = 99.9,
            int exactCapacity = ScalarPercentileEstimator.DefaultCapacity)
        {
            if (channels < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(channels), channels, "The channel count must be at least 1.");
            }

            if (spatialSize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(spatialSize), spatialSize, "The spatial size must be at least 1.");
            }

            if ((long)channels * spatialSize > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(spatialSize), spatialSize, "The per-sample size C·S is too large.");
            }

            if (granularity != StatisticsGranularity.Layer && granularity != StatisticsGranularity.Channel && granularity != StatisticsGranularity.Neuron)
            {
                throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "Unknown granularity.");
            }

            ScalarPercentileEstimator.CheckPercentile(percentile, nameof(percentile));
            if (exactCapacity < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(exactCapacity), exactCapacity, "The capacity must be at least 1.");
            }

            _channels = channels;
            _spatialSize = spatialSize;
            _granularity = granularity;
            _percentile = percentile;
            if (granularity == StatisticsGranularity.Neuron)
            {
                _elements = new ScalarElementwiseStatistics(channels * spatialSize);
                _estimators = Array.Empty<ScalarPercentileEstimator>();
                _moments = Array.Empty<ScalarRunningMoments>();
            }
            else
            {
                int groups = granularity == StatisticsGranularity.Channel ? channels : 1;
                _estimators = new ScalarPercentileEstimator[groups];
                _moments = new ScalarRunningMoments[groups];
                for (int g = 0; g < groups; g++)
                {
                    _estimators[g] = new ScalarPercentileEstimator(percentile, exactCapacity);
                    _moments[g] = new ScalarRunningMoments();
                }
            }

            _scratch = Array.Empty<float>();
            _count = 0;
        }

        /// <summary>Number of channels C.</summary>
        public int Channels => _channels;

        /// <summary>Number of values per channel and sample S.</summary>
        public int SpatialSize => _spatialSize;

        /// <summary>Whether statistics are per layer, per channel or per neuron.</summary>
        public StatisticsGranularity Granularity => _granularity;

        /// <summary>Default percentile given at construction.</summary>
        public double Percentile => _percentile;

        /// <summary>Number of statistics kept: 1 for it, C for it, C·S for it.</summary>
        public int StatisticCount => _elements?.Size ?? _estimators.Length;

        /// <summary>Number of samples (batch items) added.</summary>
        public long Count => _count;

        /// <summary>Number of values each statistic was computed over: samples·C·S per layer, samples·S per channel, samples per neuron.</summary>
        public long ValueCount => _elements?.Count ?? _estimators[0].Count;

        /// <summary>Adds a batch of activations.</summary>
        /// <param name="data">NCHW-contiguous activations [batchSize, C, S].</param>
        /// <param name="batchSize">Number of samples in <paramref name="data"/>; 0 is a no-op.</param>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is negative.</exception>
        /// <exception cref="ArgumentException">The length of <paramref name="data"/> is not batchSize·C·S, or a value is NaN or infinite (nothing is added then).</exception>
        public void AddBatch(ReadOnlySpan<float> data, int batchSize)
        {
            if (batchSize < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must not be negative.");
            }

            long expected = (long)batchSize * _channels * _spatialSize;
            if (data.Length != expected)
            {
                throw new ArgumentException($"Expected {expected} values ({batchSize}·{_channels}·{_spatialSize}) but got {data.Length}.", nameof(data));
            }

            if (batchSize == 0)
            {
                return;
            }

            if (_elements != null)
            {
                ScalarPercentileEstimator.ValidateFinite(data, nameof(data), out _, out _);
                _elements.AddBatch(data, batchSize);
            }
            else if (_granularity == StatisticsGranularity.Layer)
            {
                // The estimator validates (NaN, infinity) before changing anything.
                _estimators[0].Add(data);
                _moments[0].AddBatch(data);
            }
            else
            {
                // Validate the whole batch first, so a bad value leaves every channel unchanged.
                ScalarPercentileEstimator.ValidateFinite(data, nameof(data), out _, out _);

                int perChannel = batchSize * _spatialSize;
                if (_scratch.Length < perChannel)
                {
                    _scratch = new float[perChannel];
                }

                Span<float> scratch = _scratch.AsSpan(0, perChannel);
                int stride = _channels * _spatialSize;
                for (int c = 0; c < _channels; c++)
                {
                    ReadOnlySpan<float> values;
                    if (batchSize == 1)
                    {
                        values = data.Slice(c * _spatialSize, _spatialSize);
                    }
                    else
                    {
                        for (int n = 0; n < batchSize; n++)
                        {
                            data.Slice((n * stride) + (c * _spatialSize), _spatialSize).CopyTo(scratch.Slice(n * _spatialSize, _spatialSize));
                        }

                        values = scratch;
                    }

                    _estimators[c].Add(values);
                    _moments[c].AddBatch(values);
                }
            }

            _count += batchSize;
        }

        /// <summary>Exact maximum per statistic (length it: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetMax()
        {
            EnsureNotEmpty();
            return _elements?.GetMax() ?? Collect(e => e.Max);
        }

        /// <summary>Exact minimum per statistic (length it: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetMin()
        {
            EnsureNotEmpty();
            return _elements?.GetMin() ?? Collect(e => e.Min);
        }

        /// <summary>Estimate of the default percentile per statistic (length C, or 1 for layer granularity).</summary>
        /// <exception cref="InvalidOperationException">No batch was added, or the granularity is it.</exception>
        public float[] GetPercentile() => GetPercentile(_percentile);

        /// <summary>Estimate of the p-th percentile per statistic (length C, or 1 for layer granularity); p = 100 gives the maximum.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is not in (0, 100].</exception>
        /// <exception cref="InvalidOperationException">No batch was added, or the granularity is it.</exception>
        public float[] GetPercentile(double p)
        {
            ScalarPercentileEstimator.CheckPercentile(p, nameof(p));
            EnsurePercentiles();
            return Collect(e => (float)e.GetPercentile(p));
        }

        /// <summary>Bound on the absolute error of it per statistic; 0 where exact.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is not in (0, 100].</exception>
        /// <exception cref="InvalidOperationException">No batch was added, or the granularity is it.</exception>
        public double[] GetPercentileErrorBound(double p)
        {
            ScalarPercentileEstimator.CheckPercentile(p, nameof(p));
            EnsurePercentiles();
            EnsureNotEmpty();
            var result = new double[_estimators.Length];
            for (int g = 0; g < result.Length; g++)
            {
                result[g] = _estimators[g].GetErrorBound(p);
            }

            return result;
        }

        /// <summary>Exact mean per statistic (length it: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetMean()
        {
            EnsureNotEmpty();
            if (_elements != null)
            {
                return _elements.GetMean();
            }

            var result = new float[_moments.Length];
            for (int g = 0; g < result.Length; g++)
            {
                result[g] = (float)_moments[g].Mean;
            }

            return result;
        }

        /// <summary>Population variance (divided by N) per statistic (length it: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetVariance()
        {
            EnsureNotEmpty();
            if (_elements != null)
            {
                return _elements.GetVariance();
            }

            var result = new float[_moments.Length];
            for (int g = 0; g < result.Length; g++)
            {
                result[g] = (float)_moments[g].Variance;
            }

            return result;
        }

        internal ScalarPercentileEstimator GetEstimator(int statistic)
        {
            EnsurePercentiles();
            return _estimators[statistic];
        }

        private float[] Collect(Func<ScalarPercentileEstimator, float> selector)
        {
            EnsureNotEmpty();
            var result = new float[_estimators.Length];
            for (int g = 0; g < result.Length; g++)
            {
                result[g] = selector(_estimators[g]);
            }

            return result;
        }

        private void EnsurePercentiles()
        {
            if (_elements != null)
            {
                throw new InvalidOperationException("Percentiles are available at layer or channel granularity only; these statistics are per neuron (mean, variance, maximum and minimum).");
            }
        }

        private void EnsureNotEmpty()
        {
            if (_count == 0)
            {
                throw new InvalidOperationException("No batch was added; the statistics are undefined.");
            }
        }
    }

    /// <summary>
    /// Exact streaming statistics of every element of a per-sample tensor (neuron granularity): mean,
    /// population variance, maximum and minimum, kept in flat arrays (24 bytes per element).
    /// </summary>
    /// <remarks>
    /// Each sample is merged with Welford's update, which is the exact pooled-moments merge of
    /// it (algorithms.md §2.10, "var") for a batch of one: with n samples seen and
    /// δ = x − mean, mean ← mean + δ/n and M2 ← M2 + δ·(x − mean), variance = M2/n. Double accumulators, one
    /// vectorised pass over the data, no allocation per batch. Not thread-safe.
    /// </remarks>
    internal sealed class ScalarElementwiseStatistics
    {
        private readonly double[] _mean;
        private readonly double[] _m2;
        private readonly float[] _max;
        private readonly float[] _min;
        private long _count;

        /// <summary>Creates empty statistics for <paramref name="size"/> elements.</summary>
        /// <param name="size">Number of elements per sample; at least 1.</param>
        public ScalarElementwiseStatistics(int size)
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
        /// <param name="data">batchSize·it finite values (the caller validates them).</param>
        /// <param name="batchSize">Number of samples.</param>
        public void AddBatch(ReadOnlySpan<float> data, int batchSize)
        {
            int size = _mean.Length;
            for (int n = 0; n < batchSize; n++)
            {
                ReadOnlySpan<float> row = data.Slice(n * size, size);
                _count++;
                Update(row, 1.0 / _count);
                TensorPrimitives.Max(row, _max, _max);
                TensorPrimitives.Min(row, _min, _min);
            }
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

        private void Update(ReadOnlySpan<float> row, double inverseCount)
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
                    Step(low, j, scale);
                    Step(high, j + doubles, scale);
                }
            }

            for (; j < row.Length; j++)
            {
                double x = row[j];
                double delta = x - _mean[j];
                _mean[j] += delta * inverseCount;
                _m2[j] += delta * (x - _mean[j]);
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
