// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.ML.Spiking.Tests.Import;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>
    /// Differential coding of the project's ViT demo model (algorithms.md §2.6, §2.7, §2.9): graded units for LayerNorm,
    /// GELU, softmax and the attention products, identity multi-threshold neurons on the inputs of linear layers and
    /// products, thresholds 8 × the 99.9th percentile.
    /// </summary>
    [TestClass]
    public sealed class DifferentialCodingTransformerTests
    {
        private static Network Ann(bool sites) =>
            NetworkPreparation.Prepare(OnnxImporter.Load(DemoModelImportTests.AssetPath("shapes-vit.onnx")), new PreparationOptions { SwapReluMaxPool = true, MarkTransformerNeuronSites = sites });

        /// <summary>
        /// Without neurons, every non-linear layer is a graded unit, which is exact on rates: the decoded logits equal the
        /// ANN's at every step, so LayerNorm, GELU, softmax, both products, the class token and the head selection are all
        /// simulated exactly (up to float rounding).
        /// </summary>
        [TestMethod]
        public void GradedUnitsAloneReproduceTheAnnAtEveryStep()
        {
            Network ann = Ann(sites: false);
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, null, new DifferentialCodingOptions { Thresholds = ThresholdMethod.Percentile, GradedStaticPrefix = true });
            Assert.AreEqual(0, snn.NeuronLayers.Count);
            Assert.IsTrue(snn.Network.Layers.OfType<GradedUnitLayer>().Count(u => u.Function is MatMulLayer) >= 4, string.Join(Environment.NewLine, snn.Notes));
            float[][] images = DemoModelImportTests.s_images.Value.Pixels.Take(20).ToArray();
            using var runner = new AnnRunner(ann);
            float[] reference = runner.Run(images.SelectMany(i => i).ToArray(), images.Length);
            const int steps = 5;
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = 2 });
            SimulationResult result = simulator.Run(images.SelectMany(i => i).ToArray(), images.Length);
            double worst = 0;
            for (int t = 1; t <= steps; t++)
            {
                for (int i = 0; i < images.Length; i++)
                {
                    ReadOnlySpan<float> estimate = result.GetEstimate(t, i);
                    for (int k = 0; k < estimate.Length; k++)
                    {
                        worst = Math.Max(worst, Math.Abs(estimate[k] - reference[i * estimate.Length + k]));
                    }
                }
            }
            Console.WriteLine($"max |decoded − ANN| over {steps} steps: {worst:E2}");
            Assert.IsTrue(worst < 1e-3, $"decoded logits differ from the ANN's by {worst}");
        }

        [TestMethod]
        public void TransformerRecipePlacesIdentityNeuronsWithScaledPercentileThresholds()
        {
            Network ann = Ann(sites: true);
            var sites = ann.Layers.OfType<NeuronSiteLayer>().ToList();
            int linear = ann.Layers.Count(l => l is ConvLayer or DenseLayer);
            int products = ann.Layers.Count(l => l is MatMulLayer);
            Assert.AreEqual(linear + 2 * products, sites.Count, "one site per linear layer input and per product operand (none shared in this model)");
            Assert.AreEqual(ann.InputName, sites[0].Inputs[0], "the first site is on the image, before the patch embedding");

            float[][] calibration = DemoModelImportTests.s_images.Value.Pixels.Take(50).ToArray();
            CalibrationResult stats = Calibrator.Collect(ann, calibration);
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { Thresholds = ThresholdMethod.Percentile, ThresholdLevels = 6 });
            var neurons = snn.Network.Layers.OfType<MultiThresholdNeuronLayer>().ToList();
            Assert.AreEqual(sites.Count, neurons.Count);
            foreach (MultiThresholdNeuronLayer neuron in neurons)
            {
                Assert.IsFalse(neuron.Gated, neuron.Name);
                Assert.IsTrue(neuron.Differential, neuron.Name);
                Assert.AreEqual(6, neuron.Levels);
                float[] p999 = stats.Sites[neuron.Name].Output.GetPercentile(99.9);
                float largest = p999.Max();
                for (int c = 0; c < p999.Length; c++)
                {
                    float expected = p999[c] > 0 ? 8f * p999[c] : 8f * largest;
                    Assert.AreEqual(expected, neuron.Threshold[c], 1e-6f * Math.Max(1f, expected), $"{neuron.Name} channel {c}");
                }
            }
            Assert.AreEqual(ann.Layers.Count(l => l is LayerNormLayer or GeluLayer or MatMulLayer) + ann.Layers.Count(l => l is SoftmaxLayer),
                snn.Network.Layers.OfType<GradedUnitLayer>().Count());
            var e = Assert.ThrowsExactly<ArgumentException>(() => DifferentialCodingConverter.Convert(ann, stats, new DifferentialCodingOptions { Thresholds = ThresholdMethod.Iteration }));
            StringAssert.Contains(e.Message, "does not apply to transformers");
        }

        /// <summary>
        /// The trained ViT converted with the recipe (n = 8, θ = 8 × p99.9, calibrated on 50 shipped images) and simulated
        /// for 16 steps on 50 others: the decoded logits approach the ANN's as t grows (differential coding refines the
        /// estimate at every step), and at t = 16 nearly every prediction is the ANN's.
        /// </summary>
        [TestMethod]
        public void TrainedVitConvergesToTheAnn()
        {
            Network ann = Ann(sites: true);
            float[][] pixels = DemoModelImportTests.s_images.Value.Pixels;
            float[][] calibration = pixels.Where((_, i) => i % 6 == 5).ToArray();
            float[][] images = pixels.Where((_, i) => i % 6 == 0).ToArray();
            SpikingNetwork snn = DifferentialCodingConverter.Convert(ann, Calibrator.Collect(ann, calibration),
                new DifferentialCodingOptions { Thresholds = ThresholdMethod.Percentile, ThresholdLevels = 8, TimeSteps = 16 });
            using var runner = new AnnRunner(ann);
            float[] reference = runner.Run(images.SelectMany(i => i).ToArray(), images.Length);
            using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = 16 });
            SimulationResult result = simulator.Run(images.SelectMany(i => i).ToArray(), images.Length);
            int classes = reference.Length / images.Length;
            double Error(int t) => Enumerable.Range(0, images.Length).Average(i =>
            {
                ReadOnlySpan<float> estimate = result.GetEstimate(t, i);
                double sum = 0;
                for (int k = 0; k < classes; k++)
                {
                    sum += Math.Abs(estimate[k] - reference[i * classes + k]);
                }
                return sum / classes;
            });
            int Agreement(int t) => Enumerable.Range(0, images.Length).Count(i =>
                result.Predict(t, i) == SimulationResult.ArgMax(reference.AsSpan(i * classes, classes)));
            double e4 = Error(4), e8 = Error(8), e16 = Error(16);
            Console.WriteLine($"mean |decoded − ANN| per logit: t=4 {e4:F4}, t=8 {e8:F4}, t=16 {e16:F4}; same class as the ANN at t=16: {Agreement(16)}/{images.Length}");
            Assert.IsTrue(e8 < e4 && e16 < e8, $"the error should shrink with t: {e4}, {e8}, {e16}");
            Assert.IsTrue(Agreement(16) >= images.Length * 9 / 10, $"only {Agreement(16)} of {images.Length} predictions agree with the ANN at t = 16");
        }
    }
}
