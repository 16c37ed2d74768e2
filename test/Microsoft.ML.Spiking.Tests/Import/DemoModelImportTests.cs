// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>
    /// The demo models eng/demo-model writes (samples/ImageClassification/assets): the importer reads them,
    /// preparation finds every QCFS chain with its L, and the lowered ANN gives ONNX Runtime's logits on the
    /// shipped PNGs.
    /// </summary>
    [TestClass]
    public sealed class DemoModelImportTests
    {
        private const int ImagesPerClass = 30;

        internal static readonly Lazy<(float[][] Pixels, int[] Labels)> s_images = new Lazy<(float[][], int[])>(LoadShippedImages);

        public sealed class ImageRow
        {
            public string ImagePath { get; set; } = string.Empty;
        }

        [TestMethod]
        [DataRow("shapes-cnn.onnx", 0)]
        [DataRow("shapes-qcfs-l3.onnx", 3)]
        [DataRow("shapes-qcfs-l7.onnx", 7)]
        [DataRow("shapes-qcfs-l15.onnx", 15)]
        public void PreparationFindsEveryQcfsChainWithItsLevels(string file, int levels)
        {
            Network imported = OnnxImporter.Load(AssetPath(file));
            CollectionAssert.AreEqual(new[] { 3, 32, 32 }, imported.InputShape);
            CollectionAssert.AreEqual(new[] { 10 }, imported.OutputShape);

            Network prepared = NetworkPreparation.Prepare(imported);
            List<QcfsLayer> qcfs = prepared.Layers.OfType<QcfsLayer>().ToList();
            if (levels == 0)
            {
                Assert.AreEqual(0, qcfs.Count);
                Assert.AreEqual(4, prepared.Layers.OfType<ReluLayer>().Count());
                Assert.AreEqual(PoolKind.Max, prepared.Layers.OfType<PoolLayer>().Single().Kind);
                return;
            }
            Assert.AreEqual(4, qcfs.Count, prepared.Describe());
            foreach (QcfsLayer q in qcfs)
            {
                Assert.AreEqual(levels, q.Levels, q.Name);
                Assert.AreEqual(1, q.Lambda.Length, "layer-wise λ");
                Assert.IsTrue(q.Lambda[0] > 0.5f && q.Lambda[0] < 20f, $"{q.Name}: λ = {q.Lambda[0]}");
            }
            Assert.AreEqual(0, prepared.Layers.Count(l => l is ReluLayer or ClipLayer or FloorLayer or ConstBinaryLayer or BatchNormLayer), prepared.Describe());
            Assert.AreEqual(PoolKind.Average, prepared.Layers.OfType<PoolLayer>().Single().Kind);
        }

        [TestMethod]
        [DataRow("shapes-cnn.onnx")]
        [DataRow("shapes-qcfs-l3.onnx")]
        [DataRow("shapes-qcfs-l7.onnx")]
        [DataRow("shapes-qcfs-l15.onnx")]
        public void LoweredAnnMatchesOnnxRuntimeOnShippedImages(string file)
        {
            string path = AssetPath(file);
            (float[][] pixels, int[] labels) = s_images.Value;
            long[] sampleShape = { 3, 32, 32 };
            float[][] reference = RealModelParityTests.ReferenceOutputs(File.ReadAllBytes(path), pixels, sampleShape);

            // The imported graph as it is, and after preparation (QCFS fused, batch normalization folded).
            Network imported = OnnxImporter.Load(path);
            float[][] lowered = RunLowered(imported, pixels, sampleShape);
            float[][] prepared = RunLowered(NetworkPreparation.Prepare(imported), pixels, sampleShape);

            double importedDiff = MaxAbsDiff(reference, lowered);
            double preparedDiff = MaxAbsDiff(reference, prepared);
            int agree = reference.Zip(prepared).Count(p => SimulationResult.ArgMax(p.First) == SimulationResult.ArgMax(p.Second));
            int correct = reference.Where((logits, i) => SimulationResult.ArgMax(logits) == labels[i]).Count();
            Console.WriteLine($"{file}: {pixels.Length} PNGs, ONNX Runtime accuracy {correct}/{pixels.Length}, max |Δlogit| imported {importedDiff:E2}, prepared {preparedDiff:E2}, prepared argmax agrees on {agree}");
            Assert.IsTrue(importedDiff <= 1e-4, $"imported: max abs logit difference {importedDiff} > 1e-4");
            // Folding batch normalization changes float rounding; a QCFS level could in principle flip at a
            // rounding boundary, which would show as a difference of about λ/L in one activation.
            Assert.IsTrue(preparedDiff <= 1e-3, $"prepared: max abs logit difference {preparedDiff} > 1e-3");
            Assert.AreEqual(pixels.Length, agree);
            Assert.IsTrue(correct >= pixels.Length * 9 / 10, $"ONNX Runtime classifies {correct}/{pixels.Length} correctly");
        }

        /// <summary>samples/ImageClassification/assets/<paramref name="file"/> in the repository this test was built from.</summary>
        internal static string AssetPath(string file)
        {
            string path = Path.Combine(RepositoryRoot(), "samples", "ImageClassification", "assets", file);
            Assert.IsTrue(File.Exists(path), $"{path} is missing (eng/demo-model/train.py writes it)");
            return path;
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Spiking.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException($"no Microsoft.ML.Spiking.sln above {AppContext.BaseDirectory}");
        }

        /// <summary>The shipped PNGs (all 30 of each class), decoded by ML.NET's image pipeline (RGB, CHW, pixel / 255).</summary>
        private static (float[][] Pixels, int[] Labels) LoadShippedImages()
        {
            string folder = Path.Combine(RepositoryRoot(), "samples", "ImageClassification", "assets", "images");
            string[] classes = File.ReadAllLines(Path.Combine(folder, "labels.txt")).Where(l => l.Length > 0).ToArray();
            var rows = new List<ImageRow>();
            var labels = new List<int>();
            for (int c = 0; c < classes.Length; c++)
            {
                foreach (string png in Directory.GetFiles(Path.Combine(folder, classes[c]), "*.png").OrderBy(f => f, StringComparer.Ordinal).Take(ImagesPerClass))
                {
                    rows.Add(new ImageRow { ImagePath = png });
                    labels.Add(c);
                }
            }
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            var pipeline = ml.Transforms.LoadImages("Image", null, nameof(ImageRow.ImagePath))
                .Append(ml.Transforms.ResizeImages("Image", 32, 32))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255));
            float[][] pixels = pipeline.Fit(data).Transform(data).GetColumn<float[]>("Pixels").ToArray();
            Assert.AreEqual(classes.Length * ImagesPerClass, pixels.Length);
            return (pixels, labels.ToArray());
        }

        internal static float[][] RunLowered(Network network, float[][] images, long[] sampleShape)
        {
            using var session = new OnnxSession(AnnExporter.Export(network), null);
            float[] batch = images.SelectMany(i => i).ToArray();
            float[] output = session.Run(new Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(batch, new long[] { images.Length }.Concat(sampleShape).ToArray()),
            })[AnnExporter.OutputName].Data;
            int classes = output.Length / images.Length;
            return Enumerable.Range(0, images.Length).Select(i => output.AsSpan(i * classes, classes).ToArray()).ToArray();
        }

        internal static double MaxAbsDiff(float[][] a, float[][] b)
        {
            double max = 0;
            for (int i = 0; i < a.Length; i++)
            {
                Assert.AreEqual(a[i].Length, b[i].Length);
                for (int k = 0; k < a[i].Length; k++)
                {
                    max = Math.Max(max, Math.Abs(a[i][k] - b[i][k]));
                }
            }
            return max;
        }
    }
}
