// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.ML.Spiking.Tests.Import;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Transforms
{
    /// <summary>LoadImages → ResizeImages → ExtractPixels → ConvertToSpiking → Evaluate on the CIFAR-10 JPEG images.</summary>
    [TestClass]
    public sealed class ImagePipelineTests
    {
        private static readonly string[] s_classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

        public sealed class ImageRow
        {
            public string ImagePath { get; set; } = string.Empty;

            public string Label { get; set; } = string.Empty;
        }

        [TestMethod]
        public void ResNet20PipelineAnnAccuracyEqualsOnnxRuntime()
        {
            string model = SharedData.Require("cifar10", "resnet20.onnx");
            string folder = SharedData.Require("cifar10", "test");
            List<ImageRow> Files(int from, int count) => s_classes.SelectMany(c => Enumerable.Range(from, count)
                .Select(i => new ImageRow { ImagePath = Path.Combine(folder, c, $"{i:D4}.jpg"), Label = c })).ToList();
            var ml = new MLContext(seed: 1);
            IDataView calibration = ml.Data.LoadFromEnumerable(Files(500, 10));
            IDataView test = ml.Data.LoadFromEnumerable(Files(0, 15));
            IDataView keyData = ml.Data.LoadFromEnumerable(s_classes.Select(c => new { Label = c }));
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData)
                .Append(ml.Transforms.LoadImages("Image", null, nameof(ImageRow.ImagePath)))
                .Append(ml.Transforms.ResizeImages("Image", 32, 32))
                .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
                .Append(ml.Transforms.ConvertToSpiking(new SpikingConversionOptions
                {
                    ModelFile = model,
                    InputMean = SharedData.CifarMean,
                    InputStd = SharedData.CifarStd,
                    ClassNames = s_classes,
                    TimeSteps = 8,
                    BatchSize = 50,
                }));
            var fitted = pipeline.Fit(calibration);
            IDataView scored = fitted.Transform(test);
            var snnMetrics = ml.MulticlassClassification.Evaluate(scored);
            var annMetrics = ml.MulticlassClassification.Evaluate(scored, scoreColumnName: "AnnScore");

            // ONNX Runtime on the original file, same pixels (normalized as the model expects), one image at a time.
            float[][] pixels = scored.GetColumn<float[]>("Pixels").ToArray();
            uint[] labels = scored.GetColumn<uint>("Label").ToArray();
            float[][] normalized = SharedData.NormalizeCifar(pixels);
            float[][] reference = RealModelParityTests.ReferenceOutputs(File.ReadAllBytes(model), normalized, new long[] { 3, 32, 32 });
            double ortAccuracy = reference.Where((logits, i) => SimulationResult.ArgMax(logits) == labels[i] - 1).Count() / (double)reference.Length;
            Console.WriteLine($"150 images: ANN (pipeline) {annMetrics.MicroAccuracy:P2}, ONNX Runtime {ortAccuracy:P2}, SNN T=8 {snnMetrics.MicroAccuracy:P2}");
            Assert.AreEqual(ortAccuracy, annMetrics.MicroAccuracy, 1e-12);
            Assert.IsTrue(snnMetrics.MicroAccuracy > 0.3, "rate-coded ResNet-20 at T = 8 is well above chance");
            CollectionAssert.AreEqual(s_classes, ((SpikingTransformer)fitted.LastTransformer).ClassNames.ToArray());
            ((IDisposable)fitted.LastTransformer).Dispose();
        }
    }
}
