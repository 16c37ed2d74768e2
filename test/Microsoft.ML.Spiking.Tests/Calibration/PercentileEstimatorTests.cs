// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    [TestClass]
    public sealed class PercentileEstimatorTests
    {
        private static readonly double[] s_percentiles = { 0.1, 1, 10, 25, 33.3, 40, 50, 60, 75, 90, 99, 99.9, 99.99, 100 };

        [TestMethod]
        public void OracleZeroToNineHundredNinetyNineIsExact()
        {
            float[] values = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
            CalibrationReference.Shuffle(values, new Random(7));
            var estimator = new PercentileEstimator(99.9);
            AddInBatches(estimator, values, 137);

            Assert.AreEqual(1000L, estimator.Count);
            Assert.AreEqual(998.001, estimator.GetPercentile(), 1e-9);
            Assert.AreEqual(998.001, estimator.GetPercentile(99.9), 1e-9);
            Assert.IsTrue(estimator.IsExact);
            Assert.AreEqual(0.0, estimator.ErrorBound);
            Assert.AreEqual(999f, estimator.Max);
            Assert.AreEqual(0f, estimator.Min);
            Assert.AreEqual(999.0, estimator.GetPercentile(100));
            Assert.AreEqual(499.5, estimator.GetPercentile(50), 1e-9);
        }

        /// <summary>
        /// A ReLU's output with fewer positive values than the capacity: only the positives are kept and the zeros are
        /// counted, yet every rank within the capacity is exact (against sorting everything), through the batches where
        /// the positives then outgrow the capacity (the floor rises above 0 and the kept values are pruned to it).
        /// </summary>
        [TestMethod]
        public void ZerosMakingUpTheCapacityAreCountedNotKept()
        {
            var random = new Random(31);
            const int capacity = 50;
            var estimator = new PercentileEstimator(99, capacity);
            var all = new System.Collections.Generic.List<float>();
            for (int batch = 0; batch < 12; batch++)
            {
                // About 8 % positive: the positives pass 50 around the seventh batch; the zeros make up 50 from the first.
                float[] values = Enumerable.Range(0, 80).Select(_ => random.NextDouble() < 0.08 ? (float)random.NextDouble() * (batch + 1) : 0f).ToArray();
                estimator.Add(values);
                all.AddRange(values);
                Assert.AreEqual(Math.Min(all.Count, capacity), estimator.HeapCount);
                Assert.IsTrue(estimator.HeapStorageLength <= 2 * capacity);
                foreach (double p in new[] { 50, 90, 95, 99, 99.5, 100 })
                {
                    // Ranks within the capacity from the top, and the zeros below them, are exact.
                    double rank = p / 100 * (all.Count - 1);
                    if (all.Count - 1 - Math.Floor(rank) < capacity || CalibrationReference.Percentile(all, p) == 0)
                    {
                        Assert.AreEqual(CalibrationReference.Percentile(all, p), estimator.GetPercentile(p), 1e-6, $"p={p} after batch {batch}");
                        Assert.AreEqual(0.0, estimator.GetErrorBound(p), $"p={p} after batch {batch}");
                    }
                }
            }

            Assert.IsTrue(all.Count(v => v > 0) > capacity, "the positives outgrew the capacity");
        }

        [TestMethod]
        public void ExactPathNeedsBothRanksInTheHeap()
        {
            float[] values = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();
            CalibrationReference.Shuffle(values, new Random(8));

            // N − floor(q(N−1)) = 1000 − 998 = 2: capacity 2 holds ranks 998 and 999.
            var two = new PercentileEstimator(99.9, exactCapacity: 2);
            AddInBatches(two, values, 100);
            Assert.IsTrue(two.IsExact);
            Assert.AreEqual(998.001, two.GetPercentile(), 1e-9);
            Assert.AreEqual(2, two.HeapCount);

            // Capacity 1 holds only rank 999: rank 998 comes from the histogram.
            var one = new PercentileEstimator(99.9, exactCapacity: 1);
            AddInBatches(one, values, 100);
            Assert.IsFalse(one.IsExact);
            Assert.IsTrue(one.ErrorBound > 0);
            Assert.IsTrue(one.ErrorBound <= 2.0 * 999 / PercentileEstimator.DefaultBinCount);
            Assert.AreEqual(998.001, one.GetPercentile(), one.ErrorBound);
        }

        [TestMethod]
        public void TenMillionExponentialValuesStayWithinErrorBound()
        {
            const int count = 10_000_000;
            var random = new Random(2024);
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = (float)-Math.Log(1.0 - random.NextDouble());
            }

            var estimator = new PercentileEstimator(99.9, exactCapacity: 256);
            AddInBatches(estimator, values, 65536);
            float[] sorted = (float[])values.Clone();
            Array.Sort(sorted);

            Assert.AreEqual((long)count, estimator.Count);
            Assert.AreEqual(sorted[^1], estimator.Max);
            Assert.AreEqual(sorted[0], estimator.Min);
            Assert.IsFalse(estimator.IsExact);
            Assert.IsTrue(estimator.ErrorBound > 0);
            Assert.IsTrue(estimator.ErrorBound <= 2.0 * sorted[^1] / PercentileEstimator.DefaultBinCount, $"bound {estimator.ErrorBound}");
            double exact = CalibrationReference.PercentileOfSorted(sorted, 99.9);
            double estimate = estimator.GetPercentile();
            Assert.IsTrue(Math.Abs(estimate - exact) <= estimator.ErrorBound, $"estimate {estimate}, exact {exact}, bound {estimator.ErrorBound}");

            foreach (double p in s_percentiles)
            {
                AssertWithinBound(estimator, sorted, p);
            }

            // The top 256 values are exact: p with N(1 − q) well below 256.
            Assert.IsTrue(estimator.IsExactFor(99.999));
            Assert.AreEqual(CalibrationReference.PercentileOfSorted(sorted, 99.999), estimator.GetPercentile(99.999), 1e-6);
        }

        [TestMethod]
        public void MixedNegativeZeroPositiveValues()
        {
            var random = new Random(31);
            var values = new float[200_000];
            for (int i = 0; i < values.Length; i++)
            {
                double u = random.NextDouble();
                values[i] = u < 0.3 ? 0f : u < 0.65 ? -Math.Abs(3 * CalibrationReference.NextGaussian(random)) : (float)(random.NextDouble() * 50);
            }

            float[] sorted = (float[])values.Clone();
            Array.Sort(sorted);

            var small = new PercentileEstimator(99.9, exactCapacity: 16);
            AddInBatches(small, values, 4999);
            Assert.AreEqual(sorted[0], small.Min);
            Assert.AreEqual(sorted[^1], small.Max);
            foreach (double p in s_percentiles.Concat(new[] { 34.0, 36.0, 50.0, 64.0 }))
            {
                AssertWithinBound(small, sorted, p);
            }

            // The zeros cover roughly the 35th to 65th percentiles: those come out exact.
            Assert.IsTrue(small.IsExactFor(50));
            Assert.AreEqual(0.0, small.GetPercentile(50));
            Assert.IsFalse(small.IsExactFor(10));
            Assert.IsTrue(small.GetErrorBound(10) <= 2.0 * -sorted[0] / PercentileEstimator.DefaultBinCount);

            var large = new PercentileEstimator(99.9, exactCapacity: values.Length);
            AddInBatches(large, values, 4999);
            foreach (double p in s_percentiles)
            {
                Assert.IsTrue(large.IsExactFor(p));
                Assert.AreEqual(CalibrationReference.PercentileOfSorted(sorted, p), large.GetPercentile(p), 1e-6, $"p = {p}");
            }
        }

        [TestMethod]
        public void GrowingRangeMergesBinsAndStaysWithinBound()
        {
            var random = new Random(5);
            var estimator = new PercentileEstimator(50, exactCapacity: 8, binCount: 64);
            var all = new float[0];
            for (int k = -20; k <= 20; k += 4)
            {
                var batch = new float[5000];
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = (float)((random.NextDouble() - 0.3) * Math.Pow(2, k));
                }

                estimator.Add(batch);
                all = all.Concat(batch).ToArray();
                Array.Sort(all);
                foreach (double p in s_percentiles)
                {
                    AssertWithinBound(estimator, all, p);
                }

                Assert.IsTrue(estimator.HistogramStorageLength <= 2 * 64);
            }
        }

        [TestMethod]
        public void MemoryDoesNotGrow()
        {
            var random = new Random(11);
            var estimator = new PercentileEstimator(99.9, exactCapacity: 100);
            var batch = new float[10_000];
            for (int b = 0; b < 100; b++)
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = (float)((random.NextDouble() - 0.5) * (b + 1));
                }

                estimator.Add(batch);
                Assert.IsTrue(estimator.HeapCount <= estimator.ExactCapacity);
                Assert.IsTrue(estimator.HeapStorageLength <= 2 * estimator.ExactCapacity);
                Assert.IsTrue(estimator.HistogramStorageLength <= 2 * PercentileEstimator.DefaultBinCount);
            }

            Assert.AreEqual(100, estimator.HeapCount);
            Assert.AreEqual(1_000_000L, estimator.Count);
        }

        [TestMethod]
        public void NaNAndInfinityAreRejectedWithoutChangingState()
        {
            var estimator = new PercentileEstimator();
            estimator.Add(new float[] { 1, 2, 3 });

            var nan = Assert.ThrowsExactly<ArgumentException>(() => estimator.Add(new float[] { 4, float.NaN, 5 }));
            StringAssert.Contains(nan.Message, "NaN");
            var inf = Assert.ThrowsExactly<ArgumentException>(() => estimator.Add(new float[] { 4, float.PositiveInfinity }));
            StringAssert.Contains(inf.Message, "infinity");
            Assert.ThrowsExactly<ArgumentException>(() => estimator.Add(new float[] { float.NegativeInfinity }));

            Assert.AreEqual(3L, estimator.Count);
            Assert.AreEqual(3f, estimator.Max);
            Assert.AreEqual(2.0, estimator.GetPercentile(50), 1e-12);
        }

        [TestMethod]
        public void ArgumentsAreChecked()
        {
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(100.5));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(double.NaN));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(99, exactCapacity: 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PercentileEstimator(99, binCount: 100));

            var estimator = new PercentileEstimator();
            Assert.IsTrue(float.IsNaN(estimator.Max));
            Assert.ThrowsExactly<InvalidOperationException>(() => estimator.GetPercentile());
            estimator.Add(new float[] { 1 });
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetPercentile(-1));
            Assert.AreEqual(1.0, estimator.GetPercentile(0.5));
        }

        [TestMethod]
        public void ZeroOnlyAndOneSignBatchesAreCountedCorrectly()
        {
            var estimator = new PercentileEstimator(99, exactCapacity: 1, binCount: 16);
            var batches = new[]
            {
                new float[] { 0, 0, 0, -0f },
                new float[] { -1, -2, -1e-30f },
                new float[] { 0 },
                new float[] { 5, 0, 1e-20f, 3 },
                new float[] { -100, 7 },
            };
            var all = new float[0];
            foreach (float[] batch in batches)
            {
                estimator.Add(batch);
                all = all.Concat(batch).ToArray();
                Array.Sort(all);
                foreach (double p in s_percentiles)
                {
                    AssertWithinBound(estimator, all, p);
                }
            }

            // 14 values: 6 zeros at sorted ranks 4..9, so the median (rank 6.5) is exactly 0.
            Assert.IsTrue(estimator.IsExactFor(50));
            Assert.AreEqual(0.0, estimator.GetPercentile(50));
            Assert.AreEqual(-100f, estimator.Min);
            Assert.AreEqual(7f, estimator.Max);
        }

        [TestMethod]
        public void TiesAndConstantInputStayWithinBound()
        {
            var estimator = new PercentileEstimator(99, exactCapacity: 4);
            var values = Enumerable.Repeat(2.5f, 10_000).ToArray();
            estimator.Add(values);
            estimator.Add(new float[] { 0, 0, 0 });
            float[] sorted = values.Concat(new float[] { 0, 0, 0 }).OrderBy(v => v).ToArray();
            foreach (double p in s_percentiles)
            {
                AssertWithinBound(estimator, sorted, p);
            }

            Assert.AreEqual(2.5, estimator.GetPercentile(), 1e-6);
        }

        private static void AddInBatches(PercentileEstimator estimator, float[] values, int batchSize)
        {
            for (int start = 0; start < values.Length; start += batchSize)
            {
                estimator.Add(values.AsSpan(start, Math.Min(batchSize, values.Length - start)));
            }
        }

        private static void AssertWithinBound(PercentileEstimator estimator, float[] sorted, double p)
        {
            double exact = CalibrationReference.PercentileOfSorted(sorted, p);
            double estimate = estimator.GetPercentile(p);
            double bound = estimator.GetErrorBound(p);
            double slack = 1e-9 * Math.Max(1.0, Math.Abs(exact));
            Assert.IsTrue(
                Math.Abs(estimate - exact) <= bound + slack,
                $"p = {p}: estimate {estimate}, exact {exact}, bound {bound}");
        }
    }
}
