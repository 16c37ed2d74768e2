// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>
    /// The percentile histogram kept for the upper tail only (a lowest percentile q₀): against sorting everything, and
    /// against the same estimator with the whole histogram.
    /// </summary>
    [TestClass]
    public sealed class UpperTailHistogramTests
    {
        /// <summary>ReLU-like values: about half exact zeros, a few negatives, positives with a long tail.</summary>
        private static float[] ReluLike(Random random, int count, float scale)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                double u = random.NextDouble();
                values[i] = u < 0.5 ? 0f : u < 0.55 ? -(float)random.NextDouble() : (float)(-Math.Log(1 - random.NextDouble()) * scale);
            }

            return values;
        }

        [TestMethod]
        public void PercentilesAboveTheLowestOneMatchTheWholeHistogramAndSorting()
        {
            var random = new Random(5);
            const int capacity = 256;
            var tail = new PercentileEstimator(99.9, capacity, PercentileEstimator.DefaultBinCount, lowestPercentile: 99.5);
            var whole = new PercentileEstimator(99.9, capacity);
            var all = new List<float>();
            for (int batch = 0; batch < 40; batch++)
            {
                // Batches of different lengths, some not a multiple of the vector width.
                float[] values = ReluLike(random, 2000 + (batch * 37), 3f);
                tail.Add(values);
                whole.Add(values);
                all.AddRange(values);
            }

            Assert.IsTrue(tail.Cut > 0f, "the cut was set");
            Assert.AreEqual(0f, whole.Cut);
            float[] sorted = all.ToArray();
            Array.Sort(sorted);

            // Ranks from the top: 99.5 → about 480 (beyond the capacity: from the histogram), 99.9 → 96 (exact) and up.
            foreach (double p in new[] { 99.5, 99.7, 99.9, 99.95, 99.99, 100 })
            {
                Assert.AreEqual(whole.GetPercentile(p), tail.GetPercentile(p), $"p = {p}");
                Assert.AreEqual(whole.GetErrorBound(p), tail.GetErrorBound(p), $"p = {p}");
                double exact = CalibrationReference.PercentileOfSorted(sorted, p);
                Assert.IsTrue(Math.Abs(tail.GetPercentile(p) - exact) <= tail.GetErrorBound(p) + 1e-6, $"p = {p}");
            }

            Assert.IsTrue(tail.IsExactFor(99.9));
            Assert.AreEqual(CalibrationReference.PercentileOfSorted(sorted, 99.9), tail.GetPercentile(), 1e-5);
            Assert.IsFalse(tail.IsExactFor(99.5), "rank 480 lies beyond the capacity of 256");
            Assert.AreEqual(sorted[^1], tail.Max);
            Assert.AreEqual(sorted[0], tail.Min);
            Assert.AreEqual(all.Count, tail.Count);
        }

        [TestMethod]
        public void PercentilesBelowTheCutReportTheirLargerBound()
        {
            var random = new Random(6);
            var tail = new PercentileEstimator(99.9, 128, PercentileEstimator.DefaultBinCount, lowestPercentile: 99.9);
            var whole = new PercentileEstimator(99.9, 128);
            var all = new List<float>();
            for (int batch = 0; batch < 30; batch++)
            {
                float[] values = ReluLike(random, 4096, 1f);
                tail.Add(values);
                whole.Add(values);
                all.AddRange(values);
            }

            Assert.IsTrue(tail.Cut > 0f);
            float[] sorted = all.ToArray();
            Array.Sort(sorted);
            foreach (double p in new[] { 1, 25, 50, 75, 90, 99 })
            {
                double exact = CalibrationReference.PercentileOfSorted(sorted, p);
                double bound = tail.GetErrorBound(p);
                Assert.IsTrue(Math.Abs(tail.GetPercentile(p) - exact) <= bound + 1e-6, $"p = {p}: {tail.GetPercentile(p)} vs {exact} ± {bound}");
                Assert.IsTrue(bound > whole.GetErrorBound(p), $"p = {p}: the bound below the cut is the larger one");
            }

            Assert.IsTrue(tail.IsExact);
            Assert.AreEqual(CalibrationReference.PercentileOfSorted(sorted, 99.9), tail.GetPercentile(), 1e-5);
        }

        /// <summary>
        /// Data far from stationary (the magnitudes shrink batch after batch), so that the cut set early ends up above the
        /// ranks asked: every estimate stays within the bound it reports.
        /// </summary>
        [TestMethod]
        public void ShrinkingDataStaysWithinItsBound()
        {
            var random = new Random(7);
            var tail = new PercentileEstimator(99, 16, PercentileEstimator.DefaultBinCount, lowestPercentile: 99);
            var all = new List<float>();
            for (int batch = 0; batch < 20; batch++)
            {
                float[] values = ReluLike(random, 3000, 100f / (1 << Math.Min(batch, 12)));
                tail.Add(values);
                all.AddRange(values);
            }

            Assert.IsTrue(tail.Cut > 0f);
            float[] sorted = all.ToArray();
            Array.Sort(sorted);
            bool belowCut = false;
            foreach (double p in new[] { 50, 90, 95, 99, 99.5, 99.9, 99.99, 100 })
            {
                double exact = CalibrationReference.PercentileOfSorted(sorted, p);
                double bound = tail.GetErrorBound(p);
                Assert.IsTrue(Math.Abs(tail.GetPercentile(p) - exact) <= bound + 1e-6, $"p = {p}: {tail.GetPercentile(p)} vs {exact} ± {bound}");
                belowCut |= exact < tail.Cut;
            }

            Assert.IsTrue(belowCut, "some percentile of at least q₀ fell below the cut");
            Assert.AreEqual(CalibrationReference.PercentileOfSorted(sorted, 99.99), tail.GetPercentile(99.99), 1e-5);
        }

        [TestMethod]
        public void TheLowestPercentileIsChecked()
        {
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(99, lowestPercentile: -1));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(99, lowestPercentile: 99.5));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(99, lowestPercentile: double.NaN));
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ChannelStatistics(4, 16, StatisticsGranularity.Channel, 99, lowestPercentile: 99.9));
            Assert.AreEqual("lowestPercentile", error.ParamName);
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(3);
            var collect = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { Percentile = 99, LowestPercentile = 99.9 }));
            StringAssert.Contains(collect.Message, "LowestPercentile");
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { LowestPercentile = -0.5 }));

            // Through the calibrator: the option reaches every site's statistics, with the same percentiles.
            (Network network, List<float[]> many) = NeuronStatisticsTests.SmallNetwork(60);
            CalibrationResult tail = Calibrator.Collect(network, many, new CalibrationOptions { LowestPercentile = 99.9, ExactCapacity = 8, BatchSize = 16 });
            CalibrationResult whole = Calibrator.Collect(network, many, new CalibrationOptions { ExactCapacity = 8, BatchSize = 16 });
            bool cut = false;
            foreach ((string name, SiteStatistics site) in tail.Sites)
            {
                Assert.AreEqual(99.9, site.Output.LowestPercentile);
                CollectionAssert.AreEqual(whole.Sites[name].Output.GetPercentile(), site.Output.GetPercentile(), name);
                cut |= site.Output.GetEstimator(0).Cut > 0f;
            }

            Assert.IsTrue(cut, "a cut was set");
        }

        /// <summary>
        /// Per channel and per layer, through ChannelStatistics (whose scan packs the values above each channel's cut in the
        /// pass that validates the batch): the same percentiles as the whole histogram, exact against sorting, including a
        /// per-sample size that is not a multiple of the vector width.
        /// </summary>
        [TestMethod]
        [DataRow(StatisticsGranularity.Channel, 3, 200)]
        [DataRow(StatisticsGranularity.Channel, 5, 77)]
        [DataRow(StatisticsGranularity.Layer, 4, 64)]
        public void ChannelStatisticsMatchTheWholeHistogram(StatisticsGranularity granularity, int channels, int spatial)
        {
            var random = new Random(channels * spatial);
            const int batchSize = 32;
            var tail = new ChannelStatistics(channels, spatial, granularity, 99.9, 512, CalibrationStatistics.Percentiles, lowestPercentile: 99.9);
            var whole = new ChannelStatistics(channels, spatial, granularity, 99.9, 512, CalibrationStatistics.Percentiles);
            int groups = granularity == StatisticsGranularity.Channel ? channels : 1;
            var perGroup = Enumerable.Range(0, groups).Select(_ => new List<float>()).ToArray();
            for (int batch = 0; batch < 12; batch++)
            {
                var data = new float[batchSize * channels * spatial];
                for (int n = 0; n < batchSize; n++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        float[] values = ReluLike(random, spatial, 1 + c);
                        values.CopyTo(data, ((n * channels) + c) * spatial);
                        perGroup[granularity == StatisticsGranularity.Channel ? c : 0].AddRange(values);
                    }
                }

                tail.AddBatch(data, batchSize);
                whole.AddBatch(data, batchSize);
                if (batch == 8)
                {
                    // A bad batch after the cuts are set changes nothing.
                    float saved = data[data.Length - 1];
                    data[data.Length - 1] = float.NaN;
                    Assert.ThrowsExactly<ArgumentException>(() => tail.AddBatch(data, batchSize));
                    data[data.Length - 1] = saved;
                }
            }

            Assert.AreEqual(99.9, tail.LowestPercentile);
            CollectionAssert.AreEqual(whole.GetPercentile(), tail.GetPercentile());
            CollectionAssert.AreEqual(whole.GetMax(), tail.GetMax());
            CollectionAssert.AreEqual(whole.GetMin(), tail.GetMin());
            float[] percentiles = tail.GetPercentile();
            for (int g = 0; g < groups; g++)
            {
                Assert.IsTrue(tail.GetEstimator(g).Cut > 0f, $"statistic {g}: the cut was set");
                Assert.AreEqual(CalibrationReference.Percentile(perGroup[g], 99.9), percentiles[g], 1e-5, $"statistic {g}");
                Assert.AreEqual(0.0, tail.GetPercentileErrorBound(99.9)[g]);
            }
        }
    }
}
