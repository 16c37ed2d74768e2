// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Simulation
{
    /// <summary>
    /// The fused neuron kernels (IfScan, MtScan) against the standard-op lowering: step outputs, estimates, spike and
    /// synaptic-operation counts and predictions must be identical, bit for bit, for every chunk size.
    /// </summary>
    [TestClass]
    public sealed class NativeKernelParityTests
    {
        private static float[] Random(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

        /// <summary>A small residual CNN with max-pooling and a dense head (the ANN both codings convert).</summary>
        private static Network SmallCnn(int seed)
        {
            var r = new Random(seed);
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 4, 2, 3, 3 }, Random(r, 72, 0.5f)), Random(r, 4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new ReluLayer("r1", "Relu", "c1", "r1"),
                new ConvLayer("c2", "Conv", "r1", "c2", new FloatTensor(new[] { 4, 4, 3, 3 }, Random(r, 144, 0.4f)), Random(r, 4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new BinaryLayer("add", "Add", "c2", "r1", "s", BinaryOp.Add),
                new ReluLayer("r2", "Relu", "s", "r2"),
                new PoolLayer("p", "MaxPool", "r2", "p", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new int[4], false, false),
                new ReshapeLayer("f", "Flatten", "p", "f", new[] { 64 }),
                new DenseLayer("d", "Gemm", "f", "h", new FloatTensor(new[] { 12, 64 }, Random(r, 768, 0.3f)), Random(r, 12, 0.1f)),
                new ReluLayer("r3", "Relu", "h", "r3"),
                new DenseLayer("o", "Gemm", "r3", "y", new FloatTensor(new[] { 5, 12 }, Random(r, 60, 0.3f)), Random(r, 5, 0.1f)),
            };
            return new Network("x", new[] { 2, 8, 8 }, layers, "y", "fixture");
        }

        private static float[] Inputs(int batch, int size, int seed) => Random(new Random(seed), batch * size, 1f);

        private static CalibrationResult Calibrate(Network ann, float[] inputs, int batch)
        {
            int size = inputs.Length / batch;
            return Calibrator.Collect(ann, Enumerable.Range(0, batch).Select(i => inputs.AsSpan(i * size, size).ToArray()), new CalibrationOptions { IncludePreActivations = true });
        }

        /// <summary>Runs <paramref name="snn"/> with the kernels and with standard ops and compares everything the result holds.</summary>
        private static void AssertSameSimulation(SpikingNetwork snn, float[] inputs, int batch, int steps, int chunk)
        {
            if (!NativeKernels.IsAvailable)
            {
                Assert.Inconclusive(NativeKernels.Status);
            }
            // Bit-packed convolutions (BitPackedSimulationTests) sum in another order; this compares the neuron kernels alone.
            using var fused = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, FuseIfNeurons = true, PackSpikes = false });
            using var standard = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, UseNativeKernels = false });
            Assert.IsTrue(fused.UsesNativeKernels, SpikingSimulator.NativeKernelStatus);
            Assert.IsFalse(standard.UsesNativeKernels);
            SimulationResult expected = standard.Run(inputs, batch);
            SimulationResult actual = fused.Run(inputs, batch);
            Assert.IsTrue(expected.HasSynapticOperations && actual.HasSynapticOperations);
            long spikes = 0;
            for (int t = 1; t <= steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    AssertBits(expected.GetStepOutput(t, b), actual.GetStepOutput(t, b), $"step output, t = {t}, sample {b}");
                    AssertBits(expected.GetEstimate(t, b), actual.GetEstimate(t, b), $"estimate, t = {t}, sample {b}");
                    Assert.AreEqual(expected.Predict(t, b), actual.Predict(t, b), $"prediction, t = {t}, sample {b}");
                    for (int l = 0; l < expected.NeuronLayers.Count; l++)
                    {
                        Assert.AreEqual(expected.GetSpikeCount(l, t, b), actual.GetSpikeCount(l, t, b), $"spikes of {expected.NeuronLayers[l]}, t = {t}, sample {b}");
                        spikes += actual.GetSpikeCount(l, t, b);
                    }
                    for (int l = 0; l < expected.SynapticLayers.Count; l++)
                    {
                        Assert.AreEqual(expected.GetSynapticOperations(l, t, b), actual.GetSynapticOperations(l, t, b), $"SOPs of {expected.SynapticLayers[l]}, t = {t}, sample {b}");
                    }
                }
            }
            Assert.IsTrue(spikes > 0, "the fixture should spike");
        }

        private static void AssertBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
        {
            Assert.AreEqual(expected.Length, actual.Length, what);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(actual[i]), $"{what}, element {i}: {expected[i]} vs {actual[i]}");
            }
        }

        [TestMethod]
        [DataRow(13, 5)]
        [DataRow(8, 8)]
        [DataRow(4, 1)]
        public void RateCodingIfNeuronsMatchTheStandardOps(int steps, int chunk)
        {
            Network ann = SmallCnn(7);
            float[] inputs = Inputs(5, 128, 11);
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrate(ann, inputs, 5));
            Assert.IsTrue(snn.NeuronLayers.All(n => n is IfNeuronLayer));
            AssertSameSimulation(snn, inputs, 5, steps, chunk);
        }

        /// <summary>Reset to zero, per-channel and per-neuron θ, a time-varying input to the first neuron.</summary>
        [TestMethod]
        public void IfNeuronsWithResetToZeroAndEveryThresholdLayoutMatch()
        {
            var r = new Random(5);
            var layers = new Layer[]
            {
                new IfNeuronLayer("n1", "Relu", "x", "a", new[] { 0.4f, 0.7f, 1.1f }, 0.5f, ResetMode.Zero),
                new ReshapeLayer("f", "Flatten", "a", "f", new[] { 12 }),
                new DenseLayer("d", "Gemm", "f", "h", new FloatTensor(new[] { 6, 12 }, Random(r, 72, 0.6f)), Random(r, 6, 0.1f)),
                new IfNeuronLayer("n2", "Relu", "h", "b", new[] { 0.3f, 0.5f, 0.2f, 0.9f, 0.4f, 0.6f }, 0f, ResetMode.Zero),
                new DenseLayer("d2", "Gemm", "b", "g", new FloatTensor(new[] { 4, 6 }, Random(r, 24, 0.6f)), Random(r, 4, 0.1f)),
                new IfNeuronLayer("n3", "Relu", "g", "y", new[] { 0.25f }, 0.5f, ResetMode.Subtract),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 3, 2, 2 }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            float[] inputs = Enumerable.Range(0, 4 * 12).Select(_ => (float)r.NextDouble() * 1.5f).ToArray();
            AssertSameSimulation(snn, inputs, 4, 11, 4);
        }

        [TestMethod]
        [DataRow(8, 8, 4, FiringRule.Midpoint)]
        [DataRow(13, 5, 4, FiringRule.Nearest)]
        [DataRow(6, 1, 1, FiringRule.Midpoint)]
        public void DifferentialCodingMatchesTheStandardOps(int steps, int chunk, int levels, FiringRule rule)
        {
            Network ann = SmallCnn(3);
            float[] inputs = Inputs(4, 128, 17);
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, Calibrate(ann, inputs, 4),
                new DifferentialCodingOptions { TimeSteps = steps, ThresholdLevels = levels, Rule = rule });
            Assert.IsTrue(snn.NeuronLayers.OfType<MultiThresholdNeuronLayer>().Count() >= 3, string.Join(Environment.NewLine, snn.Notes));
            AssertSameSimulation(snn, inputs, 4, steps, chunk);
        }

        /// <summary>Differential MT neurons built directly: gated with a bias on a constant input, ungated with per-neuron θ.</summary>
        [TestMethod]
        public void DifferentialMtNeuronsWithBiasAndUngatedMatch()
        {
            var r = new Random(9);
            var layers = new Layer[]
            {
                new DenseLayer("d1", "Gemm", "x", "h", new FloatTensor(new[] { 10, 6 }, Random(r, 60, 0.7f)), Random(r, 10, 0.2f)),
                new MultiThresholdNeuronLayer("m1", "Relu", "h", "a", new[] { 0.8f }, 5, gated: true, FiringRule.Midpoint, differential: true, Random(r, 10, 0.3f)),
                new DenseLayer("d2", "Gemm", "a", "g", new FloatTensor(new[] { 7, 10 }, Random(r, 70, 0.5f)), Random(r, 7, 0.1f)),
                new MultiThresholdNeuronLayer("m2", "Identity", "g", "b", Random(r, 7, 1f).Select(MathF.Abs).ToArray(), 3, gated: false, FiringRule.Nearest, differential: true, null),
                new DenseLayer("o", "Gemm", "b", "y", new FloatTensor(new[] { 3, 7 }, Random(r, 21, 0.5f)), Random(r, 3, 0.1f)),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 6 }, layers, "y", "fixture"), ConversionMethod.DifferentialCoding, Array.Empty<string>(), Random(r, 3, 0.1f));
            AssertSameSimulation(snn, Inputs(3, 6, 21), 3, 12, 5);
        }

        /// <summary>The rate form of the MT neuron (§2.4), gated and ungated, in a rate-coded network.</summary>
        [TestMethod]
        public void RateFormMtNeuronsMatch()
        {
            var r = new Random(13);
            var layers = new Layer[]
            {
                new MultiThresholdNeuronLayer("m1", "Relu", "x", "a", new[] { 0.5f, 0.9f }, 4, gated: true, FiringRule.Midpoint, differential: false, null),
                new ReshapeLayer("f", "Flatten", "a", "f", new[] { 8 }),
                new DenseLayer("d", "Gemm", "f", "g", new FloatTensor(new[] { 5, 8 }, Random(r, 40, 0.6f)), Random(r, 5, 0.1f)),
                new MultiThresholdNeuronLayer("m2", "Identity", "g", "y", new[] { 0.6f }, 2, gated: false, FiringRule.Nearest, differential: false, null),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 2, 2, 2 }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            AssertSameSimulation(snn, Inputs(3, 8, 23), 3, 10, 3);
        }

        [TestMethod]
        public void TheStatusSaysWhetherTheKernelsLoaded()
        {
            string status = SpikingSimulator.NativeKernelStatus;
            Assert.IsFalse(string.IsNullOrWhiteSpace(status));
            Assert.AreEqual(NativeKernels.IsAvailable, status.StartsWith("fused neuron kernels loaded", StringComparison.Ordinal), status);
            if (!NativeKernels.IsAvailable)
            {
                StringAssert.Contains(status, "standard ONNX ops are used");
            }
        }

        /// <summary>Without the kernels the simulator falls back to standard ops; the option forces them either way.</summary>
        [TestMethod]
        public void TheOptionForcesTheStandardOps()
        {
            Network ann = SmallCnn(7);
            float[] inputs = Inputs(2, 128, 11);
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrate(ann, inputs, 2));
            using var standard = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, UseNativeKernels = false });
            Assert.IsFalse(standard.UsesNativeKernels);
            using var automatic = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, FuseIfNeurons = true });
            Assert.AreEqual(NativeKernels.IsAvailable, automatic.UsesNativeKernels);
            Assert.AreEqual(4, automatic.Run(inputs, 2).TimeSteps);
            using var unpacked = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, PackSpikes = false });
            Assert.IsFalse(unpacked.UsesNativeKernels, "IF neurons use the standard ops unless FuseIfNeurons is set or spikes are packed");
            using var byDefault = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4 });
            Assert.AreEqual(NativeKernels.IsAvailable, byDefault.PacksSpikes, "rate-coded IF networks pack their spikes where the kernels are available");
            Assert.AreEqual(byDefault.PacksSpikes, byDefault.UsesNativeKernels);
            using var forced = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, UseNativeKernels = false });
            Assert.IsFalse(forced.PacksSpikes, "packing needs the kernels");
            SpikingNetwork differential = DifferentialCodingConverter.Convert(ann, Calibrate(ann, inputs, 2), new DifferentialCodingOptions { Thresholds = ThresholdMethod.Max });
            using var multiThreshold = new SpikingSimulator(differential, new SimulationOptions { TimeSteps = 4 });
            Assert.AreEqual(NativeKernels.IsAvailable, multiThreshold.UsesNativeKernels, "multi-threshold neurons use the kernels by default");
        }

        /// <summary>Exported models never use the kernels' operator domain, so any ONNX runtime can load them.</summary>
        [TestMethod]
        public void StandardGraphsUseOnlyTheStandardDomain()
        {
            Network ann = SmallCnn(7);
            float[] inputs = Inputs(2, 128, 11);
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrate(ann, inputs, 2));
            byte[] standard = SnnGraphBuilder.Build(snn, 4, timeVaryingInput: false).Model;
            byte[] fused = SnnGraphBuilder.Build(snn, 4, timeVaryingInput: false, fusedNeurons: true).Model;
            Assert.IsFalse(ModelProto.Parser.ParseFrom(standard).Graph.Node.Any(n => n.Domain == NativeKernels.Domain));
            Assert.AreEqual(snn.NeuronLayers.Count, ModelProto.Parser.ParseFrom(fused).Graph.Node.Count(n => n.Domain == NativeKernels.Domain));
        }
    }
}
