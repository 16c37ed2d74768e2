// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>
    /// The hand-checked DCGS oracles of algorithms.md §6, cases 13–23, run through the ONNX-lowered simulator with
    /// several chunk lengths (so state carried between ONNX Runtime calls and the step offset are exercised too).
    /// </summary>
    [TestClass]
    public sealed class DifferentialCodingOracleTests
    {
        private static readonly int[] Chunks = { 1, 2, 3, 0 };

        private static SpikingNetwork Differential(int[] inputShape, string output, params Layer[] layers)
        {
            var network = new Network("x", inputShape, layers, output, "oracle");
            (Network probed, float[] outputBias) = StepZeroProbe.Apply(network, null);
            return new SpikingNetwork(probed, ConversionMethod.DifferentialCoding, Array.Empty<string>(), outputBias);
        }

        private static MultiThresholdNeuronLayer Mt(string input, string output, int levels, bool gated = true, FiringRule rule = FiringRule.Midpoint, bool differential = true) =>
            new MultiThresholdNeuronLayer("mt", "Relu", input, output, new[] { 1f }, levels, gated, rule, differential, null);

        /// <summary>Runs the raw per-step inputs x[1..T] (step 0 is the zero image) with every chunk length and checks they agree.</summary>
        private static SimulationResult Run(SpikingNetwork snn, int steps, float[] perStep, int batch = 1)
        {
            SimulationResult? first = null;
            foreach (int chunk in Chunks)
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk });
                SimulationResult result = simulator.RunSequence(perStep, batch);
                if (first == null)
                {
                    first = result;
                    continue;
                }
                for (int t = 1; t <= steps; t++)
                {
                    for (int b = 0; b < batch; b++)
                    {
                        CollectionAssert.AreEqual(first.GetEstimate(t, b).ToArray(), result.GetEstimate(t, b).ToArray(), $"chunk {chunk}, step {t}");
                    }
                }
            }
            return first!;
        }

        private static float[] Decoded(SimulationResult result, int index = 0) =>
            Enumerable.Range(1, result.TimeSteps).Select(t => result.GetEstimate(t, 0)[index]).ToArray();

        /// <summary>The transmitted values of a unit whose output is the network output (output bias 0): s[t] = t·(r[t] − r[t−1]).</summary>
        private static float[] Transmitted(SimulationResult result, int index = 0)
        {
            float[] r = Decoded(result, index);
            return r.Select((v, i) => (float)((i + 1) * ((double)v - (i == 0 ? 0 : r[i - 1])))).ToArray();
        }

        private static void AreClose(float[] expected, float[] actual, double tolerance, string what)
        {
            Assert.AreEqual(expected.Length, actual.Length, what);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i], actual[i], tolerance, $"{what}[{i}]: expected [{string.Join(", ", expected)}], got [{string.Join(", ", actual)}]");
            }
        }

        /// <summary>Case 13: one step of the rate-form MT neuron from m = 0 is exactly the firing rule on m = x.</summary>
        [TestMethod]
        [DataRow(FiringRule.Midpoint, new[] { 1.0f, 1.0f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0f, 0f })]
        [DataRow(FiringRule.Nearest, new[] { 1.0f, 1.0f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f })]
        public void Case13MultiThresholdRule(FiringRule rule, float[] expected)
        {
            float[] m = { 2.0f, 0.8f, 0.74f, 0.5f, 0.38f, 0.2f, 0.19f, 0.18f, 0.15f };
            var net = new SpikingNetwork(new Network("x", new[] { m.Length }, new Layer[] { Mt("x", "s", 3, gated: false, rule, differential: false) }, "s", "oracle"),
                ConversionMethod.DifferentialCoding, Array.Empty<string>());
            using var simulator = new SpikingSimulator(net, new SimulationOptions { TimeSteps = 1 });
            SimulationResult result = simulator.Run(m, 1);
            CollectionAssert.AreEqual(expected, result.GetStepOutput(1, 0).ToArray());
            CollectionAssert.AreEqual(expected.Select(v => -v).ToArray(), RunNegated(net, m), "negative membranes mirror the rule (no gate)");
            Assert.AreEqual(expected.Count(v => v != 0), result.GetSpikeCount(0, 1, 0), "graded spikes count one each");
        }

        private static float[] RunNegated(SpikingNetwork net, float[] m)
        {
            using var simulator = new SpikingSimulator(net, new SimulationOptions { TimeSteps = 1 });
            return simulator.Run(m.Select(v => -v).ToArray(), 1).GetStepOutput(1, 0).ToArray().Select(v => v + 0f).ToArray();
        }

        /// <summary>Case 14: MTH_diff θ = 1, n = 2, ReLU gate, input 0.8 once: spikes, decoded rates and every state after each step.</summary>
        [TestMethod]
        public void Case14DifferentialNeuron()
        {
            SpikingNetwork snn = Differential(new[] { 1 }, "s", Mt("x", "s", 2));
            SimulationResult result = Run(snn, 4, new[] { 0.8f, 0f, 0f, 0f });
            AreClose(new[] { 1.0f, -0.5f, 0f, 0f }, Transmitted(result), 1e-6, "spikes");
            AreClose(new[] { 1.0f, 0.75f, 0.75f, 0.75f }, Decoded(result), 1e-6, "decoded");
            CollectionAssert.AreEqual(new long[] { 1, 1, 0, 0 }, Enumerable.Range(1, 4).Select(t => result.GetSpikeCount(0, t, 0)).ToArray());

            // States after each step: (m, C, r_in, r_out). The neuron's states are m, c = r_in − r_out, C, r_out.
            float[][] expected =
            {
                new[] { -0.2f, 1.0f, 0.8f, 1.0f },
                new[] { 0.1f, 1.5f, 0.8f, 0.75f },
                new[] { 0.15f, 2.25f, 0.8f, 0.75f },
                new[] { 0.2f, 3.0f, 0.8f, 0.75f },
            };
            for (int t = 1; t <= 4; t++)
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = t, KeepFinalMembranes = true });
                float[][] states = simulator.RunSequence(new[] { 0.8f, 0f, 0f, 0f }.Take(t).ToArray(), 1).FinalMembranes;
                float m = states[0][0], c = states[1][0], cumulative = states[2][0], rOut = states[3][0];
                AreClose(expected[t - 1], new[] { m, cumulative, c + rOut, rOut }, 1e-6, $"(m, C, r_in, r_out) after step {t}");
            }
        }

        /// <summary>Case 15: a negative input: the ReLU gate blocks every spike; the identity neuron (no gate) sends −0.5 once.</summary>
        [TestMethod]
        public void Case15NegativeInput()
        {
            SimulationResult gated = Run(Differential(new[] { 1 }, "s", Mt("x", "s", 2)), 4, new[] { -0.5f, 0f, 0f, 0f });
            AreClose(new[] { 0f, 0f, 0f, 0f }, Transmitted(gated), 0, "gated spikes");
            AreClose(new[] { 0f, 0f, 0f, 0f }, Decoded(gated), 0, "gated rate");
            SimulationResult line = Run(Differential(new[] { 1 }, "s", Mt("x", "s", 2, gated: false)), 4, new[] { -0.5f, 0f, 0f, 0f });
            AreClose(new[] { -0.5f, 0f, 0f, 0f }, Transmitted(line), 1e-7, "identity spikes");
            AreClose(new[] { -0.5f, -0.5f, -0.5f, -0.5f }, Decoded(line), 1e-7, "identity rate");
        }

        /// <summary>Case 16: n = 3, input rate 0.8 then 0.5.</summary>
        [TestMethod]
        public void Case16ChangingInput()
        {
            SimulationResult result = Run(Differential(new[] { 1 }, "s", Mt("x", "s", 3)), 4, new[] { 0.8f, -0.6f, 0f, 0f });
            AreClose(new[] { 1.0f, -1.0f, 0f, 0f }, Transmitted(result), 1e-6, "spikes");
            AreClose(new[] { 1.0f, 0.5f, 0.5f, 0.5f }, Decoded(result), 1e-6, "decoded");
        }

        /// <summary>Case 17: a constant 0.1 reaches the neuron through the step-0 probe; the image (0.8) is presented once.</summary>
        [TestMethod]
        public void Case17BiasThroughStepZero()
        {
            SpikingNetwork snn = Differential(new[] { 1 }, "s",
                new ConstBinaryLayer("b", "Add", "x", "z", BinaryOp.Add, FloatTensor.Scalar(0.1f), false),
                Mt("z", "s", 2));
            Assert.AreEqual(0.1f, ((MultiThresholdNeuronLayer)snn.Network.Layers[1]).Bias![0], "bias recorded by the probe");
            foreach (int chunk in Chunks)
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, ChunkSteps = chunk });
                SimulationResult result = simulator.Run(new[] { 0.8f }, 1);
                AreClose(new[] { 1.0f, 0f, 0f, -0.5f }, Transmitted(result), 1e-6, $"spikes, chunk {chunk}");
                AreClose(new[] { 1.0f, 1.0f, 1.0f, 0.875f }, Decoded(result), 1e-6, $"decoded, chunk {chunk}");
            }
        }

        /// <summary>Case 18: IF_diff θ = 1 (one threshold, nearest rule), input 0.3 once, T = 8.</summary>
        [TestMethod]
        public void Case18DifferentialIf()
        {
            var perStep = new float[8];
            perStep[0] = 0.3f;
            SimulationResult result = Run(Differential(new[] { 1 }, "s", Mt("x", "s", 1, rule: FiringRule.Nearest)), 8, perStep);
            AreClose(new[] { 0f, 1f, -1f, 1f, -1f, 1f, -1f, 0f }, Transmitted(result), 1e-5, "spikes");
            Assert.AreEqual(0.240476, Decoded(result)[7], 1e-6, "r[8]");
            CollectionAssert.AreEqual(new long[] { 0, 1, 1, 1, 1, 1, 1, 0 }, Enumerable.Range(1, 8).Select(t => result.GetSpikeCount(0, t, 0)).ToArray());
        }

        /// <summary>Case 19: rate-form MT neuron (m(0) = 0), θ = 1, constant 0.3, T = 4.</summary>
        [TestMethod]
        [DataRow(1, new[] { 0f, 0f, 1f, 0f })]
        [DataRow(3, new[] { 0.25f, 0.25f, 0.5f, 0.25f })]
        public void Case19RateMultiThreshold(int levels, float[] expected)
        {
            var net = new SpikingNetwork(new Network("x", new[] { 1 }, new Layer[] { Mt("x", "s", levels, differential: false) }, "s", "oracle"),
                ConversionMethod.DifferentialCoding, Array.Empty<string>());
            using var simulator = new SpikingSimulator(net, new SimulationOptions { TimeSteps = 4 });
            SimulationResult result = simulator.Run(new[] { 0.3f }, 1);
            CollectionAssert.AreEqual(expected, Enumerable.Range(1, 4).Select(t => result.GetStepOutput(t, 0)[0]).ToArray());
            Assert.AreEqual(expected.Average(), result.GetEstimate(4, 0)[0], 1e-7);
        }

        /// <summary>Case 20: DGU of f(x) = x², without and with a step-0 bias.</summary>
        [TestMethod]
        public void Case20GradedUnit()
        {
            var square = new GradedUnitLayer(new BinaryLayer("sq", "Mul", "x", "x", "y", BinaryOp.Mul), null);
            SimulationResult plain = Run(Differential(new[] { 1 }, "y", square), 3, new[] { 2f, 1f, 0f });
            AreClose(new[] { 4f, 4.5f, 0f }, Transmitted(plain), 1e-6, "emitted");
            AreClose(new[] { 4f, 6.25f, 6.25f }, Decoded(plain), 1e-6, "r_out");

            var biased = new GradedUnitLayer(new BinaryLayer("sq", "Mul", "z", "z", "y", BinaryOp.Mul), null);
            SpikingNetwork snn = Differential(new[] { 1 }, "y", new ConstBinaryLayer("b", "Add", "x", "z", BinaryOp.Add, FloatTensor.Scalar(1f), false), biased);
            SimulationResult withBias = Run(snn, 3, new[] { 2f, 1f, 0f });
            AreClose(new[] { 9f, 6.5f, 0f }, Transmitted(withBias), 1e-6, "emitted with bias");
            AreClose(new[] { 9f, 12.25f, 12.25f }, Decoded(withBias), 1e-6, "r_out with bias");
        }

        /// <summary>Case 21: product unit of two streams A = [2, 2], B = [3, −3].</summary>
        [TestMethod]
        public void Case21ProductUnit()
        {
            SpikingNetwork snn = Differential(new[] { 2 }, "y",
                new DenseLayer("a", "Gemm", "x", "a", new FloatTensor(new[] { 1, 2 }, new[] { 1f, 0f }), null),
                new DenseLayer("b", "Gemm", "x", "b", new FloatTensor(new[] { 1, 2 }, new[] { 0f, 1f }), null),
                new GradedUnitLayer(new BinaryLayer("ab", "Mul", "a", "b", "y", BinaryOp.Mul), null));
            SimulationResult result = Run(snn, 2, new[] { 2f, 3f, 2f, -3f });
            AreClose(new[] { 6f, -3f }, Transmitted(result), 1e-6, "emitted");
            AreClose(new[] { 6f, 4.5f }, Decoded(result), 1e-6, "r_out = r_A·r_B");
        }

        /// <summary>Case 22: max-pool neuron over a window of two; the graded-unit max-pool gives the max of the input rates.</summary>
        [TestMethod]
        public void Case22MaxPoolNeuron()
        {
            var pool = new PoolLayer("mp", "MaxPool", "x", "y", PoolKind.Max, new[] { 1, 2 }, new[] { 1, 2 }, new[] { 0, 0, 0, 0 }, false, false);
            float[] perStep = { 0.2f, 0.4f, 0.6f, 0f, 0f, 0f };
            SimulationResult neuron = Run(Differential(new[] { 1, 1, 2 }, "y", new MaxPoolNeuronLayer(pool, null)), 3, perStep);
            AreClose(new[] { 0.4f, 0.2f, 0f }, Transmitted(neuron), 1e-6, "max-pool neuron spikes");
            AreClose(new[] { 0.4f, 0.5f, 0.5f }, Decoded(neuron), 1e-6, "max-pool neuron r_out");
            SimulationResult graded = Run(Differential(new[] { 1, 1, 2 }, "y", new GradedUnitLayer(pool, null)), 3, perStep);
            AreClose(new[] { 0.4f, 0.5f, 0.5f }, Decoded(graded), 1e-6, "graded max-pool r_out");
        }

        /// <summary>Case 23: x = 0.35 → Linear(2, 0.1) → ReLU → Linear(1, b): converted with θ = 1 (max of calibration), n = 2.</summary>
        [TestMethod]
        [DataRow(0f)]
        [DataRow(0.25f)]
        public void Case23TinyNetwork(float outputBias)
        {
            var ann = new Network("x", new[] { 1 }, new Layer[]
            {
                new DenseLayer("l1", "Gemm", "x", "h", new FloatTensor(new[] { 1, 1 }, new[] { 2f }), new[] { 0.1f }),
                new ReluLayer("relu", "Relu", "h", "r"),
                new DenseLayer("l2", "Gemm", "r", "y", new FloatTensor(new[] { 1, 1 }, new[] { 1f }), new[] { outputBias }),
            }, "y", "tiny");
            // Calibration on 0.45 → ReLU output 1.0 = θ.
            CalibrationResult stats = Calibrator.Collect(ann, new[] { new[] { 0.45f } }, new CalibrationOptions { Granularity = StatisticsGranularity.Layer });
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { Thresholds = ThresholdMethod.Max, ThresholdLevels = 2, TimeSteps = 4 });
            var neuron = snn.Network.Layers.OfType<MultiThresholdNeuronLayer>().Single();
            Assert.AreEqual(1f, neuron.Threshold[0]);
            Assert.AreEqual(0.1f, neuron.Bias![0], 1e-7, "bias 0.1 seen at step 0");
            Assert.AreEqual(outputBias, snn.OutputBias![0]);
            foreach (int chunk in Chunks)
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 4, ChunkSteps = chunk });
                SimulationResult result = simulator.Run(new[] { 0.35f }, 1);
                AreClose(new[] { 1.0f, 0.75f, 0.75f, 0.75f }.Select(v => v + outputBias).ToArray(), Decoded(result), 1e-6, $"logits, chunk {chunk}");
            }
        }
    }
}
