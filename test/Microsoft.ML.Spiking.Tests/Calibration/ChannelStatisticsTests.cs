// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    [TestClass]
    public sealed class ChannelStatisticsTests
    {
        private static readonly double[] s_percentiles = { 1, 50, 90, 99, 99.9, 100 };

        [TestMethod]
        public void ChannelGranularityMatchesBruteForce()
        {
            const int channels = 3;
            const int spatial = 20;
            var stats = new ChannelStatistics(channels, spatial, StatisticsGranularity.Channel);
            List<float>[] perChannel = Feed(stats, channels, spatial, new[] { 4, 1, 7, 3 }, seed: 17);

            Assert.AreEqual(channels, stats.StatisticCount);
            Assert.AreEqual(15L, stats.Count);
            Assert.AreEqual(15L * spatial, stats.ValueCount);
            AssertMatches(stats, perChannel);
        }

        [TestMethod]
        public void LayerGranularityMatchesBruteForce()
        {
            const int channels = 4;
            const int spatial = 9;
            var stats = new ChannelStatistics(channels, spatial, StatisticsGranularity.Layer, percentile: 99);
            List<float>[] perChannel = Feed(stats, channels, spatial, new[] { 2, 5, 1 }, seed: 23);
            var all = new List<float>();
            foreach (List<float> channel in perChannel)
            {
                all.AddRange(channel);
            }

            Assert.AreEqual(1, stats.StatisticCount);
            Assert.AreEqual(8L, stats.Count);
            Assert.AreEqual(8L * channels * spatial, stats.ValueCount);
            Assert.AreEqual(1, stats.GetPercentile().Length);
            Assert.AreEqual((float)CalibrationReference.Percentile(all, 99), stats.GetPercentile()[0], 1e-5f);
            AssertMatches(stats, new[] { all });
        }

        /// <summary>
        /// Each subset of the statistics gives bit for bit the full statistics' extremes, counts and (when kept) moments and
        /// percentiles; what is not kept throws, naming the option to set.
        /// </summary>
        [TestMethod]
        [DataRow(StatisticsGranularity.Channel, 3, 20, CalibrationStatistics.Moments)]
        [DataRow(StatisticsGranularity.Channel, 5, 7, CalibrationStatistics.Moments)]
        [DataRow(StatisticsGranularity.Layer, 4, 9, CalibrationStatistics.Moments)]
        [DataRow(StatisticsGranularity.Channel, 3, 20, CalibrationStatistics.Extremes)]
        [DataRow(StatisticsGranularity.Channel, 5, 7, CalibrationStatistics.Extremes)]
        [DataRow(StatisticsGranularity.Layer, 4, 9, CalibrationStatistics.Extremes)]
        [DataRow(StatisticsGranularity.Channel, 5, 7, CalibrationStatistics.Percentiles)]
        [DataRow(StatisticsGranularity.Layer, 4, 9, CalibrationStatistics.Percentiles)]
        public void SubsetsKeepTheSameStatistics(StatisticsGranularity granularity, int channels, int spatial, CalibrationStatistics kept)
        {
            var full = new ChannelStatistics(channels, spatial, granularity);
            var subset = new ChannelStatistics(channels, spatial, granularity, statistics: kept);
            int[] batches = { 4, 1, 7, 3 };
            List<float>[] values = Feed(full, channels, spatial, batches, seed: 29);
            Feed(subset, channels, spatial, batches, seed: 29);
            Assert.AreEqual(kept, subset.Statistics);
            Assert.AreEqual(CalibrationStatistics.All, full.Statistics);
            Assert.AreEqual(full.StatisticCount, subset.StatisticCount);
            Assert.AreEqual(full.Count, subset.Count);
            Assert.AreEqual(full.ValueCount, subset.ValueCount);
            CollectionAssert.AreEqual(full.GetMax(), subset.GetMax());
            CollectionAssert.AreEqual(full.GetMin(), subset.GetMin());
            Assert.AreEqual(values.SelectMany(g => g).Max(), subset.GetMax().Max());
            if ((kept & CalibrationStatistics.Moments) != 0)
            {
                CollectionAssert.AreEqual(full.GetMean(), subset.GetMean());
                CollectionAssert.AreEqual(full.GetVariance(), subset.GetVariance());
            }
            else
            {
                StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => subset.GetMean()).Message, "CalibrationOptions.Statistics including Moments");
                Assert.ThrowsExactly<InvalidOperationException>(() => subset.GetVariance());
            }

            if ((kept & CalibrationStatistics.Percentiles) != 0)
            {
                CollectionAssert.AreEqual(full.GetPercentile(99.9), subset.GetPercentile(99.9));
                CollectionAssert.AreEqual(full.GetPercentile(50), subset.GetPercentile(50));
                CollectionAssert.AreEqual(full.GetPercentileErrorBound(50), subset.GetPercentileErrorBound(50));
            }
            else
            {
                StringAssert.Contains(Assert.ThrowsExactly<InvalidOperationException>(() => subset.GetPercentile(99.9)).Message, "CalibrationOptions.Statistics including Percentiles");
                Assert.ThrowsExactly<InvalidOperationException>(() => subset.GetPercentileErrorBound(99.9));
            }

            Assert.ThrowsExactly<ArgumentException>(() => subset.AddBatch(new float[channels * spatial].Select((_, i) => i == 1 ? float.NaN : 0f).ToArray(), 1));
            Assert.ThrowsExactly<ArgumentException>(() => subset.AddBatch(new float[channels * spatial].Select((_, i) => i == 2 ? float.PositiveInfinity : 0f).ToArray(), 1));
            CollectionAssert.AreEqual(full.GetMax(), subset.GetMax(), "a rejected batch changes nothing");
            Assert.AreEqual(full.Count, subset.Count, "a rejected batch changes nothing");
        }

        /// <summary>Per neuron the moments are always kept and percentiles never, whatever is asked; unknown flags are rejected.</summary>
        [TestMethod]
        public void NeuronGranularityAndUnknownStatistics()
        {
            Assert.AreEqual(CalibrationStatistics.Moments, new ChannelStatistics(2, 3, StatisticsGranularity.Neuron, statistics: CalibrationStatistics.Extremes).Statistics);
            Assert.AreEqual(CalibrationStatistics.Moments, new ChannelStatistics(2, 3, StatisticsGranularity.Neuron).Statistics);
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(2, 3, StatisticsGranularity.Channel, statistics: (CalibrationStatistics)4));
            Assert.AreEqual("statistics", e.ParamName);
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(3);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { Statistics = (CalibrationStatistics)8 }));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { IncludePreActivations = true, PreActivationStatistics = (CalibrationStatistics)4 }));
        }

        [TestMethod]
        public void DenseTensorUsesFeaturesAsChannels()
        {
            const int features = 10;
            var stats = new ChannelStatistics(features, 1, StatisticsGranularity.Channel);
            List<float>[] perChannel = Feed(stats, features, 1, new[] { 32, 32, 5 }, seed: 3);
            Assert.AreEqual(69L, stats.Count);
            AssertMatches(stats, perChannel);
        }

        [TestMethod]
        public void SmallCapacityStaysWithinReportedBound()
        {
            const int channels = 2;
            const int spatial = 64;
            var stats = new ChannelStatistics(channels, spatial, StatisticsGranularity.Channel, exactCapacity: 8);
            List<float>[] perChannel = Feed(stats, channels, spatial, new[] { 50, 50, 50 }, seed: 41);
            foreach (double p in s_percentiles)
            {
                float[] estimates = stats.GetPercentile(p);
                double[] bounds = stats.GetPercentileErrorBound(p);
                for (int c = 0; c < channels; c++)
                {
                    double exact = CalibrationReference.Percentile(perChannel[c], p);
                    Assert.IsTrue(Math.Abs(estimates[c] - exact) <= bounds[c] + 1e-5, $"p = {p}, channel {c}: {estimates[c]} vs {exact}, bound {bounds[c]}");
                }
            }

            Assert.IsTrue(stats.GetPercentileErrorBound(99.9)[0] > 0);
        }

        [TestMethod]
        public void BadInputIsRejected()
        {
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(0, 1, StatisticsGranularity.Channel));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(1, 0, StatisticsGranularity.Channel));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(1, 1, (StatisticsGranularity)7));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(1, 1, StatisticsGranularity.Layer, percentile: 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(1, 1, StatisticsGranularity.Layer, exactCapacity: 0));

            var stats = new ChannelStatistics(2, 3, StatisticsGranularity.Channel);
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetMax());
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetMean());
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => stats.AddBatch(new float[6], -1));
            Assert.ThrowsExactly<ArgumentException>(() => stats.AddBatch(new float[5], 1));

            var bad = new float[12];
            bad[11] = float.NaN;
            var error = Assert.ThrowsExactly<ArgumentException>(() => stats.AddBatch(bad, 2));
            StringAssert.Contains(error.Message, "NaN");
            Assert.AreEqual(0L, stats.Count);

            stats.AddBatch(ReadOnlySpan<float>.Empty, 0);
            Assert.AreEqual(0L, stats.Count);
        }

        private static List<float>[] Feed(ChannelStatistics stats, int channels, int spatial, int[] batchSizes, int seed)
        {
            var random = new Random(seed);
            var perChannel = new List<float>[channels];
            for (int c = 0; c < channels; c++)
            {
                perChannel[c] = new List<float>();
            }

            foreach (int batchSize in batchSizes)
            {
                var data = new float[batchSize * channels * spatial];
                for (int n = 0; n < batchSize; n++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int s = 0; s < spatial; s++)
                        {
                            // Channel-dependent scale and offset; ReLU-like zeros in half the values.
                            float v = (c + 1) * CalibrationReference.NextGaussian(random) + c;
                            v = random.Next(2) == 0 ? Math.Max(v, 0f) : v;
                            data[(((n * channels) + c) * spatial) + s] = v;
                            perChannel[c].Add(v);
                        }
                    }
                }

                stats.AddBatch(data, batchSize);
            }

            return perChannel;
        }

        private static void AssertMatches(ChannelStatistics stats, IReadOnlyList<List<float>> groups)
        {
            float[] max = stats.GetMax();
            float[] min = stats.GetMin();
            float[] mean = stats.GetMean();
            float[] variance = stats.GetVariance();
            Assert.AreEqual(groups.Count, max.Length);
            Assert.AreEqual(groups.Count, variance.Length);
            for (int g = 0; g < groups.Count; g++)
            {
                List<float> values = groups[g];
                float[] sorted = values.ToArray();
                Array.Sort(sorted);
                Assert.AreEqual(sorted[^1], max[g]);
                Assert.AreEqual(sorted[0], min[g]);
                (double m, double v) = CalibrationReference.MeanAndPopulationVariance(values);
                Assert.AreEqual(m, mean[g], 1e-5 * Math.Max(1, Math.Abs(m)));
                Assert.AreEqual(v, variance[g], 1e-5 * v);
            }

            foreach (double p in s_percentiles)
            {
                float[] percentile = stats.GetPercentile(p);
                double[] bounds = stats.GetPercentileErrorBound(p);
                Assert.AreEqual(groups.Count, percentile.Length);
                for (int g = 0; g < groups.Count; g++)
                {
                    double exact = CalibrationReference.Percentile(groups[g], p);
                    Assert.AreEqual(0.0, bounds[g], $"p = {p} should be exact with the default capacity");
                    Assert.AreEqual(exact, percentile[g], 1e-5 * Math.Max(1, Math.Abs(exact)), $"p = {p}, group {g}");
                }
            }
        }
    }
}
