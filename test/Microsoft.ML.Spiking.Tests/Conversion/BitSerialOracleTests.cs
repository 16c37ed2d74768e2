// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.BitSerial;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>
    /// The bit-serial oracles of algorithms.md §6 (cases 27–29: λ = 1, T = 3, L = 7, thresholds 4/7, 2/7, 1/7, shift
    /// 1/14) through the lowered simulator, and exact equality with the quantized ANN on networks with convolutions,
    /// average pooling, residual adds and a dense read-out.
    /// </summary>
    [TestClass]
    public sealed class BitSerialOracleTests
    {
        private static SpikingNetwork Single(bool shift) => new SpikingNetwork(
            new Network("x", new[] { 1 }, new Layer[] { new BitSerialNeuronLayer("bs", "QCFS", "x", "y", new[] { 1f }, 3, shift) }, "y", "oracle"),
            ConversionMethod.BitSerial, Array.Empty<string>());

        /// <summary>Bits per sample (one neuron per sample) read from the per-step spike counts.</summary>
        private static int[][] Bits(SpikingNetwork snn, float[] z, out SimulationResult result)
        {
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 3 });
            SimulationResult r = simulator.Run(z, z.Length);
            result = r;
            return Enumerable.Range(0, z.Length).Select(b => Enumerable.Range(1, 3).Select(t => (int)r.GetSpikeCount(0, t, b)).ToArray()).ToArray();
        }

        /// <summary>Cases 27–28: bits MSB first and the value sent, k/7, equal to QCFS(z, λ = 1, L = 7).</summary>
        [TestMethod]
        public void Cases27And28BitsAreTheQcfsLevel()
        {
            float[] z = { 0.6f, 0.95f, 1.2f, -0.3f, 0.07f, 0.0715f };
            int[][] expected = { new[] { 1, 0, 0 }, new[] { 1, 1, 1 }, new[] { 1, 1, 1 }, new[] { 0, 0, 0 }, new[] { 0, 0, 0 }, new[] { 0, 0, 1 } };
            int[][] bits = Bits(Single(shift: true), z, out SimulationResult result);
            for (int i = 0; i < z.Length; i++)
            {
                CollectionAssert.AreEqual(expected[i], bits[i], $"z = {z[i]}");
                int k = expected[i][0] * 4 + expected[i][1] * 2 + expected[i][2];
                Assert.AreEqual(QcfsLayer.Evaluate(z[i], 1, 7), k / 7.0, 1e-7, $"QCFS(z = {z[i]})");
                Assert.AreEqual((float)k / 7f, result.GetEstimate(3, i)[0], $"value sent for z = {z[i]}");
            }
            // The output layer's accumulation after each bit of z = 0.6 (bits 1,0,0): 4/7 from the first step on.
            CollectionAssert.AreEqual(new[] { 4f / 7f, 4f / 7f, 4f / 7f }, Enumerable.Range(1, 3).Select(t => result.GetEstimate(t, 0)[0]).ToArray());
        }

        /// <summary>Case 29: without the shift, z = 0.6 still gives [1,0,0] but z = 0.65 gives [1,0,0] where QCFS needs [1,0,1].</summary>
        [TestMethod]
        public void Case29TheShiftIsRequired()
        {
            int[][] unshifted = Bits(Single(shift: false), new[] { 0.6f, 0.65f }, out _);
            CollectionAssert.AreEqual(new[] { 1, 0, 0 }, unshifted[0]);
            CollectionAssert.AreEqual(new[] { 1, 0, 0 }, unshifted[1], "floor(4.55) = 4");
            int[][] shifted = Bits(Single(shift: true), new[] { 0.65f }, out _);
            CollectionAssert.AreEqual(new[] { 1, 0, 1 }, shifted[0], "QCFS: floor(5.05) = 5");
            Assert.AreEqual(5 / 7.0, QcfsLayer.Evaluate(0.65, 1, 7), 1e-12);
        }

        /// <summary>A QCFS CNN with a padded conv, average pooling, a residual add, channel-wise λ and a dense read-out.</summary>
        internal static Network QcfsFixture(int levels, int seed = 3)
        {
            var r = new Random(seed);
            float[] Rand(int n, float s) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * s).ToArray();
            float[] Lambda(int n) => Enumerable.Range(0, n).Select(_ => (float)(0.5 + r.NextDouble())).ToArray();
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 4, 2, 3, 3 }, Rand(72, 0.6f)), Rand(4, 0.2f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new QcfsLayer("q1", "QCFS", "c1", "q1", Lambda(4), levels),
                new ConvLayer("c2", "Conv", "q1", "c2", new FloatTensor(new[] { 4, 4, 3, 3 }, Rand(144, 0.5f)), Rand(4, 0.2f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new BinaryLayer("add", "Add", "c2", "q1", "s", BinaryOp.Add),
                new QcfsLayer("q2", "QCFS", "s", "q2", new[] { 1.3f }, levels),
                new PoolLayer("avg", "AveragePool", "q2", "p", PoolKind.Average, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 0, 0 }, false, false),
                new ConvLayer("c3", "Conv", "p", "c3", new FloatTensor(new[] { 6, 4, 1, 1 }, Rand(24, 0.8f)), Rand(6, 0.2f), new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, new[] { 1, 1 }, 1),
                new QcfsLayer("q3", "QCFS", "c3", "q3", Lambda(6), levels),
                new GlobalAveragePoolLayer("gap", "GlobalAveragePool", "q3", "g"),
                new ReshapeLayer("f", "Flatten", "g", "f", new[] { 6 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 5, 6 }, Rand(30, 1.5f)), Rand(5, 0.1f)),
            };
            return new Network("x", new[] { 2, 6, 6 }, layers, "y", $"qcfs-fixture-L{levels}");
        }

        private static float[] Inputs(int batch, int seed) => Enumerable.Range(0, batch * 72).Select(i => (float)new Random(seed + i).NextDouble()).ToArray();

        /// <summary>The logits equal the QCFS ANN's bit for bit, and every neuron's bits are the binary digits of its level.</summary>
        [TestMethod]
        [DataRow(1)]
        [DataRow(2)]
        [DataRow(3)]
        [DataRow(4)]
        [DataRow(6)]
        public void TrainedQcfsNetworkEqualsItsAnnExactly(int bits)
        {
            int levels = (1 << bits) - 1;
            Network ann = QcfsFixture(levels);
            SpikingNetwork snn = BitSerialConverter.Convert(ann, null);
            Assert.AreEqual(bits, snn.FixedTimeSteps);
            Assert.AreEqual(3, snn.NeuronLayers.Count);
            const int batch = 40;
            float[] inputs = Inputs(batch, bits);
            using var annRunner = new AnnRunner(BitSerialConverter.QuantizedAnn(snn));
            float[] expected = annRunner.Run(inputs, batch);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = bits });
            SimulationResult result = simulator.Run(inputs, batch);
            for (int b = 0; b < batch; b++)
            {
                CollectionAssert.AreEqual(expected.AsSpan(b * 5, 5).ToArray(), result.GetEstimate(bits, b).ToArray(), $"logits of sample {b}");
            }
            BitSerialCheck check = BitSerialCheck.Run(snn, inputs, batch);
            Assert.AreEqual(0, check.Mismatches, $"{check.Mismatches} of {check.Neurons} neurons sent bits that are not their QCFS level");
            Assert.AreEqual((long)batch * (4 * 36 + 4 * 36 + 6 * 9), check.Neurons);
        }

        /// <summary>Max-pooling of bit-serial levels (kept, with SOPs counted on the pooled bits) still equals the quantized ANN exactly.</summary>
        [TestMethod]
        public void MaxPoolOverBitSerialLevelsIsExact()
        {
            var ann = new Network("x", new[] { 2, 6, 6 }, QcfsFixture(15).Layers.Select(l => l is PoolLayer p
                ? new PoolLayer(p.Name, "MaxPool", p.Inputs[0], p.Output, PoolKind.Max, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, false, false)
                : l).ToList(), "y", "maxpool");
            SpikingNetwork snn = BitSerialConverter.Convert(ann, null);
            const int batch = 20;
            float[] inputs = Inputs(batch, 9);
            using var annRunner = new AnnRunner(BitSerialConverter.QuantizedAnn(snn));
            float[] expected = annRunner.Run(inputs, batch);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(inputs, batch);
            for (int b = 0; b < batch; b++)
            {
                CollectionAssert.AreEqual(expected.AsSpan(b * 5, 5).ToArray(), result.GetEstimate(4, b).ToArray(), $"logits of sample {b}");
                // c3 reads the pooled bits: its SOPs are counted on them at every step, not once.
                Assert.IsTrue(Enumerable.Range(2, 3).Sum(t => result.GetSynapticOperations(2, t, b)) > 0, "pooled bits keep arriving after step 1");
            }
        }

        /// <summary>Post-training quantization of a ReLU network: the spiking network equals the quantized ANN, for each way of choosing λ.</summary>
        [TestMethod]
        [DataRow(ThresholdMethod.Iteration, StatisticsGranularity.Channel)]
        [DataRow(ThresholdMethod.Percentile, StatisticsGranularity.Layer)]
        [DataRow(ThresholdMethod.Max, StatisticsGranularity.Channel)]
        public void QuantizedReluNetworkEqualsTheQuantizedAnn(ThresholdMethod quantization, StatisticsGranularity granularity)
        {
            Network relu = QcfsFixture(7).WithLayers(QcfsFixture(7).Layers.Select(l => l is QcfsLayer q ? new ReluLayer(q.Name, "Relu", q.Inputs[0], q.Output) : l).ToList());
            float[][] calibration = Enumerable.Range(0, 30).Select(i => Inputs(1, 1000 + i)).ToArray();
            CalibrationResult stats = Calibrator.Collect(relu, calibration, new CalibrationOptions { IncludePreActivations = true, Granularity = granularity });
            SpikingNetwork snn = BitSerialConverter.Convert(relu, stats, new BitSerialOptions { Bits = 4, Quantization = quantization });
            Network quantized = BitSerialConverter.QuantizedAnn(snn);
            Assert.IsTrue(quantized.Layers.OfType<QcfsLayer>().All(q => q.Levels == 15));
            const int batch = 30;
            float[] inputs = Inputs(batch, 77);
            using var annRunner = new AnnRunner(quantized);
            float[] expected = annRunner.Run(inputs, batch);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(inputs, batch);
            for (int b = 0; b < batch; b++)
            {
                CollectionAssert.AreEqual(expected.AsSpan(b * 5, 5).ToArray(), result.GetEstimate(4, b).ToArray(), $"logits of sample {b}");
            }
            Assert.AreEqual(0, BitSerialCheck.Run(snn, inputs, batch).Mismatches);
        }

        /// <summary>Bad models and options get errors that name the problem.</summary>
        [TestMethod]
        public void LevelsThatAreNotAPowerOfTwoMinusOneAreRefusedOrRequantized()
        {
            var e = Assert.ThrowsExactly<ArgumentException>(() => BitSerialConverter.Convert(QcfsFixture(8), null));
            StringAssert.Contains(e.Message, "L = 8");
            var n = Assert.ThrowsExactly<NotSupportedException>(() => BitSerialConverter.Convert(QcfsFixture(7), null, new BitSerialOptions { Bits = 4 }));
            StringAssert.Contains(n.Message, "'q1' (QCFS, L = 7): bit-serial conversion with T = 4 needs L = 2^T − 1 = 15; use T = 3");
            SpikingNetwork requantized = BitSerialConverter.Convert(QcfsFixture(7), null, new BitSerialOptions { Bits = 4, Requantize = true });
            Assert.IsTrue(requantized.NeuronLayers.Cast<BitSerialNeuronLayer>().All(l => l.Levels == 15));
            StringAssert.Contains(string.Join(" ", requantized.Notes), "re-quantized");
            var relu = new Network("x", new[] { 3 }, new Layer[] { new ReluLayer("r", "Relu", "x", "y") }, "y", "relu");
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => BitSerialConverter.Convert(relu, null)).Message, "set Bits (T)");
            StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => BitSerialConverter.Convert(relu, null, new BitSerialOptions { Bits = 3 })).Message, "No calibration statistics for ReLU 'r'");
            var floor = new Network("x", new[] { 1, 4, 4 }, new Layer[]
            {
                new QcfsLayer("q", "QCFS", "x", "q", new[] { 1f }, 3),
                new FloorLayer("fl", "Floor", "q", "y"),
            }, "y", "floor");
            StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => BitSerialConverter.Convert(floor, null)).Message, "'fl' (Floor): non-linear layer with no bit-serial form");
            var wrongT = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SpikingSimulator(BitSerialConverter.Convert(QcfsFixture(7), null), new SimulationOptions { TimeSteps = 8 }));
            StringAssert.Contains(wrongT.Message, "TimeSteps = 3");
        }
    }
}

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    using Microsoft.ML.Spiking.Graph.Passes;
    using Microsoft.ML.Spiking.Onnx;
    using Microsoft.ML.Spiking.Tests.Import;

    /// <summary>The project's QCFS demo models (L = 3, 7, 15) converted bit-serially (T = 2, 3, 4) equal their QCFS ANN on every shipped image.</summary>
    [TestClass]
    public sealed class BitSerialDemoModelTests
    {
        [TestMethod]
        [DataRow("shapes-qcfs-l3.onnx", 2)]
        [DataRow("shapes-qcfs-l7.onnx", 3)]
        [DataRow("shapes-qcfs-l15.onnx", 4)]
        public void DemoModelEqualsItsQcfsAnnOnEveryShippedImage(string file, int bits)
        {
            (float[][] pixels, int[] labels) = DemoModelImportTests.s_images.Value;
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(DemoModelImportTests.AssetPath(file)));
            SpikingNetwork snn = BitSerialConverter.Convert(ann, null);
            Assert.AreEqual(bits, snn.FixedTimeSteps, "T from the model's L");
            float[] batch = pixels.SelectMany(p => p).ToArray();
            using var annRunner = new AnnRunner(ann);
            float[] expected = annRunner.Run(batch, pixels.Length);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = bits });
            SimulationResult result = simulator.Run(batch, pixels.Length);
            int agree = 0, correct = 0;
            for (int i = 0; i < pixels.Length; i++)
            {
                CollectionAssert.AreEqual(expected.AsSpan(i * 10, 10).ToArray(), result.GetEstimate(bits, i).ToArray(), $"{file}, image {i}");
                agree += result.Predict(bits, i) == SimulationResult.ArgMax(expected.AsSpan(i * 10, 10)) ? 1 : 0;
                correct += result.Predict(bits, i) == labels[i] ? 1 : 0;
            }
            Assert.AreEqual(pixels.Length, agree);
            Assert.AreEqual(0, BitSerialCheck.Run(snn, batch, pixels.Length).Mismatches);
            Console.WriteLine($"{file}: T = {bits}, SNN = QCFS ANN on {agree}/{pixels.Length} images, accuracy {100.0 * correct / pixels.Length:F2} %");
        }
    }
}
