// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>Import → IR → lowered ANN must give the logits ONNX Runtime gives on the original file.</summary>
    [TestClass]
    public sealed class RealModelParityTests
    {
        [TestMethod]
        public void ResNet20MatchesOnnxRuntimeOnRealImages()
        {
            string model = SharedData.Require("cifar10", "resnet20.onnx");
            var (_, images) = SharedData.ReadCifarCsv(SharedData.Require("cifar10", "test-first100-lossless.csv"), 40);
            // The file expects normalized input; feed normalized images to both.
            float[][] normalized = SharedData.NormalizeCifar(images);
            AssertParity(model, normalized, new long[] { 3, 32, 32 });
        }

        [TestMethod]
        public void MnistMatchesOnnxRuntimeOnRealImages()
        {
            string model = SharedData.Require("mnist", "mnist-8.onnx");
            var (_, images) = SharedData.ReadMnist(SharedData.Require("mnist", "t10k-images-idx3-ubyte.gz"), SharedData.Require("mnist", "t10k-labels-idx1-ubyte.gz"), 40);
            AssertParity(model, images, new long[] { 1, 28, 28 });
        }

        private static void AssertParity(string modelPath, float[][] images, long[] sampleShape)
        {
            Network network = OnnxImporter.Load(modelPath);
            float[][] reference = ReferenceOutputs(File.ReadAllBytes(modelPath), images, sampleShape);
            using var lowered = new OnnxSession(AnnExporter.Export(network), null);
            float[] batch = images.SelectMany(i => i).ToArray();
            var output = lowered.Run(new Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(batch, new long[] { images.Length }.Concat(sampleShape).ToArray()),
            })[AnnExporter.OutputName];
            int classes = reference[0].Length;
            Assert.AreEqual(images.Length * classes, output.Data.Length);
            double maxDiff = 0;
            double scale = 0;
            for (int i = 0; i < images.Length; i++)
            {
                for (int k = 0; k < classes; k++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs(reference[i][k] - output.Data[i * classes + k]));
                    scale = Math.Max(scale, Math.Abs(reference[i][k]));
                }
            }
            Console.WriteLine($"{Path.GetFileName(modelPath)}: max |Δlogit| = {maxDiff:E3} (logit scale {scale:F2})");
            Assert.IsTrue(maxDiff <= 1e-4, $"max abs logit difference {maxDiff} > 1e-4");
        }

        /// <summary>ONNX Runtime on the original file, one image at a time (the file fixes batch 1).</summary>
        internal static float[][] ReferenceOutputs(byte[] model, float[][] images, long[] sampleShape)
        {
            using var session = new OnnxSession(model, null);
            string inputName = OnnxImporter.Load(model, "reference").InputName;
            return images.Select(img => session.Run(new Dictionary<string, TensorBuffer>
            {
                [inputName] = new TensorBuffer(img, new long[] { 1 }.Concat(sampleShape).ToArray()),
            }).Values.First().Data).ToArray();
        }
    }
}
