// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>The hand-checked rate-coding oracles of algorithms.md §6, cases 1–6, run through the ONNX-lowered simulator.</summary>
    [TestClass]
    public sealed class RateCodingOracleTests
    {
        /// <summary>Case 1: QCFS λ = 1, L = 4, both in the reference function and in the lowered ONNX graph.</summary>
        [TestMethod]
        public void Case1QcfsValues()
        {
            double[] z = { 0.3, 0.37, 0.38, -0.1, 1.2, 0.625 };
            double[] expected = { 0.25, 0.25, 0.5, 0, 1.0, 0.75 };
            for (int i = 0; i < z.Length; i++)
            {
                Assert.AreEqual(expected[i], QcfsLayer.Evaluate(z[i], 1, 4), 0, $"z = {z[i]}");
            }
            var net = new Network("x", new[] { z.Length }, new Layer[] { new QcfsLayer("q", "QCFS", "x", "y", new[] { 1f }, 4) }, "y", "oracle");
            using var session = new OnnxSession(AnnExporter.Export(net), null);
            float[] got = session.Run(new Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(z.Select(v => (float)v).ToArray(), new long[] { 1, z.Length }),
            })[AnnExporter.OutputName].Data;
            CollectionAssert.AreEqual(expected.Select(v => (float)v).ToArray(), got);
        }

        [TestMethod]
        [DataRow(new[] { 0.3f, 0.3f, 0.3f, 0.3f }, new[] { 0f, 1f, 0f, 0f }, 0.7f, DisplayName = "Case 2: constant 0.3")]
        [DataRow(new[] { 0.625f, 0.625f, 0.625f, 0.625f }, new[] { 1f, 0f, 1f, 1f }, 0f, DisplayName = "Case 3: constant 0.625 (exact tie fires)")]
        [DataRow(new[] { 0f, 0f, 0f, 1.6f }, new[] { 0f, 0f, 0f, 1f }, 1.1f, DisplayName = "Case 4: unevenness")]
        [DataRow(new[] { -1f, 0.5f, 0.5f, 0.5f }, new[] { 0f, 0f, 0f, 1f }, 0f, DisplayName = "Case 5: negative first input")]
        public void IfNeuronOracle(float[] input, float[] expectedSpikes, float expectedFinalMembrane)
        {
            // θ = 1, v(0) = θ/2, reset by subtraction; the neuron's output is the network output.
            var neuron = new IfNeuronLayer("if", "Relu", "x", "s", new[] { 1f }, 0.5f, ResetMode.Subtract);
            var snn = new SpikingNetwork(new Network("x", new[] { 1 }, new Layer[] { neuron }, "s", "oracle"), ConversionMethod.RateCoding, Array.Empty<string>());
            foreach (int chunk in new[] { 1, 3, 4 })
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, ChunkSteps = chunk, KeepFinalMembranes = true });
                SimulationResult result = simulator.RunSequence(input, 1);
                float[] spikes = Enumerable.Range(1, 4).Select(t => result.GetStepOutput(t, 0)[0]).ToArray();
                CollectionAssert.AreEqual(expectedSpikes, spikes, $"chunk {chunk}");
                for (int t = 1; t <= 4; t++)
                {
                    Assert.AreEqual((long)expectedSpikes[t - 1], result.GetSpikeCount(0, t, 0));
                }
                Assert.AreEqual(expectedSpikes.Sum() / 4f, result.GetEstimate(4, 0)[0], 1e-7f, "rate after 4 steps");
                if (input.Distinct().Count() == 1)
                {
                    // With v(0) = θ/2 the rate of a constant input is the QCFS value with L = T (case 2: 0.25).
                    Assert.AreEqual(QcfsLayer.Evaluate(input[0], 1, 4), result.GetEstimate(4, 0)[0], 1e-7);
                }
                Assert.AreEqual(expectedFinalMembrane, result.FinalMembranes[0][0], 1e-6f, "v(4)");
            }
        }

        [TestMethod]
        public void Case6PercentileAndMax()
        {
            var stats = new ChannelStatistics(1, 1000, StatisticsGranularity.Layer);
            float[] sample = Enumerable.Range(0, 1000).Select(i => (float)((i * 7919) % 1000)).ToArray();
            stats.AddBatch(sample, 1);
            Assert.AreEqual(998.001, stats.GetPercentile(99.9)[0], 1e-3);
            Assert.AreEqual(999f, stats.GetMax()[0]);
        }

        [TestMethod]
        public void ResetToZeroDropsTheResidual()
        {
            var neuron = new IfNeuronLayer("if", "Relu", "x", "s", new[] { 1f }, 0f, ResetMode.Zero);
            var snn = new SpikingNetwork(new Network("x", new[] { 1 }, new Layer[] { neuron }, "s", "oracle"), ConversionMethod.RateCoding, Array.Empty<string>());
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, ChunkSteps = 2 });
            SimulationResult result = simulator.RunSequence(new[] { 0.75f, 0.75f, 0.75f, 0.75f }, 1);
            // v: 0.75 → 1.5 fires, reset 0 → 0.75 → 1.5 fires.
            CollectionAssert.AreEqual(new[] { 0f, 1f, 0f, 1f }, Enumerable.Range(1, 4).Select(t => result.GetStepOutput(t, 0)[0]).ToArray());
        }
    }
}
