// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.ParallelConversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.ML.Spiking.Tests.Import;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>
    /// The parallel-neuron oracles of algorithms.md §6 (cases 7–12: θ = 1, ψ = 0.5, T = 4) through the lowered
    /// simulator, and the lossless QCFS pipeline (T = L reproduces the QCFS ANN exactly).
    /// </summary>
    [TestClass]
    public sealed class ParallelOracleTests
    {
        private static SpikingNetwork Single(SpikeOrder order, float amplitude = 1f, float stepShift = 0f) => new SpikingNetwork(
            new Network("x", new[] { 1 }, new Layer[] { new ParallelNeuronLayer("p", "Relu", "x", "y", new[] { 1f }, new[] { amplitude }, new[] { stepShift }, order) }, "y", "oracle"),
            ConversionMethod.Parallel, Array.Empty<string>());

        private static float[] Train(SimulationResult result) => Enumerable.Range(1, result.TimeSteps).Select(t => result.GetStepOutput(t, 0)[0]).ToArray();

        private static SimulationResult Run(SpikingNetwork snn, float[] perStep)
        {
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = perStep.Length });
            return simulator.RunSequence(perStep, 1);
        }

        [TestMethod]
        [DataRow(new[] { 0.3f, 0.3f, 0.3f, 0.3f }, new[] { 1f, 0f, 0f, 0f }, new[] { 0f, 0f, 0f, 1f }, DisplayName = "Case 7: constant 0.3, N = 1")]
        [DataRow(new[] { 0f, 0f, 0f, 1.6f }, new[] { 1f, 1f, 0f, 0f }, new[] { 0f, 0f, 1f, 1f }, DisplayName = "Case 8: late input, N = 2 (sequential IF gives 1)")]
        [DataRow(new[] { 1.0f, 0f, 0f, 0.2f }, new[] { 1f, 0f, 0f, 0f }, new[] { 0f, 0f, 0f, 1f }, DisplayName = "Case 9a: N = 1")]
        [DataRow(new[] { -1f, 0.5f, 0.5f, 0.5f }, new[] { 1f, 0f, 0f, 0f }, new[] { 0f, 0f, 0f, 1f }, DisplayName = "Case 9b: negative first input, N = 1")]
        [DataRow(new[] { 2f, 2f, 2f, 2f }, new[] { 1f, 1f, 1f, 1f }, new[] { 1f, 1f, 1f, 1f }, DisplayName = "Case 9c: clipped at T")]
        [DataRow(new[] { 0.6f, 0.6f, 0.6f, 0.6f }, new[] { 1f, 1f, 0f, 0f }, new[] { 0f, 0f, 1f, 1f }, DisplayName = "Case 9d: constant 0.6, N = 2")]
        public void ParallelNeuronOracle(float[] input, float[] codeOrder, float[] paperOrder)
        {
            CollectionAssert.AreEqual(codeOrder, Train(Run(Single(SpikeOrder.FirstSteps), input)), "first steps (code)");
            CollectionAssert.AreEqual(paperOrder, Train(Run(Single(SpikeOrder.LastSteps), input)), "last steps (paper)");
            SimulationResult result = Run(Single(SpikeOrder.FirstSteps), input);
            Assert.AreEqual((long)codeOrder.Sum(), Enumerable.Range(1, 4).Sum(t => result.GetSpikeCount(0, t, 0)));
        }

        /// <summary>Case 9d's sequential IF equivalent (θ = 1, v(0) = θ/2) spikes [1,0,1,0]: the same count, another order.</summary>
        [TestMethod]
        public void SequentialIfGivesTheSameCountInAnotherOrder()
        {
            var ifNet = new SpikingNetwork(new Network("x", new[] { 1 }, new Layer[] { new IfNeuronLayer("p", "Relu", "x", "y", new[] { 1f }, 0.5f, ResetMode.Subtract) }, "y", "if"),
                ConversionMethod.RateCoding, Array.Empty<string>());
            CollectionAssert.AreEqual(new[] { 1f, 0f, 1f, 0f }, Train(Run(ifNet, new[] { 0.6f, 0.6f, 0.6f, 0.6f })));
        }

        /// <summary>The sequential equivalent keeps θ and gives the same counts on a constant input; a calibrated network has none.</summary>
        [TestMethod]
        public void SequentialEquivalentOfAParallelNetwork()
        {
            SpikingNetwork parallel = Single(SpikeOrder.FirstSteps);
            SpikingNetwork sequential = ParallelConverter.SequentialEquivalent(parallel);
            Assert.AreEqual(ConversionMethod.RateCoding, sequential.Method);
            CollectionAssert.AreEqual(new[] { 1f, 0f, 1f, 0f }, Train(Run(sequential, new[] { 0.6f, 0.6f, 0.6f, 0.6f })));
            Assert.AreEqual(2f, Train(Run(parallel, new[] { 0.6f, 0.6f, 0.6f, 0.6f })).Sum(), "same count");
            StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => ParallelConverter.SequentialEquivalent(Single(SpikeOrder.FirstSteps, amplitude: 1.1f))).Message, "distribution-aware");
        }

        /// <summary>Case 10: distribution-aware neuron θ = 1, φ = 0.1, ψ_DA = 0.05, T = 4, mean input 0.3 → N = 1, [1.1, 0, 0, 0], rate 0.275.</summary>
        [TestMethod]
        public void Case10DistributionAwareNeuron()
        {
            SimulationResult result = Run(Single(SpikeOrder.FirstSteps, amplitude: 1.1f, stepShift: 0.05f), new[] { 0.3f, 0.3f, 0.3f, 0.3f });
            CollectionAssert.AreEqual(new[] { 1.1f, 0f, 0f, 0f }, Train(result));
            Assert.AreEqual(0.275f, result.GetEstimate(4, 0)[0], 1e-7);
        }

        /// <summary>Case 11: max over sorted trains with counts 1 and 3 is [1,1,1,0] (count 3).</summary>
        [TestMethod]
        public void Case11MaxPoolOfSortedTrains()
        {
            var net = new SpikingNetwork(new Network("x", new[] { 1, 1, 2 }, new Layer[]
            {
                new ParallelNeuronLayer("p", "Relu", "x", "s", new[] { 1f }, null, null, SpikeOrder.FirstSteps),
                new PoolLayer("mp", "MaxPool", "s", "y", PoolKind.Max, new[] { 1, 2 }, new[] { 1, 2 }, new[] { 0, 0, 0, 0 }, false, false),
            }, "y", "maxpool"), ConversionMethod.Parallel, Array.Empty<string>());
            using var simulator = new SpikingSimulator(net, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(new[] { 0.3f, 0.8f }, 1);   // counts floor(1.7) = 1 and floor(3.7) = 3
            CollectionAssert.AreEqual(new[] { 1f, 1f, 1f, 0f }, Train(result));
            Assert.AreEqual(4L, Enumerable.Range(1, 4).Sum(t => result.GetSpikeCount(0, t, 0)), "1 + 3 spikes before pooling");
        }

        /// <summary>Case 12: x = 0.4 → Linear(1, 0.1) → parallel neuron → Linear(2, 0): spikes [1,1,0,0], outputs [2,2,0,0], mean 1.0 = QCFS(L = 4) ANN.</summary>
        [TestMethod]
        public void Case12TwoLayerNetwork()
        {
            var net = new SpikingNetwork(new Network("x", new[] { 1 }, new Layer[]
            {
                new DenseLayer("l1", "Gemm", "x", "h", new FloatTensor(new[] { 1, 1 }, new[] { 1f }), new[] { 0.1f }),
                new ParallelNeuronLayer("p", "Relu", "h", "s", new[] { 1f }, null, null, SpikeOrder.FirstSteps),
                new DenseLayer("l2", "Gemm", "s", "y", new FloatTensor(new[] { 1, 1 }, new[] { 2f }), new[] { 0f }),
            }, "y", "two-layer"), ConversionMethod.Parallel, Array.Empty<string>());
            using var simulator = new SpikingSimulator(net, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(new[] { 0.4f }, 1);
            CollectionAssert.AreEqual(new[] { 2f, 2f, 0f, 0f }, Train(result));
            CollectionAssert.AreEqual(new long[] { 1, 1, 0, 0 }, Enumerable.Range(1, 4).Select(t => result.GetSpikeCount(0, t, 0)).ToArray());
            Assert.AreEqual(1.0f, result.GetEstimate(4, 0)[0]);
            Assert.AreEqual(1.0, 2 * QcfsLayer.Evaluate(0.5, 1, 4), 1e-12);
        }

        /// <summary>T = L: the parallel network reproduces the QCFS ANN bit for bit on a fixture and on the project's QCFS demo models.</summary>
        [TestMethod]
        [DataRow(4)]
        [DataRow(7)]
        public void QcfsFixtureAtTEqualsLIsLossless(int levels)
        {
            Network ann = BitSerialOracleTests.QcfsFixture(levels);
            SpikingNetwork snn = ParallelConverter.Convert(ann, null);
            const int batch = 40;
            float[] inputs = Enumerable.Range(0, batch * 72).Select(i => (float)new Random(i + 17).NextDouble()).ToArray();
            using var annRunner = new AnnRunner(ann);
            float[] expected = annRunner.Run(inputs, batch);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = levels });
            SimulationResult result = simulator.Run(inputs, batch);
            for (int b = 0; b < batch; b++)
            {
                Assert.AreEqual(SimulationResult.ArgMax(expected.AsSpan(b * 5, 5)), result.Predict(levels, b), $"sample {b}");
                float[] logits = result.GetEstimate(levels, b).ToArray();
                for (int k = 0; k < 5; k++)
                {
                    Assert.AreEqual(expected[b * 5 + k], logits[k], 1e-5, $"sample {b}, class {k}: the mean over T steps of the per-step output");
                }
            }
        }

        [TestMethod]
        [DataRow("shapes-qcfs-l3.onnx", 3)]
        [DataRow("shapes-qcfs-l7.onnx", 7)]
        [DataRow("shapes-qcfs-l15.onnx", 15)]
        public void DemoModelAtTEqualsLEqualsItsQcfsAnnOnEveryShippedImage(string file, int levels)
        {
            (float[][] pixels, int[] labels) = DemoModelImportTests.s_images.Value;
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(DemoModelImportTests.AssetPath(file)));
            SpikingNetwork snn = ParallelConverter.Convert(ann, null);
            float[] batch = pixels.SelectMany(p => p).ToArray();
            using var annRunner = new AnnRunner(ann);
            float[] expected = annRunner.Run(batch, pixels.Length);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = levels });
            SimulationResult result = simulator.Run(batch, pixels.Length);
            int agree = Enumerable.Range(0, pixels.Length).Count(i => result.Predict(levels, i) == SimulationResult.ArgMax(expected.AsSpan(i * 10, 10)));
            Assert.AreEqual(pixels.Length, agree, $"{file}: predictions identical to the QCFS ANN on every image");
            Console.WriteLine($"{file}: T = L = {levels}: SNN = QCFS ANN on {agree}/{pixels.Length}, accuracy {100.0 * Enumerable.Range(0, pixels.Length).Count(i => result.Predict(levels, i) == labels[i]) / pixels.Length:F2} %");
        }

        /// <summary>Training-free ReLU pipeline with distribution-aware calibration: the corrections move, stay finite, and the calibrated network runs.</summary>
        [TestMethod]
        public void DistributionAwareCalibrationMovesTheCorrections()
        {
            Network relu = BitSerialOracleTests.QcfsFixture(7).WithLayers(BitSerialOracleTests.QcfsFixture(7).Layers.Select(l => l is QcfsLayer q ? new ReluLayer(q.Name, "Relu", q.Inputs[0], q.Output) : l).ToList());
            float[][] samples = Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, 72).Select(j => (float)new Random(i * 100 + j).NextDouble()).ToArray()).ToArray();
            CalibrationResult stats = Calibrator.Collect(relu, samples);
            var options = new ParallelOptions { TimeSteps = 4, BatchSize = 8 };
            SpikingNetwork plain = ParallelConverter.Convert(relu, stats, options);
            SpikingNetwork calibrated = ParallelConverter.Calibrate(plain, relu, samples, options);
            var neurons = calibrated.Network.Layers.OfType<ParallelNeuronLayer>().ToList();
            Assert.AreEqual(3, neurons.Count);
            Assert.IsTrue(neurons.All(n => n.StepShift.All(float.IsFinite) && n.Amplitude.All(float.IsFinite)));
            Assert.IsTrue(neurons.Any(n => n.StepShift.Any(v => v != 0) && n.Amplitude.Where((a, c) => a != n.Threshold[c]).Any()), "ψ_DA and φ_DA moved");
            StringAssert.Contains(calibrated.Notes.Last(), "8 batch(es)");
            using var simulator = new SpikingSimulator(calibrated, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(samples[0], 1);
            Assert.IsTrue(result.GetEstimate(4, 0).ToArray().All(float.IsFinite));
        }
    }
}

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    using Microsoft.ML.Spiking.Conversion.BitSerial;

    /// <summary>Block methods count synaptic operations on 0/1 spike planes with the MatMul forms; the indicator form must agree exactly.</summary>
    [TestClass]
    public sealed class BlockSynapticCountTests
    {
        /// <summary>The QCFS fixture (L = 7), its pooling a 2×2 max-pool when <paramref name="maxPool"/>.</summary>
        private static Network QcfsFixture(bool maxPool)
        {
            Network ann = BitSerialOracleTests.QcfsFixture(7);
            return !maxPool ? ann : ann.WithLayers(ann.Layers.Select(l => l is PoolLayer p
                ? new PoolLayer(p.Name, "MaxPool", p.Inputs[0], p.Output, PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 0, 0 }, false, false)
                : l).ToList());
        }

        private static void RequireKernels()
        {
            if (!NativeKernels.IsAvailable)
            {
                Assert.Inconclusive(NativeKernels.Status);
            }
        }

        [TestMethod]
        [DataRow(ConversionMethod.Parallel, false)]
        [DataRow(ConversionMethod.Parallel, true)]
        [DataRow(ConversionMethod.BitSerial, false)]
        [DataRow(ConversionMethod.BitSerial, true)]
        public void MatMulCountsEqualIndicatorCounts(ConversionMethod method, bool maxPool)
        {
            Network ann = QcfsFixture(maxPool);
            SpikingNetwork snn = method == ConversionMethod.Parallel ? ParallelConverter.Convert(ann, null) : BitSerialConverter.Convert(ann, null);
            int steps = method == ConversionMethod.Parallel ? 5 : 3;
            const int batch = 12;
            float[] inputs = Enumerable.Range(0, batch * 72).Select(i => (float)new Random(i + 3).NextDouble()).ToArray();
            using var fast = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps });
            using var reference = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, IndicatorCountingOnly = true });
            SimulationResult a = fast.Run(inputs, batch);
            SimulationResult b = reference.Run(inputs, batch);
            long total = 0;
            for (int layer = 0; layer < a.SynapticLayers.Count; layer++)
            {
                for (int t = 1; t <= steps; t++)
                {
                    for (int s = 0; s < batch; s++)
                    {
                        Assert.AreEqual(b.GetSynapticOperations(layer, t, s), a.GetSynapticOperations(layer, t, s), $"{method}, layer {a.SynapticLayers[layer]}, t {t}, sample {s}");
                        total += a.GetSynapticOperations(layer, t, s);
                    }
                }
            }
            Assert.IsTrue(total > 0);
        }

        /// <summary>
        /// With the native kernels a parallel network counts its spikes and synaptic operations from its neurons' counts N
        /// (TrainCounts: a histogram of N per sample and channel) instead of T spike planes; the counts must be the planes'
        /// exactly, per layer, step and sample, for either spike order and through a max-pool.
        /// </summary>
        [TestMethod]
        [DataRow(SpikeOrder.FirstSteps, false)]
        [DataRow(SpikeOrder.FirstSteps, true)]
        [DataRow(SpikeOrder.LastSteps, true)]
        public void CountsFromSpikeCountsEqualPlaneCounts(SpikeOrder order, bool maxPool)
        {
            RequireKernels();
            Network ann = QcfsFixture(maxPool);
            SpikingNetwork snn = ParallelConverter.Convert(ann, null, new ParallelOptions { Order = order });
            const int steps = 7;
            const int batch = 9;
            float[] inputs = Enumerable.Range(0, batch * 72).Select(i => (float)new Random(i + 11).NextDouble()).ToArray();
            using var counted = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps });
            using var planes = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, UseNativeKernels = false });
            SimulationResult a = counted.Run(inputs, batch);
            SimulationResult b = planes.Run(inputs, batch);
            long spikes = 0;
            long operations = 0;
            for (int t = 1; t <= steps; t++)
            {
                for (int s = 0; s < batch; s++)
                {
                    for (int layer = 0; layer < snn.NeuronLayers.Count; layer++)
                    {
                        Assert.AreEqual(b.GetSpikeCount(layer, t, s), a.GetSpikeCount(layer, t, s), $"spikes of neuron layer {layer}, t {t}, sample {s}");
                        spikes += a.GetSpikeCount(layer, t, s);
                    }
                    for (int layer = 0; layer < a.SynapticLayers.Count; layer++)
                    {
                        Assert.AreEqual(b.GetSynapticOperations(layer, t, s), a.GetSynapticOperations(layer, t, s), $"layer {a.SynapticLayers[layer]}, t {t}, sample {s}");
                        operations += a.GetSynapticOperations(layer, t, s);
                    }
                    CollectionAssert.AreEqual(b.GetStepOutput(t, s).ToArray(), a.GetStepOutput(t, s).ToArray(), $"output at t {t}, sample {s}");
                }
            }
            Assert.IsTrue(spikes > 0 && operations > 0);
        }

        /// <summary>A NaN input reaches the counting as a NaN spike count: an error that names the sample, channel and element and the value.</summary>
        [TestMethod]
        public void NanInputIsReportedByTheCounting()
        {
            RequireKernels();
            SpikingNetwork snn = ParallelConverter.Convert(QcfsFixture(maxPool: false), null);
            float[] inputs = Enumerable.Range(0, 2 * 72).Select(i => (float)new Random(i).NextDouble()).ToArray();
            inputs[72 + 5] = float.NaN;
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4 });
            Exception error = Assert.ThrowsExactly<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(() => simulator.Run(inputs, 2));
            StringAssert.Contains(error.Message, "TrainCounts: sample 1");
            StringAssert.Contains(error.Message, "nan, not an integer in [0, 4]");
        }

        /// <summary>A block that does not fit the memory budget is simulated in parts of the batch, with results identical to one call.</summary>
        [TestMethod]
        [DataRow(ConversionMethod.Parallel, false)]
        [DataRow(ConversionMethod.Parallel, true)]
        [DataRow(ConversionMethod.BitSerial, false)]
        public void BlocksOverTheMemoryBudgetRunInPartsWithTheSameResults(ConversionMethod method, bool perStepInput)
        {
            Network ann = BitSerialOracleTests.QcfsFixture(7);
            SpikingNetwork snn = method == ConversionMethod.Parallel ? ParallelConverter.Convert(ann, null) : BitSerialConverter.Convert(ann, null);
            int steps = method == ConversionMethod.Parallel ? 6 : 3;
            const int batch = 7;
            int size = 72;
            float[] inputs = Enumerable.Range(0, (perStepInput ? steps : 1) * batch * size).Select(i => (float)new Random(i + 5).NextDouble()).ToArray();
            using var whole = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps });
            using var parts = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, MemoryBudgetBytes = 3L * 4 * 4 * 36 * 8 * steps });
            SimulationResult a = perStepInput ? whole.RunSequence(inputs, batch) : whole.Run(inputs, batch);
            SimulationResult b = perStepInput ? parts.RunSequence(inputs, batch) : parts.Run(inputs, batch);
            for (int t = 1; t <= steps; t++)
            {
                for (int s = 0; s < batch; s++)
                {
                    CollectionAssert.AreEqual(a.GetEstimate(t, s).ToArray(), b.GetEstimate(t, s).ToArray(), $"t {t}, sample {s}");
                    CollectionAssert.AreEqual(a.GetStepOutput(t, s).ToArray(), b.GetStepOutput(t, s).ToArray(), $"t {t}, sample {s}");
                    for (int l = 0; l < a.NeuronLayers.Count; l++)
                    {
                        Assert.AreEqual(a.GetSpikeCount(l, t, s), b.GetSpikeCount(l, t, s));
                    }
                    Assert.AreEqual(a.GetTotalSynapticOperations(t, s), b.GetTotalSynapticOperations(t, s));
                }
            }
        }
    }
}
