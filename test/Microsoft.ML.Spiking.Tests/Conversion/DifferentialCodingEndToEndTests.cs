// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>Differential coding (DCGS) of the real models, end to end, with calibration data disjoint from the evaluated rows.</summary>
    [TestClass]
    public sealed class DifferentialCodingEndToEndTests
    {
        private static int[] AnnPredictions(Network ann, float[][] images)
        {
            using var runner = new AnnRunner(ann);
            float[] logits = runner.Run(images.SelectMany(i => i).ToArray(), images.Length);
            int k = runner.OutputSize;
            return Enumerable.Range(0, images.Length).Select(i => SimulationResult.ArgMax(logits.AsSpan(i * k, k))).ToArray();
        }

        private static int[] SnnPredictions(SpikingNetwork snn, float[][] images, int steps, int batch = 100)
        {
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, CountSynapticOperations = false });
            var predictions = new List<int>();
            foreach (float[][] chunk in images.Chunk(batch))
            {
                SimulationResult result = simulator.Run(chunk.SelectMany(i => i).ToArray(), chunk.Length);
                predictions.AddRange(Enumerable.Range(0, chunk.Length).Select(i => result.Predict(steps, i)));
            }
            return predictions.ToArray();
        }

        /// <summary>
        /// mnist-8 (two conv → ReLU → max-pool stages, pools 2×2/2 and 3×3/3; after the swap the first pool acts on the
        /// image's first convolution, computed once, and the second becomes a max-pool neuron) within
        /// 0.2 points of the ANN at T = 8: calibration on test images 0–999, evaluation on the other 9,000.
        /// </summary>
        [TestMethod]
        [DataRow(ThresholdMethod.Iteration)]
        [DataRow(ThresholdMethod.Percentile)]
        public void Mnist8WithinTwoTenthsOfThePointOfTheAnnAtT8(ThresholdMethod thresholds)
        {
            var (labels, images) = SharedData.ReadMnist(SharedData.Require("mnist", "t10k-images-idx3-ubyte.gz"), SharedData.Require("mnist", "t10k-labels-idx1-ubyte.gz"), 10000);
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(SharedData.Require("mnist", "mnist-8.onnx")), new PreparationOptions { SwapReluMaxPool = true });
            CalibrationResult stats = Calibrator.Collect(ann, images.Take(1000), new CalibrationOptions { IncludePreActivations = true });
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { Thresholds = thresholds, TimeSteps = 8 });
            Assert.AreEqual(1, snn.Network.Layers.OfType<MaxPoolNeuronLayer>().Count(), string.Join(Environment.NewLine, snn.Notes));
            Assert.AreEqual(1, snn.Network.Layers.OfType<PoolLayer>().Count(p => p.Kind == PoolKind.Max), "the stem's pool stays a plain max-pool, computed once");
            float[][] evaluated = images.Skip(1000).ToArray();
            int[] truth = labels.Skip(1000).ToArray();
            var sw = Stopwatch.StartNew();
            int[] snnPredictions = SnnPredictions(snn, evaluated, 8);
            int annCorrect = AnnPredictions(ann, evaluated).Where((p, i) => p == truth[i]).Count();
            int snnCorrect = snnPredictions.Where((p, i) => p == truth[i]).Count();
            Console.WriteLine($"mnist-8 {thresholds}: ANN {100.0 * annCorrect / truth.Length:F2} %, SNN T=8 {100.0 * snnCorrect / truth.Length:F2} % ({sw.ElapsedMilliseconds} ms)");
            Assert.IsTrue(snnCorrect >= annCorrect - 0.002 * truth.Length, $"SNN {snnCorrect} vs ANN {annCorrect} of {truth.Length}");
        }

        /// <summary>ResNet-20 on the lossless CIFAR-10 sample: n = 4, channel-wise threshold iteration, T = 8, calibration on images 50–99.</summary>
        [TestMethod]
        public void ResNet20DifferentialCodedAtT8()
        {
            var (labels, images) = SharedData.ReadCifarCsv(SharedData.Require("cifar10", "test-first100-lossless.csv"), 100);
            Network ann = NetworkPreparation.Prepare(OnnxImporter.Load(SharedData.Require("cifar10", "resnet20.onnx")),
                new PreparationOptions { InputMean = SharedData.CifarMean, InputStd = SharedData.CifarStd, SwapReluMaxPool = true });
            CalibrationResult stats = Calibrator.Collect(ann, images.Skip(50), new CalibrationOptions { IncludePreActivations = true });
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { TimeSteps = 8 });
            Assert.AreEqual(19, snn.NeuronLayers.Count);
            float[][] evaluated = images.Take(50).ToArray();
            int[] ann8 = AnnPredictions(ann, evaluated);
            int[] snn8 = SnnPredictions(snn, evaluated, 8, 50);
            int annCorrect = ann8.Where((p, i) => p == labels[i]).Count();
            int snnCorrect = snn8.Where((p, i) => p == labels[i]).Count();
            int agree = snn8.Where((p, i) => p == ann8[i]).Count();
            Console.WriteLine($"ResNet-20 DCGS T=8: ANN {annCorrect}/50, SNN {snnCorrect}/50, agreement {agree}/50");
            Assert.IsTrue(agree >= 46, $"SNN agrees with the ANN on {agree}/50 images");
        }

        /// <summary>Presenting the image once (Run) equals feeding [image, 0, 0, …] (RunSequence), also when part of the network must see the input at every step.</summary>
        [TestMethod]
        public void ImagePresentedOnceEqualsExplicitSequence()
        {
            var r = new Random(5);
            float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var simple = new Network("x", new[] { 6 }, new Layer[]
            {
                new DenseLayer("d1", "Gemm", "x", "h", new FloatTensor(new[] { 5, 6 }, Rand(30)), Rand(5)),
                new ReluLayer("r1", "Relu", "h", "s"),
                new DenseLayer("d2", "Gemm", "s", "y", new FloatTensor(new[] { 3, 5 }, Rand(15)), Rand(3)),
            }, "y", "simple");
            var residual = new Network("x", new[] { 6 }, new Layer[]
            {
                new DenseLayer("d1", "Gemm", "x", "h", new FloatTensor(new[] { 6, 6 }, Rand(36)), Rand(6)),
                new ReluLayer("r1", "Relu", "h", "s"),
                new BinaryLayer("add", "Add", "s", "h", "sum", BinaryOp.Add),
                new DenseLayer("d2", "Gemm", "sum", "y", new FloatTensor(new[] { 3, 6 }, Rand(18)), Rand(3)),
            }, "y", "residual-from-the-stem");
            foreach (Network ann in new[] { simple, residual })
            {
                float[][] samples = Enumerable.Range(0, 20).Select(_ => Rand(6)).ToArray();
                CalibrationResult stats = Calibrator.Collect(ann, samples, new CalibrationOptions { IncludePreActivations = true, Granularity = StatisticsGranularity.Layer });
                SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { TimeSteps = 6, ThresholdLevels = 3 });
                Assert.AreEqual(ann == residual, SnnGraphBuilder.RequiresInputPerStep(snn), ann.Source);
                const int batch = 4, steps = 6;
                float[] image = samples.Take(batch).SelectMany(s => s).ToArray();
                var sequence = new float[steps * image.Length];
                Array.Copy(image, sequence, image.Length);
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = 4 });
                SimulationResult once = simulator.Run(image, batch);
                SimulationResult explicitly = simulator.RunSequence(sequence, batch);
                for (int t = 1; t <= steps; t++)
                {
                    for (int b = 0; b < batch; b++)
                    {
                        CollectionAssert.AreEqual(explicitly.GetEstimate(t, b).ToArray(), once.GetEstimate(t, b).ToArray(), $"{ann.Source}, t {t}, b {b}");
                        Assert.AreEqual(explicitly.GetTotalSynapticOperations(t, b), once.GetTotalSynapticOperations(t, b), $"{ann.Source} SOPs, t {t}");
                    }
                }
                // The first layer reads the image at step 1 only.
                Assert.AreEqual(0, once.GetSynapticOperations(0, 2, 0));
                Assert.AreEqual(6 * 5 + (ann == residual ? 6 : 0), once.GetSynapticOperations(0, 1, 0), "6 non-zero inputs × fan-out");
            }
        }
    }
}
