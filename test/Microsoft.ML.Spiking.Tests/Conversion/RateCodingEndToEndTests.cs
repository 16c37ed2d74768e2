// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>Rate coding of the real ResNet-20 on the lossless CIFAR-10 sample, end to end.</summary>
    [TestClass]
    public sealed class RateCodingEndToEndTests
    {
        [TestMethod]
        public void ResNet20RateCodedApproachesTheAnn()
        {
            var (labels, images) = SharedData.ReadCifarCsv(SharedData.Require("cifar10", "test-first100-lossless.csv"), 100);
            Network ann = SharedData.PreparedResNet20();
            // Calibrate on images 50..99, evaluate on 0..49 (disjoint).
            var sw = Stopwatch.StartNew();
            CalibrationResult stats = Calibrator.Collect(ann, images.Skip(50));
            Console.WriteLine($"calibration: {sw.ElapsedMilliseconds} ms");
            SpikingNetwork snn = RateCodingConverter.Convert(ann, stats);
            Assert.AreEqual(19, snn.NeuronLayers.Count);

            float[] batch = images.Take(50).SelectMany(i => i).ToArray();
            using var annSession = new OnnxSession(AnnExporter.Export(ann), null);
            float[] logits = annSession.Run(new System.Collections.Generic.Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(batch, new long[] { 50, 3, 32, 32 }),
            })[AnnExporter.OutputName].Data;
            int annCorrect = Enumerable.Range(0, 50).Count(i => SimulationResult.ArgMax(logits.AsSpan(i * 10, 10)) == labels[i]);

            const int T = 64;
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = T });
            sw.Restart();
            SimulationResult result = simulator.Run(batch, 50);
            Console.WriteLine($"simulation T={T}: {sw.ElapsedMilliseconds} ms, chunk {simulator.GetChunkSteps(50)}");
            foreach (int t in new[] { 8, 16, 32, 64 })
            {
                int correct = Enumerable.Range(0, 50).Count(i => result.Predict(t, i) == labels[i]);
                Console.WriteLine($"T={t}: {correct}/50 (ANN {annCorrect}/50)");
            }
            int snnCorrect = Enumerable.Range(0, 50).Count(i => result.Predict(T, i) == labels[i]);
            Assert.IsTrue(annCorrect >= 42, $"ANN accuracy {annCorrect}/50");
            Assert.IsTrue(snnCorrect >= annCorrect - 8, $"SNN at T={T}: {snnCorrect}/50 vs ANN {annCorrect}/50");
        }
    }
}
