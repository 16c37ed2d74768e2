// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Evaluation
{
    /// <summary>Synaptic-operation counting on the real ResNet-20 (residual spikes, per-channel θ, padded and strided convolutions).</summary>
    [TestClass]
    public sealed class ResNet20EnergyTests
    {
        [TestMethod]
        public void MatMulAndIndicatorCountingAgreeOnResNet20()
        {
            var (labels, images) = SharedData.ReadCifarCsv(SharedData.Require("cifar10", "test-first100-lossless.csv"), 8);
            Network ann = SharedData.PreparedResNet20();
            SpikingNetwork snn = RateCodingConverter.Convert(ann, Calibrator.Collect(ann, images));
            IReadOnlyList<SynapticLayerPlan> plans = SynapticCounting.Plan(snn.Network);
            Console.WriteLine(string.Join(", ", plans.GroupBy(p => p.Mode).Select(g => $"{g.Key}: {g.Count()}")));
            float[] batch = images.Take(4).SelectMany(i => i).ToArray();
            const int T = 8;
            var sw = Stopwatch.StartNew();
            // The same dynamics on both sides (packed spikes sum the convolutions in another order): only the counting differs.
            using var fast = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = T, PackSpikes = false });
            using var generic = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = T, IndicatorCountingOnly = true });
            SimulationResult a = fast.Run(batch, 4);
            SimulationResult b = generic.Run(batch, 4);
            Console.WriteLine($"{sw.ElapsedMilliseconds} ms");
            for (int l = 0; l < a.SynapticLayers.Count; l++)
            {
                for (int t = 1; t <= T; t++)
                {
                    for (int s = 0; s < 4; s++)
                    {
                        Assert.AreEqual(b.GetSynapticOperations(l, t, s), a.GetSynapticOperations(l, t, s), $"{a.SynapticLayers[l]} ({plans[l].Mode}), t {t}, sample {s}");
                    }
                }
            }
            var metrics = new SpikingMetrics();
            metrics.Add(a, labels.Take(4).ToArray());
            Console.WriteLine(metrics.FormatTable());
            Assert.AreEqual(a.TotalDenseMacs, metrics.AnnMacsPerImage);
        }
    }
}
