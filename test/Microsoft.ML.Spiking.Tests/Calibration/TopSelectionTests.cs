// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    [TestClass]
    public sealed class TopSelectionTests
    {
        [TestMethod]
        public void KeepsTheLargestAsAMultisetAndReturnsTheKthLargest()
        {
            var random = new Random(3);
            foreach (int n in new[] { 1, 2, 3, 8, 100, 4097 })
            {
                foreach (int levels in new[] { 1, 3, 1000, 0 })
                {
                    float[] values = Enumerable.Range(0, n).Select(_ => levels == 0 ? (float)random.NextDouble() : random.Next(levels)).ToArray();
                    float[] sorted = values.OrderByDescending(v => v).ToArray();
                    foreach (int k in new[] { 1, (n + 1) / 2, n })
                    {
                        float[] work = (float[])values.Clone();
                        float kth = TopSelection.KeepLargest(work, k);
                        Assert.AreEqual(sorted[k - 1], kth, $"n={n} levels={levels} k={k}");
                        CollectionAssert.AreEqual(sorted.Take(k).ToArray(), work.Take(k).OrderByDescending(v => v).ToArray());
                        CollectionAssert.AreEqual(sorted.Skip(k).ToArray(), work.Skip(k).OrderByDescending(v => v).ToArray());
                    }
                }
            }
        }

        [TestMethod]
        public void SortedAndAdversarialInputsStillSelect()
        {
            int n = 20_000;
            foreach (float[] values in new[]
            {
                Enumerable.Range(0, n).Select(i => (float)i).ToArray(),
                Enumerable.Range(0, n).Select(i => (float)(n - i)).ToArray(),
                Enumerable.Range(0, n).Select(i => (float)(i % 2 == 0 ? i : n - i)).ToArray(),
            })
            {
                float[] work = (float[])values.Clone();
                Assert.AreEqual(values.OrderByDescending(v => v).ElementAt(99), TopSelection.KeepLargest(work, 100));
                Assert.IsTrue(work.Take(100).Min() >= work.Skip(100).Max());
            }
        }

        [TestMethod]
        public void TopValuesReadEveryIndexInAnyOrder()
        {
            var random = new Random(8);
            foreach (int capacity in new[] { 1, 3, 50 })
            {
                var top = new TopValues(capacity);
                var all = new System.Collections.Generic.List<float>();
                for (int batch = 0; batch < 6; batch++)
                {
                    float[] values = Enumerable.Range(0, 37).Select(_ => (float)random.Next(-20, 20)).ToArray();
                    top.Offer(values, float.NegativeInfinity);
                    all.AddRange(values);
                    float[] expected = all.OrderByDescending(v => v).Take(capacity).Reverse().ToArray();
                    Assert.AreEqual(expected.Length, top.Count);
                    Assert.IsTrue(top.StorageLength <= 2 * capacity);
                    for (int i = 0; i < expected.Length; i++)
                    {
                        Assert.AreEqual(expected[i], top.ValueAt(i), $"ascending, capacity {capacity}, index {i}");
                    }

                    for (int i = expected.Length - 1; i >= 0; i--)
                    {
                        Assert.AreEqual(expected[i], top.ValueAt(i), $"descending, capacity {capacity}, index {i}");
                    }
                }
            }
        }

        [TestMethod]
        public void RejectsAnOutOfRangeK()
        {
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TopSelection.KeepLargest(new float[3], 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TopSelection.KeepLargest(new float[3], 4));
        }
    }
}
