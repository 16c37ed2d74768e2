// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Buffers;
using System.Linq;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>
    /// Streaming calibration statistics of one activation tensor site, per layer, per channel or per neuron:
    /// exact maximum and minimum, and, as asked (<see cref="CalibrationStatistics"/>), exact mean and population
    /// variance and (per layer or channel) a bounded-memory percentile estimate.
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
    /// an absolute error of at most one bin width (≤ 2·max|x| / 2048), reported by <see cref="GetPercentileErrorBound"/>.
    /// With a lowest percentile (<see cref="LowestPercentile"/>) the histogram keeps only the upper tail those percentiles
    /// need, which makes percentiles far cheaper to collect; lower ones then come with a larger bound, also reported.
    /// </para>
    /// <para>
    /// At <see cref="StatisticsGranularity.Neuron"/> granularity there is one statistic per element (C·S of them),
    /// kept in flat arrays (24 bytes per element): mean and variance are merged exactly sample by sample, and
    /// there is no percentile estimator (it would need memory per element);
    /// <see cref="GetPercentile(double)"/> and <see cref="GetPercentileErrorBound"/> throw.
    /// </para>
    /// <para>
    /// At layer or channel granularity each statistic kept costs its own pass over the values: the extremes one, the moments
    /// one more (the sums are taken with the extremes), percentiles two more (a histogram and the largest values), or, with
    /// a lowest percentile, none once each statistic's histogram cut is set (the pass that takes the extremes packs the few
    /// values above the cut aside). Keeping only what the thresholds read (<see cref="Statistics"/>,
    /// <see cref="LowestPercentile"/>) makes calibration several times cheaper.
    /// </para>
    /// <para>
    /// Thread safety: not thread-safe. <see cref="AddBatch"/> is expected to be called from one thread (the
    /// calibration loop); reading accessors concurrently with <see cref="AddBatch"/> is not supported.
    /// </para>
    /// </remarks>
    public sealed class ChannelStatistics
    {
        private readonly int _channels;
        private readonly int _spatialSize;
        private readonly StatisticsGranularity _granularity;
        private readonly double _percentile;
        private readonly double _lowestPercentile;
        private readonly PercentileEstimator[] _estimators;
        private readonly CalibrationStatistics _statistics;
        private readonly float[] _min;
        private readonly float[] _max;
        private readonly RunningMoments[] _moments;
        private readonly ElementwiseStatistics? _elements;
        private float[] _scratch;
        private float[] _staged;
        private int[] _channelStaged;
        private float[] _channelMin;
        private float[] _channelMax;
        private RunningMoments.Sums[] _channelSums;
        private long _count;

        /// <summary>Creates empty statistics for one activation site.</summary>
        /// <param name="channels">Number of channels C; at least 1.</param>
        /// <param name="spatialSize">Number of values per channel and sample S; at least 1.</param>
        /// <param name="granularity">Whether to keep one statistic for the whole tensor, one per channel or one per element.</param>
        /// <param name="percentile">Default percentile p in (0, 100], used by <see cref="GetPercentile()"/> (not used per neuron).</param>
        /// <param name="exactCapacity">Number of largest values kept exactly per statistic; at least 1.</param>
        /// <param name="statistics">
        /// The statistics to keep besides the extremes (default all). Per neuron the moments are always kept and percentiles
        /// never (see <see cref="Statistics"/>).
        /// </param>
        /// <param name="lowestPercentile">
        /// The lowest percentile that will be read, in [0, <paramref name="percentile"/>] (see
        /// <see cref="CalibrationOptions.LowestPercentile"/>); 0 (default) keeps the whole histogram.
        /// </param>
        /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or C·S overflows.</exception>
        public ChannelStatistics(
            int channels,
            int spatialSize,
            StatisticsGranularity granularity,
            double percentile = 99.9,
            int exactCapacity = PercentileEstimator.DefaultCapacity,
            CalibrationStatistics statistics = CalibrationStatistics.All,
            double lowestPercentile = 0)
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

            PercentileEstimator.CheckPercentile(percentile, nameof(percentile));
            PercentileEstimator.CheckLowestPercentile(lowestPercentile, percentile, nameof(lowestPercentile));
            if (exactCapacity < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(exactCapacity), exactCapacity, "The capacity must be at least 1.");
            }

            if ((statistics & ~CalibrationStatistics.All) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(statistics), statistics, "Unknown statistics; combine Extremes, Moments and Percentiles.");
            }

            _channels = channels;
            _spatialSize = spatialSize;
            _granularity = granularity;
            _percentile = percentile;
            _lowestPercentile = lowestPercentile;
            _min = Array.Empty<float>();
            _max = Array.Empty<float>();
            if (granularity == StatisticsGranularity.Neuron)
            {
                _statistics = CalibrationStatistics.Moments;
                _elements = new ElementwiseStatistics(channels * spatialSize);
                _estimators = Array.Empty<PercentileEstimator>();
                _moments = Array.Empty<RunningMoments>();
            }
            else
            {
                _statistics = statistics;
                int groups = granularity == StatisticsGranularity.Channel ? channels : 1;
                bool percentiles = (statistics & CalibrationStatistics.Percentiles) != 0;
                _estimators = percentiles ? new PercentileEstimator[groups] : Array.Empty<PercentileEstimator>();
                _moments = (statistics & CalibrationStatistics.Moments) != 0 ? new RunningMoments[groups] : Array.Empty<RunningMoments>();
                for (int g = 0; g < _estimators.Length; g++)
                {
                    _estimators[g] = new PercentileEstimator(percentile, exactCapacity, PercentileEstimator.DefaultBinCount, lowestPercentile);
                }

                for (int g = 0; g < _moments.Length; g++)
                {
                    _moments[g] = new RunningMoments();
                }

                if (!percentiles)
                {
                    // Without an estimator, which keeps them, the extremes are kept here.
                    _min = Enumerable.Repeat(float.PositiveInfinity, groups).ToArray();
                    _max = Enumerable.Repeat(float.NegativeInfinity, groups).ToArray();
                }
            }

            _scratch = Array.Empty<float>();
            _staged = Array.Empty<float>();
            _channelStaged = Array.Empty<int>();
            _channelMin = Array.Empty<float>();
            _channelMax = Array.Empty<float>();
            _channelSums = Array.Empty<RunningMoments.Sums>();
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

        /// <summary>The lowest percentile the histogram is kept for; 0 when it is kept whole (see <see cref="CalibrationOptions.LowestPercentile"/>).</summary>
        public double LowestPercentile => _lowestPercentile;

        /// <summary>Number of statistics kept: 1 for <see cref="StatisticsGranularity.Layer"/>, C for <see cref="StatisticsGranularity.Channel"/>, C·S for <see cref="StatisticsGranularity.Neuron"/>.</summary>
        public int StatisticCount => _elements?.Size ?? (_granularity == StatisticsGranularity.Channel ? _channels : 1);

        /// <summary>
        /// The statistics kept besides the extremes, which are always kept: the moments for <see cref="GetMean"/> and
        /// <see cref="GetVariance"/>, percentiles for <see cref="GetPercentile(double)"/>. Per neuron this is
        /// <see cref="CalibrationStatistics.Moments"/> whatever was asked.
        /// </summary>
        public CalibrationStatistics Statistics => _statistics;

        /// <summary>Number of samples (batch items) added.</summary>
        public long Count => _count;

        /// <summary>Number of values each statistic was computed over: samples·C·S per layer, samples·S per channel, samples per neuron.</summary>
        public long ValueCount => _elements?.Count ?? (_count * (_granularity == StatisticsGranularity.Channel ? 1L : _channels) * _spatialSize);

        /// <summary>
        /// Gives the batch-sized scratch arrays (a channel-gathered copy for the moments, the values above the histograms'
        /// cuts) back to the shared pool; a later <see cref="AddBatch"/> rents them again. The calibrator calls it when its
        /// pass ends, so that the next calibration reuses them instead of zeroing and faulting in fresh ones (for ResNet-20
        /// per channel, as large as the probes: 48 MB).
        /// </summary>
        internal void ReleaseBuffers()
        {
            GiveBack(ref _scratch);
            GiveBack(ref _staged);
        }

        /// <summary>Replaces a scratch array with one of at least <paramref name="length"/> floats from the pool.</summary>
        private static void Rent(ref float[] array, int length)
        {
            GiveBack(ref array);
            array = ArrayPool<float>.Shared.Rent(length);
        }

        /// <summary>Gives a rented scratch array back to the pool (none is held afterwards, so none is given back twice).</summary>
        private static void GiveBack(ref float[] array)
        {
            if (array.Length > 0)
            {
                ArrayPool<float>.Shared.Return(array);
                array = Array.Empty<float>();
            }
        }

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
                PercentileEstimator.ValidateFinite(data, nameof(data), out _, out _);
                _elements.AddBatch(data, batchSize);
            }
            else if (_granularity == StatisticsGranularity.Layer)
            {
                // One pass for the extremes and the first-pass sums, which also validates before anything changes.
                RunningMoments.Sums sums = default;
                if (!SegmentScan.Scan(data, 0, data.Length, data.Length, 1, _moments.Length > 0, out float min, out float max, ref sums))
                {
                    PercentileEstimator.ValidateFinite(data, "values", out _, out _);
                }

                AddValues(0, data, 0, data.Length, data.Length, 1, min, max, sums);
            }
            else
            {
                // Channel c is the batch's segments n·C·S + c·S of S values. With S a multiple of 16 (or one sample), or
                // without moments, they are read in place; otherwise each channel is first gathered into one span, so that
                // the sums keep their order (see RunningMoments.AddBatch).
                int stride = _channels * _spatialSize;
                ReadOnlySpan<float> values = data;
                int segmentStride = stride;
                int segmentLength = _spatialSize;
                int segments = batchSize;
                int channelStart = _spatialSize;
                bool moments = _moments.Length > 0;
                if (moments && batchSize > 1 && _spatialSize % RunningMoments.Lanes != 0)
                {
                    if (_scratch.Length < data.Length)
                    {
                        Rent(ref _scratch, data.Length);
                    }

                    Span<float> gathered = _scratch.AsSpan(0, data.Length);
                    int perChannel = batchSize * _spatialSize;
                    for (int c = 0; c < _channels; c++)
                    {
                        for (int n = 0; n < batchSize; n++)
                        {
                            data.Slice((n * stride) + (c * _spatialSize), _spatialSize).CopyTo(gathered.Slice((c * perChannel) + (n * _spatialSize), _spatialSize));
                        }
                    }

                    values = gathered;
                    segmentStride = perChannel;
                    segmentLength = perChannel;
                    segments = 1;
                    channelStart = perChannel;
                }

                // Validate the whole batch first (while taking each channel's extremes and sums), so a bad value leaves
                // every channel unchanged.
                if (_channelMin.Length < _channels)
                {
                    _channelMin = new float[_channels];
                    _channelMax = new float[_channels];
                    _channelSums = new RunningMoments.Sums[_channels];
                }

                // A percentile estimator with its histogram cut (see CalibrationOptions.LowestPercentile) needs only the values
                // at or above the cut: the same pass packs them aside, one region per channel.
                bool staging = _estimators.Length > 0 && !moments;
                if (staging && _staged.Length < data.Length + Vector256<float>.Count)
                {
                    Rent(ref _staged, data.Length + Vector256<float>.Count);
                    _channelStaged = new int[_channels + 1];
                }

                bool finite = true;
                int stagedEnd = 0;
                for (int c = 0; c < _channels; c++)
                {
                    _channelSums[c] = default;
                    float cut = staging ? _estimators[c].Cut : 0f;
                    if (cut > 0f)
                    {
                        finite &= SegmentScan.ScanStaging(values, c * channelStart, segmentStride, segmentLength, segments, cut, _staged.AsSpan(stagedEnd), out int staged, out _channelMin[c], out _channelMax[c]);
                        stagedEnd += staged;
                    }
                    else
                    {
                        finite &= SegmentScan.Scan(values, c * channelStart, segmentStride, segmentLength, segments, moments, out _channelMin[c], out _channelMax[c], ref _channelSums[c]);
                    }

                    if (staging)
                    {
                        _channelStaged[c + 1] = stagedEnd;
                    }
                }

                if (!finite)
                {
                    PercentileEstimator.ValidateFinite(data, nameof(data), out _, out _);
                }

                for (int c = 0; c < _channels; c++)
                {
                    if (staging && _estimators[c].Cut > 0f)
                    {
                        _estimators[c].AddStaged(_staged.AsSpan(_channelStaged[c], _channelStaged[c + 1] - _channelStaged[c]), (long)segments * segmentLength, _channelMin[c], _channelMax[c]);
                    }
                    else
                    {
                        AddValues(c, values, c * channelStart, segmentStride, segmentLength, segments, _channelMin[c], _channelMax[c], _channelSums[c]);
                    }
                }
            }

            _count += batchSize;
        }

        /// <summary>
        /// Sets these statistics, which keep only the extremes, to those of max(x, 0) over the values <paramref name="input"/>
        /// saw (a ReLU's output from its input's statistics): the extremes of the rectified values are the rectified extremes,
        /// max(x, 0) being monotone (with +0 for −0, as for each value).
        /// </summary>
        /// <param name="input">Statistics of the same shape and granularity, with at least one batch.</param>
        internal void SetRectifiedExtremes(ChannelStatistics input)
        {
            if (_elements != null || _estimators.Length > 0 || _moments.Length > 0 || input._channels != _channels || input._spatialSize != _spatialSize
                || input._granularity != _granularity || _count != 0)
            {
                throw new InvalidOperationException("Rectified extremes need empty extremes-only statistics of the input's shape and granularity.");
            }

            float[] max = input.GetMax();
            float[] min = input.GetMin();
            for (int g = 0; g < _max.Length; g++)
            {
                _max[g] = MathF.Max(max[g], 0f);
                _min[g] = MathF.Max(min[g], 0f);
            }

            _count = input._count;
        }

        /// <summary>
        /// Validated values of statistic <paramref name="group"/>, with their extremes and first-pass sums: to its percentile
        /// estimator (which keeps the extremes) or to the extremes kept here, and to its moments when kept.
        /// </summary>
        private void AddValues(int group, ReadOnlySpan<float> values, int start, int stride, int length, int count, float min, float max, in RunningMoments.Sums sums)
        {
            if (_estimators.Length > 0)
            {
                _estimators[group].AddValidated(values, start, stride, length, count, min, max);
            }
            else
            {
                _min[group] = MathF.Min(_min[group], min);
                _max[group] = MathF.Max(_max[group], max);
            }

            if (_moments.Length > 0)
            {
                _moments[group].AddBatch(values, start, stride, length, count, sums);
            }
        }

        /// <summary>Exact maximum per statistic (length <see cref="StatisticCount"/>: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetMax()
        {
            EnsureNotEmpty();
            return _elements?.GetMax() ?? (_estimators.Length == 0 ? (float[])_max.Clone() : Collect(e => e.Max));
        }

        /// <summary>Exact minimum per statistic (length <see cref="StatisticCount"/>: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added.</exception>
        public float[] GetMin()
        {
            EnsureNotEmpty();
            return _elements?.GetMin() ?? (_estimators.Length == 0 ? (float[])_min.Clone() : Collect(e => e.Min));
        }

        /// <summary>Estimate of the default percentile per statistic (length C, or 1 for layer granularity).</summary>
        /// <exception cref="InvalidOperationException">No batch was added, the granularity is <see cref="StatisticsGranularity.Neuron"/>, or percentiles were not kept (<see cref="Statistics"/>).</exception>
        public float[] GetPercentile() => GetPercentile(_percentile);

        /// <summary>Estimate of the p-th percentile per statistic (length C, or 1 for layer granularity); p = 100 gives the maximum.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is not in (0, 100].</exception>
        /// <exception cref="InvalidOperationException">No batch was added, the granularity is <see cref="StatisticsGranularity.Neuron"/>, or percentiles were not kept (<see cref="Statistics"/>).</exception>
        public float[] GetPercentile(double p)
        {
            PercentileEstimator.CheckPercentile(p, nameof(p));
            EnsurePercentiles();
            return Collect(e => (float)e.GetPercentile(p));
        }

        /// <summary>Bound on the absolute error of <see cref="GetPercentile(double)"/> per statistic; 0 where exact.</summary>
        /// <param name="p">Percentile in (0, 100].</param>
        /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is not in (0, 100].</exception>
        /// <exception cref="InvalidOperationException">No batch was added, the granularity is <see cref="StatisticsGranularity.Neuron"/>, or percentiles were not kept (<see cref="Statistics"/>).</exception>
        public double[] GetPercentileErrorBound(double p)
        {
            PercentileEstimator.CheckPercentile(p, nameof(p));
            EnsurePercentiles();
            EnsureNotEmpty();
            var result = new double[_estimators.Length];
            for (int g = 0; g < result.Length; g++)
            {
                result[g] = _estimators[g].GetErrorBound(p);
            }

            return result;
        }

        /// <summary>Exact mean per statistic (length <see cref="StatisticCount"/>: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added, or the moments were not kept (<see cref="Statistics"/>).</exception>
        public float[] GetMean()
        {
            EnsureMoments();
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

        /// <summary>Population variance (divided by N) per statistic (length <see cref="StatisticCount"/>: 1, C or C·S).</summary>
        /// <exception cref="InvalidOperationException">No batch was added, or the moments were not kept (<see cref="Statistics"/>).</exception>
        public float[] GetVariance()
        {
            EnsureMoments();
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

        internal PercentileEstimator GetEstimator(int statistic)
        {
            EnsurePercentiles();
            return _estimators[statistic];
        }

        private float[] Collect(Func<PercentileEstimator, float> selector)
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

            if (_estimators.Length == 0)
            {
                throw new InvalidOperationException($"These statistics keep the {Describe(_statistics)} but no percentiles; calibrate with CalibrationOptions.Statistics including {nameof(CalibrationStatistics.Percentiles)}.");
            }
        }

        private void EnsureMoments()
        {
            if (_elements == null && _moments.Length == 0)
            {
                throw new InvalidOperationException($"These statistics keep the {Describe(_statistics)} but not the mean and variance; calibrate with CalibrationOptions.Statistics including {nameof(CalibrationStatistics.Moments)}.");
            }
        }

        private static string Describe(CalibrationStatistics statistics) => statistics switch
        {
            CalibrationStatistics.Moments => "maximum, minimum, mean and variance",
            CalibrationStatistics.Percentiles => "maximum, minimum and percentiles",
            _ => "maximum and minimum",
        };

        private void EnsureNotEmpty()
        {
            if (_count == 0)
            {
                throw new InvalidOperationException("No batch was added; the statistics are undefined.");
            }
        }
    }
}
