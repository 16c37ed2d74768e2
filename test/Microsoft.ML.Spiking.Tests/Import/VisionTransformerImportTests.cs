// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.Import.DemoModelImportTests;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>
    /// The project's ViT demo model as PyTorch 1.13 exports it, at opset 17 (LayerNormalization) and at opset 13
    /// (LayerNorm decomposed): the importer reads every op (heads split after a batch-moving permute, class token
    /// expanded over the batch, exact GELU in its erf form), and the lowered ANN gives ONNX Runtime's logits on the
    /// shipped PNGs within 1e-4.
    /// </summary>
    [TestClass]
    public sealed class VisionTransformerImportTests
    {
        [TestMethod]
        [DataRow("shapes-vit.onnx")]
        [DataRow("shapes-vit-opset13.onnx")]
        public void ImportFindsEveryTransformerLayer(string file)
        {
            Network imported = OnnxImporter.Load(AssetPath(file));
            CollectionAssert.AreEqual(new[] { 3, 32, 32 }, imported.InputShape);
            CollectionAssert.AreEqual(new[] { 10 }, imported.OutputShape);
            int blocks = imported.Layers.OfType<GeluLayer>().Count();
            Assert.IsTrue(blocks >= 2 && blocks <= 4, imported.Describe());
            Assert.AreEqual(2 * blocks + 1, imported.Layers.OfType<LayerNormLayer>().Count(), "two per block and the final norm");
            Assert.AreEqual(2 * blocks, imported.Layers.OfType<MatMulLayer>().Count(), "q·kᵀ and attn·v per block");
            Assert.AreEqual(blocks, imported.Layers.OfType<SoftmaxLayer>().Count(), "attention softmax over the last axis");
            Assert.IsTrue(imported.Layers.OfType<SoftmaxLayer>().All(s => s.Axis == 2));
            Assert.AreEqual(1, imported.Layers.OfType<BroadcastConstantLayer>().Count(), "the class token");
            Assert.AreEqual(4 * blocks + 1, imported.Layers.OfType<DenseLayer>().Count(), "qkv, proj, fc1, fc2 per block and the head");
            Assert.AreEqual(0, imported.Layers.Count(l => l is ReluLayer or ClipLayer), imported.Describe());
            Assert.IsTrue(TransformerNeuronSites.IsTransformer(imported));
        }

        [TestMethod]
        [DataRow("shapes-vit.onnx")]
        [DataRow("shapes-vit-opset13.onnx")]
        public void LoweredAnnMatchesOnnxRuntimeOnShippedImages(string file)
        {
            string path = AssetPath(file);
            (float[][] pixels, int[] labels) = s_images.Value;
            long[] sampleShape = { 3, 32, 32 };
            float[][] reference = RealModelParityTests.ReferenceOutputs(File.ReadAllBytes(path), pixels, sampleShape);

            Network imported = OnnxImporter.Load(path);
            Network prepared = NetworkPreparation.Prepare(imported, new PreparationOptions { MarkTransformerNeuronSites = true });
            Assert.IsTrue(prepared.Layers.OfType<NeuronSiteLayer>().Count() > 0);
            double importedDiff = MaxAbsDiff(reference, RunLowered(imported, pixels, sampleShape));
            double preparedDiff = MaxAbsDiff(reference, RunLowered(prepared, pixels, sampleShape));
            int correct = reference.Where((logits, i) => SimulationResult.ArgMax(logits) == labels[i]).Count();
            Console.WriteLine($"{file}: {pixels.Length} PNGs, ONNX Runtime accuracy {correct}/{pixels.Length}, max |Δlogit| imported {importedDiff:E2}, prepared with neuron sites {preparedDiff:E2}");
            Assert.IsTrue(importedDiff <= 1e-4, $"imported: max abs logit difference {importedDiff} > 1e-4");
            Assert.IsTrue(preparedDiff <= 1e-4, $"prepared: max abs logit difference {preparedDiff} > 1e-4");
        }
    }
}
