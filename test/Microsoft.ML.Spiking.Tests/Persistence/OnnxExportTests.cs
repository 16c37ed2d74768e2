// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Persistence;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.ML.Spiking.Tests.Transforms;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Persistence
{
    /// <summary>
    /// SpikingTransformer.ExportOnnx: the standalone T-step model gives the transformer's Score through ML.NET's
    /// ApplyOnnxModel (the OnnxTransformer 5.0.1 over ONNX Runtime 1.31.1 smoke test) and through ONNX Runtime directly.
    /// </summary>
    [TestClass]
    public sealed class OnnxExportTests
    {
        private const int Rows = 20;

        [TestMethod]
        [DataRow(ConversionMethod.RateCoding)]
        [DataRow(ConversionMethod.DifferentialCoding)]
        [DataRow(ConversionMethod.BitSerial)]
        [DataRow(ConversionMethod.Parallel)]
        public void ApplyOnnxModelOnTheExportReproducesScore(ConversionMethod method)
        {
            var ml = new MLContext(seed: 1);
            List<SpikingEstimatorTests.Row> rows = SpikingEstimatorTests.Rows(Rows);
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            string path = Path.Combine(Path.GetTempPath(), $"spiking-{Guid.NewGuid():N}.onnx");
            try
            {
                float[][] expected;
                using (SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(SpikingPackageTests.Options(7, method)).Fit(data))
                {
                    transformer.ExportOnnx(path);
                    expected = transformer.Transform(data).GetColumn<float[]>("Score").ToArray();
                }
                ITransformer onnx = ml.Transforms.ApplyOnnxModel("Score", "Pixels", path).Fit(data);
                try
                {
                    IDataView scored = onnx.Transform(data);
                    Assert.AreEqual("Vector<Single, 1, 4>", scored.Schema["Score"].Type.ToString());
                    float[][] actual = scored.GetColumn<float[]>("Score").ToArray();
                    AssertClose(expected, actual);
                }
                finally
                {
                    (onnx as IDisposable)?.Dispose();
                }
            }
            finally
            {
                File.Delete(path);
            }
        }

        [TestMethod]
        public void ExportRunsWholeBatchesWithoutStateInputs()
        {
            var ml = new MLContext(seed: 1);
            List<SpikingEstimatorTests.Row> rows = SpikingEstimatorTests.Rows(Rows);
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(SpikingPackageTests.Options(7)).Fit(data);
            var buffer = new MemoryStream();
            transformer.ExportOnnx(buffer);
            byte[] model = buffer.ToArray();

            ModelProto proto = ModelProto.Parser.ParseFrom(model);
            CollectionAssert.AreEqual(new[] { "Pixels" }, proto.Graph.Input.Select(i => i.Name).ToArray());
            CollectionAssert.AreEqual(new[] { "Score" }, proto.Graph.Output.Select(o => o.Name).ToArray());
            Assert.IsFalse(proto.Graph.Node.Any(n => n.OpType == "ReduceSum"), "the spike-count nodes are pruned");
            Assert.AreEqual("8", proto.MetadataProps.Single(p => p.Key == "spiking.timeSteps").Value);

            using var session = new InferenceSession(model);
            float[] pixels = rows.SelectMany(r => r.Pixels).ToArray();
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, new long[] { Rows, 2, 6, 6 });
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, new[] { "Pixels" }, new[] { input }, new[] { "Score" });
            float[] scores = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            CollectionAssert.AreEqual(new long[] { Rows, 4 }, outputs[0].GetTensorTypeAndShape().Shape);
            float[][] expected = transformer.Transform(data).GetColumn<float[]>("Score").ToArray();
            AssertClose(expected, Enumerable.Range(0, Rows).Select(i => scores.AsSpan(i * 4, 4).ToArray()).ToArray());

            // The package carries the same model.
            var package = new MemoryStream();
            transformer.Save(package);
            using var zip = new ZipArchive(new MemoryStream(package.ToArray()), ZipArchiveMode.Read);
            var stored = new MemoryStream();
            using (Stream entry = zip.GetEntry("snn.onnx")!.Open())
            {
                entry.CopyTo(stored);
            }
            CollectionAssert.AreEqual(model, stored.ToArray());
        }

        [TestMethod]
        public void ExportMatchesTheSimulatorOnOtherNetworks()
        {
            var r = new Random(4);
            float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var mlp = new Network("x", new[] { 6 }, new Layer[]
            {
                new DenseLayer("d1", "Gemm", "x", "h", new FloatTensor(new[] { 5, 6 }, Rand(30)), Rand(5)),
                new IfNeuronLayer("n1", "Relu", "h", "s", new[] { 0.3f, 0.4f, 0.5f, 0.2f, 0.6f }, 0.5f, ResetMode.Subtract),
                new DenseLayer("d2", "Gemm", "s", "h2", new FloatTensor(new[] { 4, 5 }, Rand(20)), null),
                new IfNeuronLayer("n2", "Relu", "h2", "s2", new[] { 0.25f }, 0.25f, ResetMode.Zero),
                new DenseLayer("d3", "Gemm", "s2", "y", new FloatTensor(new[] { 3, 4 }, Rand(12)), Rand(3)),
            }, "y", "mlp");
            foreach (Network network in new[] { NetworkRoundTripTests.EveryLayerType(rateCodedOnly: true), mlp })
            {
                var snn = new SpikingNetwork(network, ConversionMethod.RateCoding, Array.Empty<string>());
                const int steps = 5;
                const int batch = 3;
                int size = ShapeUtil.Size(network.InputShape);
                float[] inputs = Enumerable.Range(0, batch * size).Select(_ => (float)r.NextDouble()).ToArray();
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, CountSynapticOperations = false });
                SimulationResult result = simulator.Run(inputs, batch);
                float[][] expected = Enumerable.Range(0, batch).Select(b => SpikingScorer.Softmax(result.GetEstimate(steps, b))).ToArray();

                byte[] model = SnnOnnxExporter.Export(snn, steps, "image", "probabilities", new[] { "a", "b", "c" });
                using var session = new InferenceSession(model);
                using var input = OrtValue.CreateTensorValueFromMemory(inputs, new long[] { batch }.Concat(network.InputShape.Select(d => (long)d)).ToArray());
                using var runOptions = new RunOptions();
                using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, new[] { "image" }, new[] { input }, new[] { "probabilities" });
                float[] scores = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                AssertClose(expected, Enumerable.Range(0, batch).Select(b => scores.AsSpan(b * 3, 3).ToArray()).ToArray());
            }
        }

        [TestMethod]
        public void ColumnNamesThatClashWithGraphValuesAreRefused()
        {
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(SpikingEstimatorTests.Rows(4));
            SpikingConversionOptions options = SpikingPackageTests.Options(7);
            options.ScoreColumnName = "output_steps";
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(options).Fit(data);
            var e = Assert.ThrowsExactly<ArgumentException>(() => transformer.ExportOnnx(new MemoryStream()));
            StringAssert.Contains(e.Message, "'output_steps'");
        }

        private static void AssertClose(float[][] expected, float[][] actual)
        {
            Assert.AreEqual(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.AreEqual(expected[i].Length, actual[i].Length);
                for (int k = 0; k < expected[i].Length; k++)
                {
                    Assert.AreEqual(expected[i][k], actual[i][k], 1e-5f, $"row {i}, class {k}");
                }
            }
        }
    }
}
