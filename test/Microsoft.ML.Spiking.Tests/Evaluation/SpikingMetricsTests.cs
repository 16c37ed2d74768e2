// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Evaluation
{
    [TestClass]
    public sealed class SpikingMetricsTests
    {
        private static float[] Rand(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

        private static SpikingNetwork Snn(Network network) => new SpikingNetwork(network, ConversionMethod.RateCoding, Array.Empty<string>());

        /// <summary>input [2,6,6] → conv 2→4 (pad 1) → IF → flatten → dense 144→5.</summary>
        private static SpikingNetwork SmallSnn(Random r)
        {
            var layers = new Layer[]
            {
                new ConvLayer("c", "Conv", "x", "c", new FloatTensor(new[] { 4, 2, 3, 3 }, Rand(r, 72, 0.6f)), Rand(r, 4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new IfNeuronLayer("if", "Relu", "c", "s", new[] { 0.4f, 0.5f, 0.6f, 0.7f }, 0.5f, ResetMode.Subtract),
                new ReshapeLayer("f", "Flatten", "s", "f", new[] { 144 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 5, 144 }, Rand(r, 720, 0.3f)), Rand(r, 5, 0.1f)),
            };
            return Snn(new Network("x", new[] { 2, 6, 6 }, layers, "y", "fixture"));
        }

        /// <summary>algorithms.md §6 case 26: Linear 4→2 reading the inputs directly.</summary>
        [TestMethod]
        public void Case26EnergyDirectInput()
        {
            var dense = new DenseLayer("fc", "Gemm", "x", "y", new FloatTensor(new[] { 2, 4 }, new[] { 0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.7f, 0.8f }), null);
            SpikingNetwork snn = Snn(new Network("x", new[] { 4 }, new Layer[] { dense }, "y", "oracle"));
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 2 });
            // Step 1: three of four inputs non-zero (graded values count too); step 2: one of four.
            SimulationResult result = simulator.RunSequence(new[] { 0.5f, 1f, 0f, 2f, 0f, 0f, 0.7f, 0f }, 1);
            AssertCase26(result);
        }

        /// <summary>Case 26 with the dense layer reading IF spikes: θ = 1, v(0) = θ/2, so 0.6 fires at step 1 and 0.6 at step 2 fires once.</summary>
        [TestMethod]
        public void Case26EnergyThroughIfNeurons()
        {
            var layers = new Layer[]
            {
                new IfNeuronLayer("if", "Relu", "x", "s", new[] { 1f }, 0.5f, ResetMode.Subtract),
                new DenseLayer("fc", "Gemm", "s", "y", new FloatTensor(new[] { 2, 4 }, new[] { 0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.7f, 0.8f }), null),
            };
            SpikingNetwork snn = Snn(new Network("x", new[] { 4 }, layers, "y", "oracle"));
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 2, ChunkSteps = 1 });
            // m(1) = 0.5 + [0.6, 0.6, 0.6, 0] → three spikes, v = [0.1, 0.1, 0.1, 0.5]; m(2) = v + [0, 0, 0, 0.6] → one spike.
            SimulationResult result = simulator.RunSequence(new[] { 0.6f, 0.6f, 0.6f, 0f, 0f, 0f, 0f, 0.6f }, 1);
            Assert.AreEqual(3L, result.GetSpikeCount(0, 1, 0));
            Assert.AreEqual(1L, result.GetSpikeCount(0, 2, 0));
            SpikingMetrics metrics = AssertCase26(result);
            Assert.AreEqual(4.0, metrics.SpikesPerImage);
            Assert.AreEqual(3.0, metrics.GetSpikesPerImage(1));
            Assert.AreEqual(0.5, metrics.GetFiringRate(0), 1e-12);
            Assert.AreEqual(0.75, metrics.GetFiringRate(0, 1), 1e-12);
        }

        private static SpikingMetrics AssertCase26(SimulationResult result)
        {
            CollectionAssert.AreEqual(new[] { "fc" }, result.SynapticLayers.ToArray());
            Assert.AreEqual(6L, result.GetSynapticOperations(0, 1, 0), "SOP_1");
            Assert.AreEqual(2L, result.GetSynapticOperations(0, 2, 0), "SOP_2");
            Assert.AreEqual(8L, result.GetDenseMacs(0), "TOT");
            var metrics = new SpikingMetrics(EnergyModel.Horowitz45nm);
            metrics.Add(result, new[] { 0 });
            Assert.AreEqual(8L, metrics.AnnMacsPerImage);
            Assert.AreEqual(6.0, metrics.GetSynapticOperationsPerImage(1));
            Assert.AreEqual(8.0, metrics.GetSynapticOperationsPerImage(2));
            Assert.AreEqual(0.75, metrics.GetSynapticOperationRatio(1), 1e-12, "η(1)");
            Assert.AreEqual(0.5, metrics.GetSynapticOperationRatio(2), 1e-12, "η(2)");
            Assert.AreEqual(0.195652, metrics.GetEnergyRatio(2), 5e-7, "ratio(2)");
            Assert.AreEqual(2 * 0.9 / 4.6 * 0.5, metrics.GetEnergyRatio(2), 1e-12);
            Assert.AreEqual(0.9 / 4.6 * 0.75, metrics.GetEnergyRatio(1), 1e-12);
            Assert.AreEqual(8 * 0.9, metrics.GetSnnEnergyPerImage(2), 1e-12);
            Assert.AreEqual(8 * 4.6, metrics.AnnEnergyPerImage, 1e-12);
            return metrics;
        }

        /// <summary>Two batches of three give the same figures as one batch of six; the figures match direct counts.</summary>
        [TestMethod]
        public void StreamingBatchesEqualsOneBatch()
        {
            const int T = 7;
            var r = new Random(4);
            SpikingNetwork snn = SmallSnn(r);
            float[] inputs = Rand(r, 6 * 72, 1f);
            int[] labels = Enumerable.Range(0, 6).Select(_ => r.Next(5)).ToArray();
            int[] ann = Enumerable.Range(0, 6).Select(_ => r.Next(5)).ToArray();
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = T, ChunkSteps = 3 });
            SimulationResult all = simulator.Run(inputs, 6);
            var whole = new SpikingMetrics();
            whole.Add(all, labels, ann);
            var streamed = new SpikingMetrics();
            streamed.Add(simulator.Run(inputs.Take(3 * 72).ToArray(), 3), labels.Take(3).ToArray(), ann.Take(3).ToArray());
            streamed.Add(simulator.Run(inputs.Skip(3 * 72).ToArray(), 3), labels.Skip(3).ToArray(), ann.Skip(3).ToArray());

            Assert.AreEqual(6L, whole.Images);
            Assert.AreEqual(6L, streamed.Images);
            Assert.AreEqual(ann.Zip(labels, (a, l) => a == l ? 1.0 : 0.0).Average(), whole.AnnAccuracy!.Value, 1e-12);
            Assert.AreEqual(whole.AnnAccuracy, streamed.AnnAccuracy);
            Assert.AreEqual(whole.AnnMacsPerImage, streamed.AnnMacsPerImage);
            long neurons = snn.NeuronCounts[0];
            for (int t = 1; t <= T; t++)
            {
                double accuracy = Enumerable.Range(0, 6).Count(b => all.Predict(t, b) == labels[b]) / 6.0;
                Assert.AreEqual(accuracy, whole.GetAccuracy(t), 1e-12);
                Assert.AreEqual(accuracy, streamed.GetAccuracy(t), 1e-12);
                long spikes = Enumerable.Range(0, 6).Sum(b => Enumerable.Range(1, t).Sum(s => all.GetSpikeCount(0, s, b)));
                Assert.AreEqual(spikes / 6.0, whole.GetSpikesPerImage(t), 1e-12);
                Assert.AreEqual(spikes / (double)(neurons * t * 6), whole.GetFiringRate(0, t), 1e-12);
                long sops = Enumerable.Range(0, 6).Sum(b => Enumerable.Range(1, t).Sum(s => all.GetTotalSynapticOperations(s, b)));
                Assert.AreEqual(sops / 6.0, whole.GetSynapticOperationsPerImage(t), 1e-9);
                Assert.AreEqual(sops / (double)(all.TotalDenseMacs * t * 6), whole.GetSynapticOperationRatio(t), 1e-12);
                Assert.AreEqual(t * 0.9 / 4.6 * whole.GetSynapticOperationRatio(t), whole.GetEnergyRatio(t), 1e-12);

                Assert.AreEqual(whole.GetAccuracy(t), streamed.GetAccuracy(t));
                Assert.AreEqual(whole.GetSpikesPerImage(t), streamed.GetSpikesPerImage(t));
                Assert.AreEqual(whole.GetFiringRate(0, t), streamed.GetFiringRate(0, t));
                Assert.AreEqual(whole.GetSynapticOperationRatio(t), streamed.GetSynapticOperationRatio(t));
                Assert.AreEqual(whole.GetEnergyRatio(t), streamed.GetEnergyRatio(t));
                for (int l = 0; l < 2; l++)
                {
                    Assert.AreEqual(whole.GetSynapticOperationsPerImage(l, t), streamed.GetSynapticOperationsPerImage(l, t));
                }
            }
            Assert.IsTrue(whole.GetSpikesPerImage(T) > 0, "the fixture should spike");
            Assert.AreEqual(whole.ToString(), streamed.ToString());
        }

        [TestMethod]
        public void AnnLogitsGiveArgMaxWithTiesToTheLowestIndex()
        {
            var r = new Random(8);
            SpikingNetwork snn = SmallSnn(r);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 2 });
            SimulationResult result = simulator.Run(Rand(r, 2 * 72, 1f), 2);
            float[] logits = { 0.1f, 0.9f, 0.9f, 0.2f, 0f, /* sample 1 */ 1f, 1f, 1f, 1f, 1f };
            var metrics = new SpikingMetrics();
            metrics.AddWithAnnLogits(result, new[] { 1, 0 }, logits);
            Assert.AreEqual(1.0, metrics.AnnAccuracy);
            var wrong = new SpikingMetrics();
            wrong.AddWithAnnLogits(result, new[] { 2, 4 }, logits);
            Assert.AreEqual(0.0, wrong.AnnAccuracy);
            Assert.ThrowsExactly<ArgumentException>(() => metrics.AddWithAnnLogits(result, new[] { 1, 0 }, logits.AsSpan(1)));
        }

        [TestMethod]
        public void ReportListsEveryFigure()
        {
            var r = new Random(6);
            SpikingNetwork snn = SmallSnn(r);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 5 });
            var metrics = new SpikingMetrics();
            metrics.Add(simulator.Run(Rand(r, 4 * 72, 1f), 4), new[] { 0, 1, 2, 3 }, new[] { 0, 1, 2, 4 });
            string report = metrics.FormatTable();
            Console.WriteLine(report);
            StringAssert.Contains(report, "4 images, T = 5");
            StringAssert.Contains(report, "ANN accuracy: 75.00 %");
            StringAssert.Contains(report, "Horowitz 2014");
            StringAssert.Contains(report, "E_SNN/E_ANN");
            StringAssert.Contains(report, "if ");
            StringAssert.Contains(report, "MACs/img");
            string[] rows = report.Split('\n').Select(l => l.Trim()).ToArray();
            foreach (int t in new[] { 1, 2, 4, 5 })
            {
                Assert.IsTrue(rows.Any(l => l.StartsWith(t + " ", StringComparison.Ordinal)), $"row t = {t}");
            }
            Assert.AreEqual(report, metrics.ToString());
            string custom = metrics.FormatTable(new[] { 3 });
            Assert.IsTrue(custom.Split('\n').Any(l => l.Trim().StartsWith("3 ", StringComparison.Ordinal)));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.FormatTable(new[] { 6 }));
        }

        [TestMethod]
        public void WithoutSynapticCountsTheEnergyFiguresAreUnavailable()
        {
            var r = new Random(3);
            SpikingNetwork snn = SmallSnn(r);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 3, CountSynapticOperations = false });
            var metrics = new SpikingMetrics();
            metrics.Add(simulator.Run(Rand(r, 72, 1f), 1), new[] { 2 });
            Assert.IsFalse(metrics.HasSynapticOperations);
            Assert.IsFalse(metrics.HasAnnAccuracy);
            Assert.IsNull(metrics.AnnAccuracy);
            // Conv: 4 × 2 channel pairs × 16² valid taps (6·3 per axis less 2 on the padding); dense 144 × 5.
            Assert.AreEqual(4L * 2 * 16 * 16 + 144 * 5, metrics.AnnMacsPerImage, "MACs are known without counting");
            Assert.ThrowsExactly<InvalidOperationException>(() => metrics.GetEnergyRatio(3));
            Assert.ThrowsExactly<InvalidOperationException>(() => metrics.GetSynapticOperationsPerImage(1));
            string report = metrics.FormatTable();
            Assert.IsFalse(report.Contains("E_SNN/E_ANN", StringComparison.Ordinal));
        }

        [TestMethod]
        public void BadBatchesGiveClearErrors()
        {
            var r = new Random(1);
            SpikingNetwork snn = SmallSnn(r);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 2 });
            using var longer = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 3 });
            float[] inputs = Rand(r, 2 * 72, 1f);
            SimulationResult result = simulator.Run(inputs, 2);
            var metrics = new SpikingMetrics();
            Assert.ThrowsExactly<InvalidOperationException>(() => metrics.GetAccuracy(1));
            Assert.AreEqual("Spiking evaluation: no images", metrics.ToString());
            Assert.ThrowsExactly<ArgumentException>(() => metrics.Add(result, new[] { 0 }));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.Add(result, new[] { 0, 5 }));
            Assert.ThrowsExactly<ArgumentException>(() => metrics.Add(result, new[] { 0, 1 }, new[] { 0 }));
            Assert.ThrowsExactly<ArgumentNullException>(() => metrics.Add(null!, new[] { 0, 1 }));
            Assert.AreEqual(0L, metrics.Images, "rejected batches leave no trace");
            metrics.Add(result, new[] { 0, 1 });
            var e = Assert.ThrowsExactly<ArgumentException>(() => metrics.Add(longer.Run(inputs, 2), new[] { 0, 1 }));
            StringAssert.Contains(e.Message, "3 steps");
            Assert.ThrowsExactly<ArgumentException>(() => metrics.Add(result, new[] { 0, 1 }, new[] { 0, 1 }));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.GetAccuracy(3));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.GetAccuracy(0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.GetFiringRate(1));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => metrics.GetDenseMacs(2));
            Assert.AreEqual(2L, metrics.Images);
            Assert.ThrowsExactly<ArgumentNullException>(() => new SpikingMetrics(null!));
        }

        [TestMethod]
        public void EnergyModels()
        {
            EnergyModel h = EnergyModel.Horowitz45nm;
            Assert.AreEqual(0.9, h.EnergyPerAc);
            Assert.AreEqual(4.6, h.EnergyPerMac);
            Assert.AreEqual(0.9 / 4.6, h.AcToMacRatio, 1e-15);
            StringAssert.Contains(h.Name, "45 nm");
            StringAssert.Contains(h.ToString(), "0.9 pJ/AC");
            Assert.AreSame(h, EnergyModel.Horowitz45nm);
            var custom = new EnergyModel("8-bit int, 45 nm", 0.03, 0.23);
            Assert.AreEqual(0.03 / 0.23, custom.AcToMacRatio, 1e-15);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new EnergyModel("x", 0, 1));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new EnergyModel("x", 1, double.NaN));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new EnergyModel("x", double.PositiveInfinity, 1));
            Assert.ThrowsExactly<ArgumentException>(() => new EnergyModel(" ", 1, 1));
        }
    }
}
