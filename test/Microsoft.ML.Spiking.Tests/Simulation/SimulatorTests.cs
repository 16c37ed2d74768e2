// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.ML.Spiking.Tests.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Simulation
{
    [TestClass]
    public sealed class SimulatorTests
    {
        /// <summary>A small residual CNN with max-pooling, converted by rate coding with calibrated thresholds.</summary>
        private static (SpikingNetwork Snn, float[] Inputs) SmallSnn(int batch)
        {
            var r = new Random(7);
            float[] Rand(int n, float s) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * s).ToArray();
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 4, 2, 3, 3 }, Rand(72, 0.5f)), Rand(4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new ReluLayer("r1", "Relu", "c1", "r1"),
                new ConvLayer("c2", "Conv", "r1", "c2", new FloatTensor(new[] { 4, 4, 3, 3 }, Rand(144, 0.4f)), Rand(4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new BinaryLayer("add", "Add", "c2", "r1", "s", BinaryOp.Add),
                new ReluLayer("r2", "Relu", "s", "r2"),
                new PoolLayer("p", "MaxPool", "r2", "p", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new int[4], false, false),
                new ReshapeLayer("f", "Flatten", "p", "f", new[] { 64 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 5, 64 }, Rand(320, 0.3f)), Rand(5, 0.1f)),
            };
            var ann = new Network("x", new[] { 2, 8, 8 }, layers, "y", "fixture");
            float[] inputs = Rand(batch * 128, 1f);
            CalibrationResult stats = Calibrator.Collect(ann, Enumerable.Range(0, batch).Select(i => inputs.Skip(i * 128).Take(128).ToArray()));
            return (RateCodingConverter.Convert(ann, stats), inputs);
        }

        [TestMethod]
        public void ChunkingDoesNotChangeTheSimulation()
        {
            var (snn, inputs) = SmallSnn(6);
            using var whole = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 24, ChunkSteps = 24 });
            SimulationResult reference = whole.Run(inputs, 6);
            foreach (int chunk in new[] { 1, 5, 7 })
            {
                using var chunked = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 24, ChunkSteps = chunk });
                SimulationResult result = chunked.Run(inputs, 6);
                for (int t = 1; t <= 24; t++)
                {
                    for (int b = 0; b < 6; b++)
                    {
                        float[] expected = reference.GetStepOutput(t, b).ToArray();
                        float[] actual = result.GetStepOutput(t, b).ToArray();
                        Assert.IsTrue(expected.Zip(actual, (p, q) => Math.Abs(p - q)).Max() <= 1e-5f, $"chunk {chunk}, step {t}");
                        for (int l = 0; l < snn.NeuronLayers.Count; l++)
                        {
                            Assert.AreEqual(reference.GetSpikeCount(l, t, b), result.GetSpikeCount(l, t, b), $"chunk {chunk}, layer {l}, step {t}");
                        }
                    }
                }
            }
        }

        /// <summary>
        /// Sessions whose threads do not spin (ExecutionOptions.AllowSpinning = false, for runners that take turns with a
        /// simulator) compute exactly what the default sessions compute, for the ANN runner and the simulator alike.
        /// </summary>
        [TestMethod]
        public void SessionsWithoutSpinningComputeTheSame()
        {
            var (snn, inputs) = SmallSnn(6);
            var quiet = new ExecutionOptions { AllowSpinning = false };
            Assert.IsTrue(new ExecutionOptions().AllowSpinning);
            using (var spinning = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 10, ChunkSteps = 4 }))
            using (var still = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 10, ChunkSteps = 4, Execution = quiet }))
            {
                SimulationResult expected = spinning.Run(inputs, 6);
                SimulationResult actual = still.Run(inputs, 6);
                for (int t = 1; t <= 10; t++)
                {
                    for (int b = 0; b < 6; b++)
                    {
                        CollectionAssert.AreEqual(expected.GetStepOutput(t, b).ToArray(), actual.GetStepOutput(t, b).ToArray(), $"step {t}, sample {b}");
                    }
                }
            }

            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(5);
            float[] x = samples.SelectMany(v => v).ToArray();
            using var a = new AnnRunner(ann);
            using var c = new AnnRunner(ann, quiet);
            CollectionAssert.AreEqual(a.Run(x, 5), c.Run(x, 5));
        }

        /// <summary>A ceil_mode pool padded only at the end, before a neuron: ONNX's static inference says 4×4, the kernel gives 3×3.</summary>
        [TestMethod]
        public void CeilModePoolBeforeANeuronRuns()
        {
            var layers = new Layer[]
            {
                new PoolLayer("p", "MaxPool", "x", "p", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 1, 1 }, true, false),
                new IfNeuronLayer("n", "Relu", "p", "y", new[] { 1f }, 0.5f, ResetMode.Subtract),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 1, 6, 6 }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            CollectionAssert.AreEqual(new[] { 1, 3, 3 }, snn.Network.OutputShape);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, ChunkSteps = 2 });
            float[] input = Enumerable.Range(0, 36).Select(i => i / 36f).ToArray();
            SimulationResult result = simulator.Run(input, 1);
            Assert.AreEqual(9, result.OutputSize);
            // The bottom-right window holds one element, 35/36: with v(0) = 0.5 it fires at step 1.
            Assert.AreEqual(1f, result.GetStepOutput(1, 0)[8]);
        }

        [TestMethod]
        public void RunningEstimateIsTheMeanOfStepOutputs()
        {
            var (snn, inputs) = SmallSnn(3);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 9, ChunkSteps = 4 });
            SimulationResult result = simulator.Run(inputs, 3);
            for (int b = 0; b < 3; b++)
            {
                for (int t = 1; t <= 9; t++)
                {
                    for (int k = 0; k < result.OutputSize; k++)
                    {
                        double mean = Enumerable.Range(1, t).Average(i => (double)result.GetStepOutput(i, b)[k]);
                        Assert.AreEqual(mean, result.GetEstimate(t, b)[k], 1e-5);
                    }
                }
            }
        }

        [TestMethod]
        public void SpikeCountsEqualTheNonZeroOutputsOfEachNeuronLayer()
        {
            // The last neuron layer feeds only the max-pool; count its spikes from a one-neuron-layer network directly.
            var neuron = new IfNeuronLayer("if", "Relu", "x", "s", new[] { 0.5f, 1f, 2f }, 0.5f, ResetMode.Subtract);
            var snn = new SpikingNetwork(new Network("x", new[] { 3, 2, 2 }, new Layer[] { neuron }, "s", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            var r = new Random(3);
            float[] inputs = Enumerable.Range(0, 2 * 12).Select(_ => (float)r.NextDouble() * 1.5f).ToArray();
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 10, ChunkSteps = 3 });
            SimulationResult result = simulator.Run(inputs, 2);
            for (int t = 1; t <= 10; t++)
            {
                for (int b = 0; b < 2; b++)
                {
                    long nonZero = result.GetStepOutput(t, b).ToArray().Count(v => v != 0);
                    Assert.AreEqual(nonZero, result.GetSpikeCount(0, t, b));
                }
            }
        }

        [TestMethod]
        public void BadInputsGiveClearErrors()
        {
            var (snn, inputs) = SmallSnn(2);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4 });
            var e = Assert.ThrowsExactly<ArgumentException>(() => simulator.Run(inputs.Take(100).ToArray(), 2));
            StringAssert.Contains(e.Message, "Expected 256 input values");
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => simulator.Run(inputs, 0));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 0 }));
            SimulationResult result = simulator.Run(inputs, 2);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => result.GetEstimate(5, 0).ToArray());
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => result.GetEstimate(0, 0).ToArray());
            simulator.Dispose();
            simulator.Dispose();
            Assert.ThrowsExactly<ObjectDisposedException>(() => simulator.Run(inputs, 2));
        }

        [TestMethod]
        public void RateCodingRejectsLayersWithoutASpikingForm()
        {
            var layers = new Layer[]
            {
                new ClipLayer("clip", "Clip", "x", "a", -1, 1),
                new FloorLayer("floor", "Floor", "a", "b"),
                new BinaryLayer("mul", "Mul", "b", "x", "y", BinaryOp.Mul),
            };
            var ann = new Network("x", new[] { 4 }, layers, "y", "fixture.onnx");
            var e = Assert.ThrowsExactly<NotSupportedException>(() => RateCodingConverter.Convert(ann, null));
            StringAssert.Contains(e.Message, "3 layer(s)");
            StringAssert.Contains(e.Message, "'clip'");
            StringAssert.Contains(e.Message, "'floor'");
            StringAssert.Contains(e.Message, "'mul'");
        }

        /// <summary>T = 1024 on ResNet-20 runs in bounded memory because chunks carry the membranes.</summary>
        [TestMethod]
        public void ResNet20RunsT1024InBoundedMemory()
        {
            string model = SharedData.Require("cifar10", "resnet20.onnx");
            var (_, images) = SharedData.ReadCifarCsv(SharedData.Require("cifar10", "test-first100-lossless.csv"), 4);
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(model));
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrator.Collect(ann, images));
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 1024, MemoryBudgetBytes = 256L << 20 });
            var sw = Stopwatch.StartNew();
            SimulationResult result = simulator.Run(images.Take(2).SelectMany(i => i).ToArray(), 2);
            long peak = Process.GetCurrentProcess().PeakWorkingSet64;
            Console.WriteLine($"T=1024, batch 2: {sw.Elapsed.TotalSeconds:F1} s, chunk {simulator.GetChunkSteps(2)} steps, peak working set {peak / (1 << 20)} MiB");
            Assert.AreEqual(1024, result.TimeSteps);
            Assert.IsTrue(peak < 4L << 30, $"peak working set {peak >> 20} MiB");
        }
    }
}
