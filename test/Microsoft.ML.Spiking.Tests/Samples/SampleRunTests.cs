// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.Spiking.Samples;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Samples
{
    /// <summary>The sample's entry point on its embedded model: a short run with report and plots, and the one-line errors.</summary>
    [TestClass]
    public sealed class SampleRunTests
    {
        private static readonly byte[] PngSignature = { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };

        [TestMethod]
        public void EmbeddedDefaultRunWritesTheReportAndThePlots()
        {
            string folder = Path.Combine(Path.GetTempPath(), "spiking-sample-" + Guid.NewGuid().ToString("N"));
            string reportFile = Path.Combine(folder, "r.json");
            string plots = Path.Combine(folder, "p");
            try
            {
                (int code, string output, string errors) = Run("--limit", "30", "--steps", "4", "--report", reportFile, "--plots", plots);
                Assert.AreEqual(0, code, errors);
                Assert.AreEqual(string.Empty, errors);
                StringAssert.Contains(output, "shapes-cnn.onnx (embedded)");
                StringAssert.Contains(output, "100 calibrate, 30 are evaluated");
                Assert.IsFalse(output.Contains("Skipped methods", StringComparison.Ordinal), "every method is available");
                StringAssert.Contains(output, "SNN acc");

                using JsonDocument document = JsonDocument.Parse(File.ReadAllText(reportFile));
                JsonElement root = document.RootElement;
                Assert.AreEqual("microsoft.ml.spiking/image-classification-report/1", root.GetProperty("schema").GetString());
                JsonElement model = root.GetProperty("model");
                StringAssert.StartsWith(model.GetProperty("file").GetString(), "shapes-cnn.onnx");
                CollectionAssert.AreEqual(new[] { 3, 32, 32 }, model.GetProperty("inputShape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
                Assert.AreEqual("circle", model.GetProperty("classes")[0].GetString());
                Assert.AreEqual(10, model.GetProperty("classes").GetArrayLength());
                JsonElement data = root.GetProperty("data");
                Assert.AreEqual(300, data.GetProperty("imagesFound").GetInt32());
                Assert.AreEqual(100, data.GetProperty("calibrationImages").GetInt32());
                Assert.AreEqual(30, data.GetProperty("evaluatedImages").GetInt32());
                JsonElement options = root.GetProperty("options");
                Assert.AreEqual("all", options.GetProperty("method")[0].GetString());
                Assert.AreEqual(4, options.GetProperty("steps")[0].GetInt32());
                Assert.AreEqual("per method: rate percentile, differential iteration, parallel max, bitserial percentile", options.GetProperty("thresholds").GetString());
                Assert.AreEqual("channel", options.GetProperty("granularity").GetString());
                Assert.AreEqual("32x32", options.GetProperty("size").GetString());
                Assert.AreEqual(30, options.GetProperty("limit").GetInt32());
                JsonElement versions = root.GetProperty("versions");
                foreach (string name in new[] { "spiking", "mlNet", "onnxRuntime", "dotnet", "os" })
                {
                    Assert.IsFalse(string.IsNullOrEmpty(versions.GetProperty(name).GetString()), name);
                }
                Assert.AreEqual(0, root.GetProperty("skippedMethods").GetArrayLength());

                Assert.AreEqual(4, root.GetProperty("results").GetArrayLength());
                CollectionAssert.AreEqual(new[] { "rate", "differential", "parallel", "bitserial" }, root.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("method").GetString()).ToArray());
                foreach (JsonElement result in root.GetProperty("results").EnumerateArray())
                {
                    Assert.AreEqual(4, result.GetProperty("timeSteps").GetInt32());
                    Assert.AreEqual(30, result.GetProperty("images").GetInt32());
                    double[] perStep = result.GetProperty("accuracyPerStep").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    Assert.AreEqual(4, perStep.Length);
                    Assert.AreEqual(perStep[^1], result.GetProperty("snnAccuracy").GetDouble());
                    Assert.IsTrue(perStep.All(a => a >= 0 && a <= 1));
                    double ann = result.GetProperty("annAccuracy").GetDouble();
                    Assert.IsTrue(ann > 0.8 && ann <= 1, $"ANN accuracy {ann}");
                    Assert.IsTrue(result.GetProperty("spikesPerImage").GetDouble() > 0);
                    Assert.IsTrue(result.GetProperty("synapticOpsPerImage").GetDouble() > 0);
                    Assert.IsTrue(result.GetProperty("annMacsPerImage").GetInt64() > 1_000_000);
                    double[] energy = result.GetProperty("energyRatioPerStep").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                    Assert.AreEqual(4, energy.Length);
                    Assert.AreEqual(energy[^1], result.GetProperty("energyRatio").GetDouble());
                    Assert.IsTrue(energy.Zip(energy.Skip(1)).All(p => p.First <= p.Second), "energy grows with t");
                    Assert.IsTrue(result.GetProperty("annImagesPerSecond").GetDouble() > 0);
                    Assert.IsTrue(result.GetProperty("snnImagesPerSecond").GetDouble() > 0);
                    Assert.IsTrue(result.GetProperty("calibrationSeconds").GetDouble() > 0);
                    JsonElement rates = result.GetProperty("firingRates");
                    Assert.AreEqual(4, rates.GetArrayLength());
                    Assert.IsTrue(rates.EnumerateArray().All(r => r.GetProperty("layer").GetString()!.Length > 0 && r.GetProperty("firingRate").GetDouble() is > 0 and <= 1));
                    if (result.GetProperty("method").GetString() == "bitserial")
                    {
                        Assert.AreEqual(1.0, result.GetProperty("quantizedAgreement").GetDouble(), "the bit-serial SNN equals the quantized ANN on every row");
                        Assert.AreEqual(result.GetProperty("snnAccuracy").GetDouble(), result.GetProperty("quantizedAnnAccuracy").GetDouble());
                    }
                    else
                    {
                        Assert.IsFalse(result.TryGetProperty("quantizedAnnAccuracy", out _), "bit-serial figures only for bitserial");
                        Assert.IsFalse(result.TryGetProperty("quantizedAgreement", out _));
                    }
                }

                foreach (string file in new[] { "accuracy.png", "energy.png", "firing-rates.png" })
                {
                    byte[] png = File.ReadAllBytes(Path.Combine(plots, file));
                    Assert.IsTrue(png.Length > 5000, file);
                    CollectionAssert.AreEqual(PngSignature, png.Take(8).ToArray(), file);
                }
            }
            finally
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        }

        [TestMethod]
        [DataRow(2, "error: unknown option '--bogus' (see --help)", "--bogus")]
        [DataRow(2, "error: --thresholds iteration applies to differential and bit-serial conversion; parallel uses max or percentile", "--method", "parallel", "--thresholds", "iteration")]
        [DataRow(2, "error: --steps expects a whole number, got 'x'", "--steps=x")]
        [DataRow(1, "error: ONNX model file 'no-such-model.onnx' does not exist.", "--model", "no-such-model.onnx")]
        [DataRow(1, "error: image folder 'no-such-folder' does not exist", "--images", "no-such-folder")]
        [DataRow(1, "error: 3 classes (circle,square,triangle) but shapes-cnn.onnx (embedded) outputs 10; give the model's classes in output order with --classes", "--classes", "circle,square,triangle")]
        [DataRow(1, "error: --size 64x48 does not match the input of shapes-cnn.onnx (embedded), 32x32 [3,32,32]; leave --size out to use the model's input size", "--size", "64x48")]
        public void ErrorsAreOneLineWithTheirExitCode(int expectedCode, string expectedError, params string[] args)
        {
            (int code, string output, string errors) = Run(args);
            Assert.AreEqual(expectedCode, code, errors);
            Assert.AreEqual(expectedError + Environment.NewLine, errors);
            Assert.AreEqual(string.Empty, output);
        }

        [TestMethod]
        public void UnsupportedOpIsOneLineNamingTheNode()
        {
            string model = Path.Combine(Path.GetTempPath(), "spiking-sample-sigmoid-" + Guid.NewGuid().ToString("N") + ".onnx");
            File.WriteAllBytes(model, new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 32, 32)
                .NamedNode("gate", "Sigmoid", string.Empty, new[] { "x" }, new[] { "y" })
                .Output("y")
                .Build());
            try
            {
                (int code, _, string errors) = Run("--model", model);
                Assert.AreEqual(1, code);
                StringAssert.StartsWith(errors, "error: " + Path.GetFileName(model) + ": 1 node(s) cannot be converted");
                StringAssert.Contains(errors, "'gate' (Sigmoid)");
                Assert.AreEqual(1, errors.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Length, errors);
            }
            finally
            {
                File.Delete(model);
            }
        }

        [TestMethod]
        public void UndecodableImageIsOneLine()
        {
            string shipped = Path.Combine(AppContext.BaseDirectory, "assets", "images");
            string folder = Path.Combine(Path.GetTempPath(), "spiking-sample-bad-" + Guid.NewGuid().ToString("N"));
            try
            {
                string[] classes = File.ReadAllLines(Path.Combine(shipped, "labels.txt")).Where(l => l.Length > 0).ToArray();
                foreach (string c in classes)
                {
                    Directory.CreateDirectory(Path.Combine(folder, c));
                    foreach (string file in Directory.GetFiles(Path.Combine(shipped, c)).Order(StringComparer.Ordinal).Take(2))
                    {
                        File.Copy(file, Path.Combine(folder, c, Path.GetFileName(file)));
                    }
                }
                File.Copy(Path.Combine(shipped, "labels.txt"), Path.Combine(folder, "labels.txt"));
                File.WriteAllText(Path.Combine(folder, classes[0], "0000.png"), "not a png");
                (int code, _, string errors) = Run("--images", folder, "--calibration", "10", "--steps", "2");
                Assert.AreEqual(1, code, errors);
                Assert.AreEqual("error: an image file could not be decoded (LoadImages: Invalid input stream contents); every file in the class folders must be an image" + Environment.NewLine, errors);
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        /// <summary>
        /// "all" on a transformer runs differential coding and says, per method, why the others are left out; asking for one
        /// of those methods alone is a one-line error naming the first layers it cannot convert.
        /// </summary>
        [TestMethod]
        public void AllOnAViTRunsDifferentialCodingAndSaysWhyTheOthersAreSkipped()
        {
            string vit = Import.DemoModelImportTests.AssetPath("shapes-vit.onnx");
            string reportFile = Path.Combine(Path.GetTempPath(), "spiking-sample-vit-" + Guid.NewGuid().ToString("N") + ".json");
            try
            {
                (int code, string output, string errors) = Run("--model", vit, "--limit", "10", "--calibration", "20", "--steps", "2", "--report", reportFile);
                Assert.AreEqual(0, code, errors);
                foreach (string method in new[] { "rate", "parallel", "bitserial" })
                {
                    StringAssert.Contains(output, $"Skipped {method}: shapes-vit.onnx: ");
                }
                StringAssert.Contains(output, "'/blocks/blocks.0/norm1/LayerNormalization' (LayerNormalization)");
                StringAssert.Matches(output, new System.Text.RegularExpressions.Regex(@"\ndifferential\s+2\s+10\s"));
                using JsonDocument report = JsonDocument.Parse(File.ReadAllText(reportFile));
                Assert.AreEqual(3, report.RootElement.GetProperty("skippedMethods").GetArrayLength());
                Assert.AreEqual("per method: rate percentile, differential percentile, parallel max, bitserial percentile", report.RootElement.GetProperty("options").GetProperty("thresholds").GetString());
                Assert.AreEqual(1, report.RootElement.GetProperty("results").GetArrayLength());
            }
            finally
            {
                File.Delete(reportFile);
            }

            (int alone, _, string error) = Run("--model", vit, "--method", "rate", "--limit", "10", "--steps", "2");
            Assert.AreEqual(1, alone);
            StringAssert.StartsWith(error, "error: shapes-vit.onnx: rate coding cannot convert 19 layer(s): '/blocks/blocks.0/norm1/LayerNormalization' (LayerNormalization)");
            StringAssert.EndsWith(error, "; and 17 more" + Environment.NewLine);
            Assert.AreEqual(1, error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Length, error);
        }

        [TestMethod]
        public void HelpListsEveryOption()
        {
            (int code, string output, string errors) = Run("--help");
            Assert.AreEqual(0, code);
            Assert.AreEqual(string.Empty, errors);
            foreach (string option in new[] { "--model", "--images", "--classes", "--size", "--scale", "--mean", "--std", "--method", "--steps", "--thresholds", "--granularity", "--calibration", "--limit", "--seed", "--batch", "--report", "--plots" })
            {
                StringAssert.Contains(output, option);
            }
        }

        private static (int Code, string Output, string Errors) Run(params string[] args)
        {
            using var output = new StringWriter();
            using var errors = new StringWriter();
            int code = Program.Run(args, output, errors, progress: null);
            return (code, output.ToString(), errors.ToString());
        }
    }
}
