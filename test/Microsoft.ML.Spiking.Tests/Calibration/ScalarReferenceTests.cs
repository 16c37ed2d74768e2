// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>
    /// The vectorized statistics (segments read in place, batch histograms, lane-wise sums) against the scalar
    /// implementation they replaced (<see cref="ScalarChannelStatistics"/>): every result must be bit for bit the same,
    /// except that a percentile equal to zero may be −0 in one and +0 in the other (see <see cref="PercentileBits"/>).
    /// </summary>
    [TestClass]
    public sealed class ScalarReferenceTests
    {
        private static readonly double[] s_percentiles = { 0.1, 1, 12.5, 25, 50, 75, 90, 99, 99.9, 99.99, 100 };

        public enum Kind
        {
            Relu,
            Gaussian,
            Awkward,
        }

        [TestMethod]
        [DataRow(3, 16, 5, StatisticsGranularity.Channel, Kind.Relu)]
        [DataRow(3, 16, 5, StatisticsGranularity.Layer, Kind.Relu)]
        [DataRow(5, 7, 3, StatisticsGranularity.Channel, Kind.Gaussian)]
        [DataRow(5, 7, 3, StatisticsGranularity.Layer, Kind.Gaussian)]
        [DataRow(6, 1, 17, StatisticsGranularity.Channel, Kind.Gaussian)]
        [DataRow(2, 1024, 4, StatisticsGranularity.Channel, Kind.Relu)]
        [DataRow(2, 1024, 4, StatisticsGranularity.Layer, Kind.Gaussian)]
        [DataRow(4, 9, 1, StatisticsGranularity.Channel, Kind.Awkward)]
        [DataRow(4, 12, 8, StatisticsGranularity.Channel, Kind.Awkward)]
        [DataRow(1, 3, 2, StatisticsGranularity.Layer, Kind.Awkward)]
        [DataRow(16, 64, 64, StatisticsGranularity.Channel, Kind.Relu)]
        [DataRow(3, 16, 5, StatisticsGranularity.Neuron, Kind.Gaussian)]
        [DataRow(5, 7, 3, StatisticsGranularity.Neuron, Kind.Awkward)]
        [DataRow(16, 200, 70, StatisticsGranularity.Neuron, Kind.Relu)]
        public void StatisticsAreBitwiseThoseOfTheScalarImplementation(int channels, int spatial, int batch, StatisticsGranularity granularity, Kind kind)
        {
            foreach (int capacity in new[] { 1, 16, PercentileEstimator.DefaultCapacity })
            {
                var random = new Random((channels * 1000) + (spatial * 10) + batch + capacity);
                var fast = new ChannelStatistics(channels, spatial, granularity, 99.9, capacity);
                var reference = new ScalarChannelStatistics(channels, spatial, granularity, 99.9, capacity);

                // Several batches, the later ones with larger values (the histograms' ranges double), and one of size 1.
                foreach ((int n, float scale) in new[] { (batch, 1f), (1, 3f), (batch, 0.5f), (batch, 40f) })
                {
                    float[] data = Make(kind, n * channels * spatial, scale, random);
                    fast.AddBatch(data, n);
                    reference.AddBatch(data, n);
                    AssertSame(fast, reference, $"{granularity} C={channels} S={spatial} capacity={capacity}");
                }
            }
        }

        [TestMethod]
        public void EstimatorMatchesTheScalarOneOnSpansOfEveryLength()
        {
            var random = new Random(5);
            foreach (int capacity in new[] { 1, 7, 64 })
            {
                var fast = new PercentileEstimator(99, capacity);
                var reference = new ScalarPercentileEstimator(99, capacity);
                for (int length = 0; length < 70; length++)
                {
                    float[] values = Make((Kind)(length % 3), length, 1 + (length / 10f), random);
                    fast.Add(values);
                    reference.Add(values);
                    Assert.AreEqual(reference.Count, fast.Count);
                    Assert.AreEqual(reference.HeapCount, fast.HeapCount);
                    if (fast.Count > 0)
                    {
                        foreach (double p in s_percentiles)
                        {
                            Assert.AreEqual(PercentileBits(reference.GetPercentile(p)), PercentileBits(fast.GetPercentile(p)), $"p={p}, after {length}");
                            Assert.AreEqual(Bits(reference.GetErrorBound(p)), Bits(fast.GetErrorBound(p)), $"bound p={p}, after {length}");
                        }
                    }
                }
            }
        }

        [TestMethod]
        public void EstimatorMatchesTheScalarOneOnManyTiesAndRepeatedSelections()
        {
            // Few distinct values (many ties at the kept boundary) and far more values than twice the capacity, so
            // the candidates are selected many times; then a rising stream (every value a new candidate).
            var random = new Random(17);
            foreach (int capacity in new[] { 1, 2, 5, 300 })
            {
                var fast = new PercentileEstimator(99.9, capacity, 64);
                var reference = new ScalarPercentileEstimator(99.9, capacity, 64);
                for (int b = 0; b < 40; b++)
                {
                    float[] values = b < 30
                        ? Enumerable.Range(0, 997).Select(_ => (float)random.Next(-3, 6)).ToArray()
                        : Enumerable.Range(0, 997).Select(i => (float)((b * 1000) + i)).ToArray();
                    fast.Add(values);
                    reference.Add(values);
                    Assert.AreEqual(reference.HeapCount, fast.HeapCount);
                    Assert.IsTrue(fast.HeapStorageLength <= 2 * capacity);
                    foreach (double p in s_percentiles.Append(99.95).Append(99.999))
                    {
                        Assert.AreEqual(PercentileBits(reference.GetPercentile(p)), PercentileBits(fast.GetPercentile(p)), $"capacity {capacity} p={p} after {b}");
                        Assert.AreEqual(Bits(reference.GetErrorBound(p)), Bits(fast.GetErrorBound(p)), $"bound p={p}");
                    }
                }
            }
        }

        [TestMethod]
        public void MomentsMatchTheScalarOnesOnSpansOfEveryLength()
        {
            var random = new Random(9);
            var fast = new RunningMoments();
            var reference = new ScalarRunningMoments();
            for (int length = 0; length < 100; length++)
            {
                float[] values = Make((Kind)(length % 3), length, 1000f, random);
                fast.AddBatch(values);
                reference.AddBatch(values);
                Assert.AreEqual(Bits(reference.Mean), Bits(fast.Mean), $"mean after {length}");
                Assert.AreEqual(Bits(reference.Variance), Bits(fast.Variance), $"variance after {length}");
            }
        }

        [TestMethod]
        [DataRow(StatisticsGranularity.Layer)]
        [DataRow(StatisticsGranularity.Channel)]
        [DataRow(StatisticsGranularity.Neuron)]
        public void BadValuesFailLikeTheScalarImplementationAndChangeNothing(StatisticsGranularity granularity)
        {
            var random = new Random(3);
            var fast = new ChannelStatistics(3, 8, granularity);
            var reference = new ScalarChannelStatistics(3, 8, granularity);
            float[] good = Make(Kind.Gaussian, 2 * 24, 1, random);
            fast.AddBatch(good, 2);
            reference.AddBatch(good, 2);
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                foreach (int position in new[] { 0, 13, 47 })
                {
                    float[] data = Make(Kind.Gaussian, 2 * 24, 1, random);
                    data[position] = bad;
                    if (bad == float.PositiveInfinity)
                    {
                        data[(position + 5) % data.Length] = float.NaN;
                    }

                    var expected = Assert.ThrowsExactly<ArgumentException>(() => reference.AddBatch(data, 2));
                    var actual = Assert.ThrowsExactly<ArgumentException>(() => fast.AddBatch(data, 2));
                    Assert.AreEqual(expected.Message, actual.Message);
                    Assert.AreEqual(expected.ParamName, actual.ParamName);
                }
            }

            AssertSame(fast, reference, granularity.ToString());
        }

        internal static float[] Make(Kind kind, int length, float scale, Random random)
        {
            var values = new float[length];
            for (int i = 0; i < length; i++)
            {
                float g = CalibrationReference.NextGaussian(random) * scale;
                values[i] = kind switch
                {
                    Kind.Relu => Math.Max(0f, g),
                    Kind.Gaussian => g + (0.3f * scale),
                    _ => (i % 7) switch
                    {
                        0 => -0f,
                        1 => 0f,
                        2 => float.Epsilon * (i % 3),
                        3 => MathF.Round(g),
                        4 => -float.Epsilon,
                        _ => g,
                    },
                };
            }

            return values;
        }

        private static void AssertSame(ChannelStatistics fast, ScalarChannelStatistics reference, string what)
        {
            Assert.AreEqual(reference.Count, fast.Count, what);
            Assert.AreEqual(reference.ValueCount, fast.ValueCount, what);
            Assert.AreEqual(reference.StatisticCount, fast.StatisticCount, what);
            AssertBits(reference.GetMax(), fast.GetMax(), what + " max");
            AssertBits(reference.GetMin(), fast.GetMin(), what + " min");
            AssertBits(reference.GetMean(), fast.GetMean(), what + " mean");
            AssertBits(reference.GetVariance(), fast.GetVariance(), what + " variance");
            if (fast.Granularity != StatisticsGranularity.Neuron)
            {
                foreach (double p in s_percentiles)
                {
                    AssertBits(reference.GetPercentile(p).Select(v => v + 0f).ToArray(), fast.GetPercentile(p).Select(v => v + 0f).ToArray(), $"{what} p={p} (zeros of either sign)");
                    CollectionAssert.AreEqual(reference.GetPercentileErrorBound(p).Select(Bits).ToArray(), fast.GetPercentileErrorBound(p).Select(Bits).ToArray(), $"{what} bound p={p}");
                }
            }
        }

        private static void AssertBits(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
        {
            Assert.AreEqual(expected.Count, actual.Count, what);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.AreEqual(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(actual[i]), $"{what} [{i}]: {expected[i]:R} vs {actual[i]:R}");
            }
        }

        private static long Bits(double value) => BitConverter.DoubleToInt64Bits(value);

        /// <summary>
        /// The bits of a percentile, with −0 read as +0: which of several equal values are kept exactly depends on the
        /// order they are compared in (a heap in the scalar version, a selection now), and −0 equals +0, so a zero
        /// percentile may come back with either sign. Every other value must be bit for bit the same.
        /// </summary>
        private static long PercentileBits(double value) => Bits(value + 0.0);
    }
}
