// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>Neuron-wise statistics (one per element of the per-sample tensor) and oracle 25 at every granularity.</summary>
    [TestClass]
    public sealed class NeuronStatisticsTests
    {
        [TestMethod]
        [DataRow(StatisticsGranularity.Layer)]
        [DataRow(StatisticsGranularity.Channel)]
        [DataRow(StatisticsGranularity.Neuron)]
        public void Oracle25PooledMomentsAtEachGranularity(StatisticsGranularity granularity)
        {
            // Batches {1, 3} (B = 2) then {5} (B = 1) → mean 3, population variance 8/3.
            var single = new ChannelStatistics(1, 1, granularity);
            single.AddBatch(new float[] { 1, 3 }, 2);
            single.AddBatch(new float[] { 5 }, 1);
            Assert.AreEqual(3.0, single.GetMean()[0], 1e-6);
            Assert.AreEqual(8.0 / 3.0, single.GetVariance()[0], 1e-6);

            // The same three samples over a [2, 3] tensor: every element, channel and the layer see 1, 3, 5.
            var tensor = new ChannelStatistics(2, 3, granularity);
            tensor.AddBatch(Enumerable.Repeat(1f, 6).Concat(Enumerable.Repeat(3f, 6)).ToArray(), 2);
            tensor.AddBatch(Enumerable.Repeat(5f, 6).ToArray(), 1);
            int expectedCount = granularity switch
            {
                StatisticsGranularity.Layer => 1,
                StatisticsGranularity.Channel => 2,
                _ => 6,
            };
            Assert.AreEqual(expectedCount, tensor.StatisticCount);
            foreach (float mean in tensor.GetMean())
            {
                Assert.AreEqual(3.0, mean, 1e-6);
            }

            foreach (float variance in tensor.GetVariance())
            {
                Assert.AreEqual(8.0 / 3.0, variance, 1e-6);
            }

            CollectionAssert.AreEqual(Enumerable.Repeat(5f, expectedCount).ToArray(), tensor.GetMax());
            CollectionAssert.AreEqual(Enumerable.Repeat(1f, expectedCount).ToArray(), tensor.GetMin());
        }

        [TestMethod]
        [DataRow(3, 17, new[] { 1 }, 0f)]
        [DataRow(3, 17, new[] { 3, 1, 4, 1, 5 }, 0f)]
        [DataRow(8, 32, new[] { 64, 7 }, 0f)]
        [DataRow(1, 5, new[] { 1, 1, 1, 1, 1, 1, 1, 1 }, 0f)]
        [DataRow(4, 9, new[] { 16, 16, 16, 2 }, 1000f)]
        public void NeuronStatisticsMatchTwoPassReference(int channels, int spatial, int[] batchSizes, float offset)
        {
            var stats = new ChannelStatistics(channels, spatial, StatisticsGranularity.Neuron);
            int size = channels * spatial;
            var perElement = new List<float>[size];
            for (int e = 0; e < size; e++)
            {
                perElement[e] = new List<float>();
            }

            var random = new Random((channels * 31) + batchSizes.Length);
            foreach (int batchSize in batchSizes)
            {
                var data = new float[batchSize * size];
                for (int i = 0; i < data.Length; i++)
                {
                    // Element-dependent scale and offset; ReLU-like zeros in about half the values.
                    int element = i % size;
                    float v = offset + ((1 + (element % 5)) * CalibrationReference.NextGaussian(random)) + (element % 3);
                    v = random.Next(2) == 0 && offset == 0 ? Math.Max(v, 0f) : v;
                    data[i] = v;
                    perElement[element].Add(v);
                }

                stats.AddBatch(data, batchSize);
            }

            long samples = batchSizes.Sum();
            Assert.AreEqual(size, stats.StatisticCount);
            Assert.AreEqual(samples, stats.Count);
            Assert.AreEqual(samples, stats.ValueCount);
            float[] max = stats.GetMax();
            float[] min = stats.GetMin();
            float[] mean = stats.GetMean();
            float[] variance = stats.GetVariance();
            for (int e = 0; e < size; e++)
            {
                Assert.AreEqual(perElement[e].Max(), max[e], $"max of element {e}");
                Assert.AreEqual(perElement[e].Min(), min[e], $"min of element {e}");
                (double m, double v) = CalibrationReference.MeanAndPopulationVariance(perElement[e]);
                Assert.AreEqual(m, mean[e], 1e-6 * Math.Max(1, Math.Abs(m)), $"mean of element {e}");
                Assert.AreEqual(v, variance[e], (1e-5 * v) + 1e-9, $"variance of element {e}");
            }
        }

        [TestMethod]
        public void PercentilesAreNotAvailablePerNeuron()
        {
            var stats = new ChannelStatistics(2, 3, StatisticsGranularity.Neuron);
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetPercentile());
            stats.AddBatch(new float[] { 1, 2, 3, 4, 5, 6 }, 1);
            var error = Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetPercentile());
            StringAssert.Contains(error.Message, "layer or channel granularity only");
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetPercentile(99));
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetPercentileErrorBound(99));
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetEstimator(0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => stats.GetPercentile(0));
            CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4, 5, 6 }, stats.GetMax());
        }

        [TestMethod]
        public void NeuronStatisticsRejectBadInputUnchanged()
        {
            var stats = new ChannelStatistics(2, 2, StatisticsGranularity.Neuron);
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetMean());
            Assert.ThrowsExactly<InvalidOperationException>(() => stats.GetMax());
            stats.AddBatch(new float[] { 1, 2, 3, 4 }, 1);
            var bad = new float[] { 9, 9, 9, 9, 9, 9, 9, float.PositiveInfinity };
            Assert.ThrowsExactly<ArgumentException>(() => stats.AddBatch(bad, 2));
            Assert.ThrowsExactly<ArgumentException>(() => stats.AddBatch(new float[3], 1));
            stats.AddBatch(ReadOnlySpan<float>.Empty, 0);
            Assert.AreEqual(1L, stats.Count);
            CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4 }, stats.GetMax());
            CollectionAssert.AreEqual(new float[] { 0, 0, 0, 0 }, stats.GetVariance());
        }

        [TestMethod]
        public void CalibratorCollectsNeuronStatisticsConsistentWithChannels()
        {
            (Network ann, List<float[]> samples) = SmallNetwork(37);
            var options = new CalibrationOptions { Granularity = StatisticsGranularity.Neuron, IncludePreActivations = true, BatchSize = 8 };
            CalibrationResult neurons = Calibrator.Collect(ann, samples, options);
            CalibrationResult channels = Calibrator.Collect(ann, samples, new CalibrationOptions { IncludePreActivations = true, BatchSize = 5 });

            Assert.AreEqual(StatisticsGranularity.Neuron, neurons.Granularity);
            Assert.AreEqual(37L, neurons.SampleCount);
            foreach ((string name, SiteStatistics site) in neurons.Sites)
            {
                SiteStatistics reference = channels.Sites[name];
                foreach ((ChannelStatistics perNeuron, ChannelStatistics perChannel) in new[] { (site.Output, reference.Output), (site.Input!, reference.Input!) })
                {
                    int c = perChannel.Channels;
                    int s = perChannel.SpatialSize;
                    Assert.AreEqual(c * s, perNeuron.StatisticCount);
                    Assert.AreEqual(37L, perNeuron.ValueCount);
                    float[] max = perNeuron.GetMax();
                    float[] mean = perNeuron.GetMean();
                    float[] variance = perNeuron.GetVariance();
                    for (int ch = 0; ch < c; ch++)
                    {
                        // Equal counts per neuron: the channel mean is the mean of the neuron means, and the channel
                        // variance the mean neuron variance plus the variance of the neuron means.
                        var means = mean.Skip(ch * s).Take(s).Select(v => (double)v).ToArray();
                        double channelMean = means.Average();
                        double channelVariance = variance.Skip(ch * s).Take(s).Average(v => (double)v) + means.Average(m => (m - channelMean) * (m - channelMean));
                        Assert.AreEqual(perChannel.GetMax()[ch], max.Skip(ch * s).Take(s).Max(), $"{name} channel {ch} max");
                        Assert.AreEqual(perChannel.GetMean()[ch], channelMean, 1e-5 * Math.Max(1, Math.Abs(channelMean)), $"{name} channel {ch} mean");
                        Assert.AreEqual(perChannel.GetVariance()[ch], channelVariance, 1e-5 * Math.Max(1e-3, channelVariance), $"{name} channel {ch} variance");
                    }
                }

                // Neuron-wise threshold iteration on the pre-activation statistics gives finite thresholds.
                float[] thresholds = ThresholdIteration.Solve(site.Input!.GetMean(), site.Input.GetVariance(), ThresholdIteration.LevelCount(8, 2));
                Assert.IsTrue(thresholds.All(t => float.IsFinite(t) && t >= 0), $"{name}: thresholds must be finite and non-negative");
            }

            var error = Assert.ThrowsExactly<ArgumentException>(() => RateCodingConverter.Convert(ann, neurons));
            Assert.AreEqual("statistics", error.ParamName);
            StringAssert.Contains(error.Message, "per neuron");
        }

        [TestMethod]
        public void CalibratorRejectsUnknownGranularity()
        {
            (Network ann, List<float[]> samples) = SmallNetwork(2);
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { Granularity = (StatisticsGranularity)9 }));
            Assert.AreEqual("options", error.ParamName);
        }

        /// <summary>Conv → ReLU → Conv → ReLU → dense on a [2, 6, 6] input, with random weights.</summary>
        internal static (Network Ann, List<float[]> Samples) SmallNetwork(int sampleCount)
        {
            var random = new Random(19);
            float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale).ToArray();
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 3, 2, 3, 3 }, Random(54, 0.5f)), Random(3, 0.2f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new ReluLayer("r1", "Relu", "c1", "r1"),
                new ConvLayer("c2", "Conv", "r1", "c2", new FloatTensor(new[] { 4, 3, 3, 3 }, Random(108, 0.4f)), Random(4, 0.2f), new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new ReluLayer("r2", "Relu", "c2", "r2"),
                new ReshapeLayer("f", "Flatten", "r2", "f", new[] { 36 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 3, 36 }, Random(108, 0.3f)), Random(3, 0.1f)),
            };
            var ann = new Network("x", new[] { 2, 6, 6 }, layers, "y", "fixture");
            var samples = Enumerable.Range(0, sampleCount).Select(_ => Random(72, 1f)).ToList();
            return (ann, samples);
        }
    }
}
