// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Simulation
{
    /// <summary>Synaptic operations (algorithms.md §2.12) counted in the chunk graph, against a brute-force count.</summary>
    [TestClass]
    public sealed class SynapticOperationTests
    {
        private static float[] Rand(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

        /// <summary>Inputs in [0, 1) with about <paramref name="zeroFraction"/> of them exactly zero.</summary>
        private static float[] SparseInputs(Random r, int n, double zeroFraction) =>
            Enumerable.Range(0, n).Select(_ => r.NextDouble() < zeroFraction ? 0f : (float)r.NextDouble() + 0.01f).ToArray();

        /// <summary>
        /// input [4,7,6] → conv (3x2 kernel, stride 2x1, asymmetric pads, dilation 1x2, 2 groups) → IF →
        /// conv (3x3, stride 1x2, pad 1, 3 groups) → IF → flatten → dense 72→5.
        /// </summary>
        private static Layer[] RandomLayers(Random r)
        {
            return new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 6, 2, 3, 2 }, Rand(r, 72, 0.8f)), Rand(r, 6, 0.1f), new[] { 2, 1 }, new[] { 1, 0, 1, 1 }, new[] { 1, 2 }, 2),
                new IfNeuronLayer("if1", "Relu", "c1", "s1", Enumerable.Range(0, 6).Select(_ => 0.3f + (float)r.NextDouble() * 0.4f).ToArray(), 0.5f, ResetMode.Subtract),
                new ConvLayer("c2", "Conv", "s1", "c2", new FloatTensor(new[] { 6, 2, 3, 3 }, Rand(r, 108, 0.8f)), Rand(r, 6, 0.1f), new[] { 1, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 3),
                new IfNeuronLayer("if2", "Relu", "c2", "s2", new[] { 0.4f }, 0.5f, ResetMode.Subtract),
                new ReshapeLayer("f", "Flatten", "s2", "f", new[] { 72 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 5, 72 }, Rand(r, 360, 0.5f)), Rand(r, 5, 0.1f)),
            };
        }

        private static SpikingNetwork Snn(Layer[] layers, int count, string output, int[] inputShape) =>
            new SpikingNetwork(new Network("x", inputShape, layers.Take(count).ToArray(), output, "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());

        /// <summary>Conv of the indicator (x ≠ 0) with an all-ones kernel, summed: the definition in §2.12.</summary>
        private static long BruteForceConv(ConvLayer conv, int[] inShape, int[] outShape, ReadOnlySpan<float> x)
        {
            int channels = inShape[0], height = inShape[1], width = inShape[2];
            int perGroupIn = channels / conv.Group, perGroupOut = conv.OutChannels / conv.Group;
            int kh = conv.Weight.Shape[2], kw = conv.Weight.Shape[3];
            long count = 0;
            for (int o = 0; o < conv.OutChannels; o++)
            {
                int g = o / perGroupOut;
                for (int oh = 0; oh < outShape[1]; oh++)
                {
                    for (int ow = 0; ow < outShape[2]; ow++)
                    {
                        for (int ci = 0; ci < perGroupIn; ci++)
                        {
                            int c = g * perGroupIn + ci;
                            for (int i = 0; i < kh; i++)
                            {
                                int y = oh * conv.Strides[0] - conv.Pads[0] + i * conv.Dilations[0];
                                if (y < 0 || y >= height)
                                {
                                    continue;
                                }
                                for (int j = 0; j < kw; j++)
                                {
                                    int xx = ow * conv.Strides[1] - conv.Pads[1] + j * conv.Dilations[1];
                                    if (xx >= 0 && xx < width && x[(c * height + y) * width + xx] != 0)
                                    {
                                        count++;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return count;
        }

        private static long BruteForceDense(DenseLayer dense, ReadOnlySpan<float> x)
        {
            long count = 0;
            foreach (float v in x)
            {
                if (v != 0)
                {
                    count += dense.OutFeatures;
                }
            }
            return count;
        }

        [TestMethod]
        [DataRow(true, DisplayName = "Input varying per step (RunSequence)")]
        [DataRow(false, DisplayName = "Constant input (Run): counted at every step")]
        public void CountsMatchBruteForceOnRandomSpikingNetwork(bool sequence)
        {
            const int T = 6, B = 3;
            var r = new Random(11);
            Layer[] layers = RandomLayers(r);
            int[] inputShape = { 4, 7, 6 };
            SpikingNetwork full = Snn(layers, layers.Length, "y", inputShape);
            SpikingNetwork upToIf1 = Snn(layers, 2, "s1", inputShape);
            SpikingNetwork upToIf2 = Snn(layers, 4, "s2", inputShape);
            var c1 = (ConvLayer)layers[0];
            var c2 = (ConvLayer)layers[2];
            var d = (DenseLayer)layers[5];
            Network net = full.Network;
            int inputSize = 4 * 7 * 6;
            float[] inputs = SparseInputs(r, (sequence ? T : 1) * B * inputSize, 0.4);
            long denseSops = 0;
            Assert.AreEqual(SynapticCountMode.SpikeChannels, SynapticCounting.Plan(full.Network)[1].Mode, "c2 reads spikes");
            foreach ((int chunk, bool indicatorOnly) in new[] { (1, false), (4, false), (4, true) })
            {
                var options = new SimulationOptions { TimeSteps = T, ChunkSteps = chunk, IndicatorCountingOnly = indicatorOnly };
                SimulationResult Simulate(SpikingNetwork snn)
                {
                    using var simulator = new SpikingSimulator(snn, options);
                    return sequence ? simulator.RunSequence(inputs, B) : simulator.Run(inputs, B);
                }
                SimulationResult result = Simulate(full);
                SimulationResult spikes1 = Simulate(upToIf1);
                SimulationResult spikes2 = Simulate(upToIf2);
                Assert.IsTrue(result.HasSynapticOperations);
                CollectionAssert.AreEqual(new[] { "c1", "c2", "d" }, result.SynapticLayers.ToArray());
                // TOT = the count for an all-ones input: taps that fall on the zero padding are not operations.
                float[] ones1 = Enumerable.Repeat(1f, inputSize).ToArray();
                float[] ones2 = Enumerable.Repeat(1f, 6 * 4 * 5).ToArray();
                Assert.AreEqual(BruteForceConv(c1, inputShape, net.GetShape("c1"), ones1), result.GetDenseMacs(0));
                Assert.AreEqual(BruteForceConv(c2, net.GetShape("s1"), net.GetShape("c2"), ones2), result.GetDenseMacs(1));
                Assert.IsTrue(result.GetDenseMacs(0) < c1.MacsPerSample(net.GetShape("c1")), "MacsPerSample also counts the padding taps");
                Assert.AreEqual(5L * 72, result.GetDenseMacs(2));
                Assert.AreEqual(result.GetDenseMacs(0) + result.GetDenseMacs(1) + result.GetDenseMacs(2), result.TotalDenseMacs);
                for (int t = 1; t <= T; t++)
                {
                    for (int b = 0; b < B; b++)
                    {
                        ReadOnlySpan<float> x = inputs.AsSpan(((sequence ? t - 1 : 0) * B + b) * inputSize, inputSize);
                        Assert.AreEqual(BruteForceConv(c1, inputShape, net.GetShape("c1"), x), result.GetSynapticOperations(0, t, b), $"c1, chunk {chunk}, t {t}, b {b}");
                        Assert.AreEqual(BruteForceConv(c2, net.GetShape("s1"), net.GetShape("c2"), spikes1.GetStepOutput(t, b)), result.GetSynapticOperations(1, t, b), $"c2, chunk {chunk}, t {t}, b {b}");
                        long dense = BruteForceDense(d, spikes2.GetStepOutput(t, b));
                        Assert.AreEqual(dense, result.GetSynapticOperations(2, t, b), $"d, chunk {chunk}, t {t}, b {b}");
                        Assert.AreEqual(result.GetSynapticOperations(0, t, b) + result.GetSynapticOperations(1, t, b) + dense, result.GetTotalSynapticOperations(t, b));
                        denseSops += dense;
                    }
                }
            }
            Assert.IsTrue(denseSops > 0, "the fixture should spike into the dense layer");
        }

        [TestMethod]
        public void AllOnesInputCostsTheDenseMacs()
        {
            var r = new Random(5);
            Layer[] layers = RandomLayers(r);
            SpikingNetwork snn = Snn(layers, layers.Length, "y", new[] { 4, 7, 6 });
            float[] ones = Enumerable.Repeat(1f, 2 * 4 * 7 * 6).ToArray();
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 3 });
            SimulationResult result = simulator.Run(ones, 2);
            var dense = new SpikingNetwork(new Network("x", new[] { 10 }, new Layer[] { new DenseLayer("d", "Gemm", "x", "y", new FloatTensor(new[] { 3, 10 }, Rand(r, 30, 1f)), null) }, "y", "fixture"),
                ConversionMethod.RateCoding, Array.Empty<string>());
            using var denseSimulator = new SpikingSimulator(dense, new SimulationOptions { TimeSteps = 3 });
            SimulationResult denseResult = denseSimulator.RunSequence(Enumerable.Repeat(1f, 3 * 2 * 10).ToArray(), 2);
            for (int t = 1; t <= 3; t++)
            {
                for (int b = 0; b < 2; b++)
                {
                    Assert.AreEqual(result.GetDenseMacs(0), result.GetSynapticOperations(0, t, b));
                    Assert.AreEqual(30L, denseResult.GetSynapticOperations(0, t, b));
                }
            }
            Assert.AreEqual(30L, denseResult.GetDenseMacs(0));
        }

        /// <summary>
        /// A layer with 36 M MACs: above 2^24, where a float32 sum is no longer exact, so the graph leaves per-channel
        /// (analog input) or per-row (spikes) partial sums and the host adds them.
        /// </summary>
        [TestMethod]
        public void LargeLayerCountsStayExact()
        {
            var r = new Random(9);
            var weight = new FloatTensor(new[] { 64, 64, 3, 3 }, Rand(r, 64 * 64 * 9, 0.05f));
            float[] theta = Enumerable.Range(0, 64).Select(_ => 0.5f + (float)r.NextDouble()).ToArray();
            var analog = new Network("x", new[] { 64, 32, 32 }, new Layer[] { new ConvLayer("big", "Conv", "x", "y", weight, null, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1) }, "y", "fixture");
            var neuron = new IfNeuronLayer("if", "Relu", "x", "s", theta, 0.5f, ResetMode.Subtract);
            var spiking = new Network("x", new[] { 64, 32, 32 }, new Layer[] { neuron, new ConvLayer("big", "Conv", "s", "y", weight, null, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1) }, "y", "fixture");
            var conv = (ConvLayer)analog.Layers[0];

            SynapticLayerPlan analogPlan = SynapticCounting.Plan(analog).Single();
            SynapticLayerPlan spikePlan = SynapticCounting.Plan(spiking).Single();
            // 64 × 64 channel pairs × 94² valid taps (32·3 per axis, less the 2 that fall on the padding).
            Assert.AreEqual(64L * 64 * 94 * 94, analogPlan.DenseMacs);
            Assert.AreEqual(analogPlan.DenseMacs, spikePlan.DenseMacs);
            Assert.IsTrue(analogPlan.DenseMacs > SynapticCounting.ExactFloatLimit);
            Assert.AreEqual(SynapticCountMode.Indicator, analogPlan.Mode);
            Assert.AreEqual(2, analogPlan.ReducedAxes, "per-channel partial sums");
            Assert.AreEqual(SynapticCountMode.SpikeRows, spikePlan.Mode, "32 x 32 is too large to round per channel");

            int size = 64 * 32 * 32;
            // Step 1: every input non-zero, and every neuron fires (v(0) + θ ≥ θ); step 2: sparse.
            float[] inputs = theta.SelectMany(t => Enumerable.Repeat(t, 32 * 32)).Concat(SparseInputs(r, size, 0.3)).ToArray();
            foreach (bool indicatorOnly in new[] { false, true })
            {
                var options = new SimulationOptions { TimeSteps = 2, IndicatorCountingOnly = indicatorOnly };
                using var analogSimulator = new SpikingSimulator(new SpikingNetwork(analog, ConversionMethod.RateCoding, Array.Empty<string>()), options);
                SimulationResult result = analogSimulator.RunSequence(inputs, 1);
                Assert.AreEqual(analogPlan.DenseMacs, result.GetSynapticOperations(0, 1, 0));
                Assert.AreEqual(BruteForceConv(conv, analog.InputShape, analog.GetShape("y"), inputs.AsSpan(size, size)), result.GetSynapticOperations(0, 2, 0));

                using var spikingSimulator = new SpikingSimulator(new SpikingNetwork(spiking, ConversionMethod.RateCoding, Array.Empty<string>()), options);
                using var spikesOnly = new SpikingSimulator(Snn(spiking.Layers.ToArray(), 1, "s", spiking.InputShape), options);
                result = spikingSimulator.RunSequence(inputs, 1);
                SimulationResult spikes = spikesOnly.RunSequence(inputs, 1);
                Assert.AreEqual(spikePlan.DenseMacs, result.GetSynapticOperations(0, 1, 0), "all fire at step 1");
                long expected = BruteForceConv(conv, analog.InputShape, analog.GetShape("y"), spikes.GetStepOutput(2, 0));
                Assert.IsTrue(expected > SynapticCounting.ExactFloatLimit / 4, "a dense enough step 2");
                Assert.AreEqual(expected, result.GetSynapticOperations(0, 2, 0), indicatorOnly ? "indicator" : "spike rows");
            }
        }

        /// <summary>Max-pooled spikes are still spikes (MatMul counting); average-pooled ones are not (indicator counting).</summary>
        [TestMethod]
        public void PooledSpikesAreCountedExactly()
        {
            const int T = 5, B = 2;
            var r = new Random(21);
            var layers = new Layer[]
            {
                new IfNeuronLayer("if0", "Relu", "x", "s0", new[] { 0.6f, 0.9f, 0.7f }, 0.5f, ResetMode.Subtract),
                new PoolLayer("max", "MaxPool", "s0", "m", PoolKind.Max, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, false, false),
                new ConvLayer("ca", "Conv", "m", "a", new FloatTensor(new[] { 4, 3, 3, 3 }, Rand(r, 108, 0.8f)), Rand(r, 4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new IfNeuronLayer("if1", "Relu", "a", "s1", new[] { 0.5f }, 0.5f, ResetMode.Subtract),
                new PoolLayer("avg", "AveragePool", "s1", "p", PoolKind.Average, new[] { 2, 2 }, new[] { 1, 1 }, new int[4], false, false),
                new ConvLayer("cb", "Conv", "p", "y", new FloatTensor(new[] { 2, 4, 2, 2 }, Rand(r, 32, 0.8f)), null, new[] { 1, 1 }, new int[4], new[] { 1, 1 }, 1),
            };
            int[] inputShape = { 3, 9, 9 };
            SpikingNetwork full = Snn(layers, layers.Length, "y", inputShape);
            IReadOnlyList<SynapticLayerPlan> plans = SynapticCounting.Plan(full.Network);
            Assert.AreEqual(SynapticCountMode.SpikeChannels, plans[0].Mode);
            Assert.AreEqual(SynapticCountMode.Indicator, plans[1].Mode);
            float[] inputs = SparseInputs(r, T * B * 3 * 81, 0.3);
            foreach (bool indicatorOnly in new[] { false, true })
            {
                var options = new SimulationOptions { TimeSteps = T, ChunkSteps = 3, IndicatorCountingOnly = indicatorOnly };
                using var simulator = new SpikingSimulator(full, options);
                using var pooled = new SpikingSimulator(Snn(layers, 2, "m", inputShape), options);
                using var averaged = new SpikingSimulator(Snn(layers, 5, "p", inputShape), options);
                SimulationResult result = simulator.RunSequence(inputs, B);
                SimulationResult m = pooled.RunSequence(inputs, B);
                SimulationResult p = averaged.RunSequence(inputs, B);
                long total = 0;
                for (int t = 1; t <= T; t++)
                {
                    for (int b = 0; b < B; b++)
                    {
                        long ca = BruteForceConv((ConvLayer)layers[2], full.Network.GetShape("m"), full.Network.GetShape("a"), m.GetStepOutput(t, b));
                        long cb = BruteForceConv((ConvLayer)layers[5], full.Network.GetShape("p"), full.Network.GetShape("y"), p.GetStepOutput(t, b));
                        Assert.AreEqual(ca, result.GetSynapticOperations(0, t, b), $"max-pooled, t {t}, b {b}");
                        Assert.AreEqual(cb, result.GetSynapticOperations(1, t, b), $"average-pooled, t {t}, b {b}");
                        total += ca * cb;
                    }
                }
                Assert.IsTrue(total > 0, "both layers should see spikes");
            }
        }

        [TestMethod]
        public void FanOutMapHonoursPadsStridesDilationsAndGroups()
        {
            // 1-D view: width 5, kernel 3, stride 2, pads 1/1, dilation 1 → outputs at columns −1..1, 1..3, 3..5:
            // column fan-outs 1, 2, 1, 2, 1. Height 1 with kernel 1. 4 out channels over 2 groups → 2 per group.
            var conv = new ConvLayer("c", "Conv", "x", "y", new FloatTensor(new[] { 4, 1, 1, 3 }, new float[12]), null, new[] { 1, 2 }, new[] { 0, 1, 0, 1 }, new[] { 1, 1 }, 2);
            var net = new Network("x", new[] { 2, 1, 5 }, new Layer[] { conv }, "y", "fixture");
            float[] f = SynapticCounting.ConvFanOut(conv, net.InputShape, net.GetShape("y"));
            CollectionAssert.AreEqual(new float[] { 2, 4, 2, 4, 2, 2, 4, 2, 4, 2 }, f);
            // MacsPerSample (4 × 3 × 3 = 36) also counts the 2 taps per output channel that fall on the padding.
            Assert.AreEqual(28L, (long)f.Sum());

            // Without padding every tap is an operation: Σ F = MacsPerSample. Dilation 2 and stride 3 leave gaps.
            var unpadded = new ConvLayer("u", "Conv", "x", "y", new FloatTensor(new[] { 6, 1, 2, 2 }, new float[24]), null, new[] { 3, 1 }, new int[4], new[] { 2, 1 }, 3);
            var net2 = new Network("x", new[] { 3, 9, 4 }, new Layer[] { unpadded }, "y", "fixture");
            float[] f2 = SynapticCounting.ConvFanOut(unpadded, net2.InputShape, net2.GetShape("y"));
            Assert.AreEqual(unpadded.MacsPerSample(net2.GetShape("y")), (long)f2.Sum());
            Assert.AreEqual(0f, f2[(0 * 9 + 1) * 4 + 0], "row 1 is skipped by stride 3 with dilation 2");
        }

        /// <summary>Switching the counting off leaves the simulation unchanged; prints the time the counting costs on a small CNN at T = 32.</summary>
        [TestMethod]
        public void CountingCanBeSwitchedOffWithoutChangingTheSimulation()
        {
            var r = new Random(2);
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 16, 3, 3, 3 }, Rand(r, 16 * 27, 0.4f)), Rand(r, 16, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new IfNeuronLayer("if1", "Relu", "c1", "s1", new[] { 0.5f }, 0.5f, ResetMode.Subtract),
                new ConvLayer("c2", "Conv", "s1", "c2", new FloatTensor(new[] { 32, 16, 3, 3 }, Rand(r, 32 * 144, 0.2f)), Rand(r, 32, 0.1f), new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new IfNeuronLayer("if2", "Relu", "c2", "s2", new[] { 0.5f }, 0.5f, ResetMode.Subtract),
                new ConvLayer("c3", "Conv", "s2", "c3", new FloatTensor(new[] { 32, 32, 3, 3 }, Rand(r, 32 * 288, 0.15f)), Rand(r, 32, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new IfNeuronLayer("if3", "Relu", "c3", "s3", new[] { 0.5f }, 0.5f, ResetMode.Subtract),
                new PoolLayer("p", "AveragePool", "s3", "p", PoolKind.Average, new[] { 4, 4 }, new[] { 4, 4 }, new int[4], false, false),
                new ReshapeLayer("f", "Flatten", "p", "f", new[] { 512 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 10, 512 }, Rand(r, 5120, 0.1f)), Rand(r, 10, 0.1f)),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 3, 32, 32 }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            const int B = 16;
            float[] inputs = SparseInputs(r, B * 3 * 32 * 32, 0);
            using var on = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 32 });
            using var off = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 32, CountSynapticOperations = false });
            SimulationResult withCounts = on.Run(inputs, B);
            SimulationResult without = off.Run(inputs, B);
            var sw = Stopwatch.StartNew();
            on.Run(inputs, B);
            double onSeconds = sw.Elapsed.TotalSeconds;
            sw.Restart();
            off.Run(inputs, B);
            double offSeconds = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"T = 32, batch {B}, chunk {on.GetChunkSteps(B)}: with SOP counting {onSeconds:F3} s, without {offSeconds:F3} s ({100 * (onSeconds / offSeconds - 1):F0} % overhead)");

            Assert.IsTrue(withCounts.HasSynapticOperations);
            Assert.IsFalse(without.HasSynapticOperations);
            CollectionAssert.AreEqual(withCounts.SynapticLayers.ToArray(), without.SynapticLayers.ToArray());
            Assert.AreEqual(withCounts.TotalDenseMacs, without.TotalDenseMacs);
            Assert.ThrowsExactly<InvalidOperationException>(() => without.GetSynapticOperations(0, 1, 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => withCounts.GetSynapticOperations(4, 1, 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => withCounts.GetSynapticOperations(0, 33, 0));
            for (int t = 1; t <= 32; t++)
            {
                for (int b = 0; b < B; b++)
                {
                    CollectionAssert.AreEqual(withCounts.GetStepOutput(t, b).ToArray(), without.GetStepOutput(t, b).ToArray());
                    Assert.AreEqual(withCounts.GetDenseMacs(0), withCounts.GetSynapticOperations(0, t, b), "no zero pixels: the first conv costs its MACs");
                }
            }
        }
    }
}
