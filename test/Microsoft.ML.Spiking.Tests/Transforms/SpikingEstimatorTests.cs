// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Transforms
{
    /// <summary>Conformance of ConvertToSpiking with ML.NET's estimator contract (in the spirit of TestEstimatorCore).</summary>
    [TestClass]
    public sealed class SpikingEstimatorTests
    {
        private const int Classes = 4;

        public sealed class Row
        {
            [VectorType(2, 6, 6)]
            public float[] Pixels { get; set; } = Array.Empty<float>();

            public float Label { get; set; }

            public string Name { get; set; } = string.Empty;
        }

        public sealed class WrongSizeRow
        {
            [VectorType(10)]
            public float[] Pixels { get; set; } = Array.Empty<float>();
        }

        public sealed class WrongTypeRow
        {
            public float Pixels { get; set; }
        }

        public sealed class Prediction
        {
            public float[] Score { get; set; } = Array.Empty<float>();

            public float[] AnnScore { get; set; } = Array.Empty<float>();
        }

        public sealed class NoInput
        {
        }

        /// <summary>The SchemaShape of a row class, built through public API (SchemaShape.Create is internal).</summary>
        internal static SchemaShape ShapeOf<T>()
            where T : class, new() =>
            new MLContext().Transforms.CustomMapping<NoInput, T>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()));

        /// <summary>A small conv net with a residual add, exported to ONNX bytes by the project's own writer.</summary>
        internal static byte[] FixtureModel()
        {
            var r = new Random(11);
            float[] Rand(int n, float s) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * s).ToArray();
            var layers = new Layer[]
            {
                new ConvLayer("c1", "Conv", "x", "c1", new FloatTensor(new[] { 4, 2, 3, 3 }, Rand(72, 0.5f)), Rand(4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new ReluLayer("r1", "Relu", "c1", "r1"),
                new ConvLayer("c2", "Conv", "r1", "c2", new FloatTensor(new[] { 4, 4, 3, 3 }, Rand(144, 0.4f)), Rand(4, 0.1f), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1 }, 1),
                new BinaryLayer("add", "Add", "c2", "r1", "s", BinaryOp.Add),
                new ReluLayer("r2", "Relu", "s", "r2"),
                new GlobalAveragePoolLayer("gap", "GlobalAveragePool", "r2", "g"),
                new ReshapeLayer("f", "Flatten", "g", "f", new[] { 4 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { Classes, 4 }, Rand(16, 1.5f)), Rand(Classes, 0.1f)),
            };
            return AnnExporter.Export(new Network("x", new[] { 2, 6, 6 }, layers, "y", "fixture"));
        }

        internal static List<Row> Rows(int count, int seed = 5)
        {
            var r = new Random(seed);
            return Enumerable.Range(0, count).Select(i => new Row
            {
                Pixels = Enumerable.Range(0, 72).Select(_ => (float)r.NextDouble()).ToArray(),
                Label = i,
                Name = "class" + (i % Classes),
            }).ToList();
        }

        private static SpikingConversionOptions Options(int batchSize = 64) => new SpikingConversionOptions
        {
            ModelBytes = FixtureModel(),
            TimeSteps = 8,
            BatchSize = batchSize,
            ClassNames = Enumerable.Range(0, Classes).Select(i => "class" + i).ToArray(),
        };

        [TestMethod]
        public void ConformsToTheEstimatorContract()
        {
            var ml = new MLContext(seed: 1);
            IDataView fit = ml.Data.LoadFromEnumerable(Rows(40, seed: 3));
            IDataView transform = ml.Data.LoadFromEnumerable(Rows(25, seed: 4));
            IDataView invalid = ml.Data.LoadFromEnumerable(new[] { new WrongTypeRow() });
            SpikingEstimatorConformance.Check(ml, ml.Transforms.ConvertToSpiking(Options(batchSize: 7)), ShapeOf<Row>(), fit, transform, ShapeOf<WrongTypeRow>(), invalid);
        }

        [TestMethod]
        public void OutputSchemaOnValidAndInvalidInput()
        {
            var ml = new MLContext(seed: 1);
            var estimator = ml.Transforms.ConvertToSpiking(Options());
            IDataView valid = ml.Data.LoadFromEnumerable(Rows(3));
            SchemaShape shape = estimator.GetOutputSchema(ShapeOf<Row>());
            var byName = shape.ToDictionary(c => c.Name);
            Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, byName["Score"].Kind);
            Assert.AreEqual(NumberDataViewType.Single, byName["Score"].ItemType);
            Assert.IsTrue(byName["PredictedLabel"].IsKey);
            Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, byName["ScorePerStep"].Kind);
            Assert.AreEqual(NumberDataViewType.Double, byName["SpikeCount"].ItemType);
            Assert.IsTrue(byName.ContainsKey("AnnScore"));
            Assert.IsTrue(byName.ContainsKey("Label") && byName.ContainsKey("Name"), "input columns pass through");

            IDataView wrongType = ml.Data.LoadFromEnumerable(new[] { new WrongTypeRow() });
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(ShapeOf<WrongTypeRow>()));
            StringAssert.Contains(e.Message, "Schema mismatch for input column 'Pixels'");
            e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(wrongType));
            StringAssert.Contains(e.Message, "Schema mismatch for input column 'Pixels'");

            IDataView wrongSize = ml.Data.LoadFromEnumerable(new[] { new WrongSizeRow { Pixels = new float[10] } });
            e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(wrongSize));
            StringAssert.Contains(e.Message, "expected vector of Single with 72 values");
            StringAssert.Contains(e.Message, "got Vector<Single, 10>");

            var missing = ml.Transforms.ConvertToSpiking(new SpikingConversionOptions { ModelBytes = FixtureModel(), InputColumnName = "Image" });
            e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => missing.GetOutputSchema(ShapeOf<Row>()));
            StringAssert.Contains(e.Message, "Could not find input column 'Image'");

            using SpikingTransformer transformer = estimator.Fit(valid);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => transformer.Transform(wrongSize));
        }

        [TestMethod]
        public void FitAndTransformSchemasAgree()
        {
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(Rows(20));
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options()).Fit(data);
            DataViewSchema expected = transformer.GetOutputSchema(data.Schema);
            DataViewSchema actual = transformer.Transform(data).Schema;
            CollectionAssert.AreEqual(expected.Select(c => $"{c.Name}:{c.Type}").ToArray(), actual.Select(c => $"{c.Name}:{c.Type}").ToArray());
            Assert.AreEqual("Vector<Single, 8, 4>", actual["ScorePerStep"].Type.ToString());
            VBuffer<ReadOnlyMemory<char>> slotNames = default;
            actual["Score"].GetSlotNames(ref slotNames);
            CollectionAssert.AreEqual(new[] { "class0", "class1", "class2", "class3" }, slotNames.DenseValues().Select(v => v.ToString()).ToArray());
            SchemaShape fromEstimator = ml.Transforms.ConvertToSpiking(Options()).GetOutputSchema(ShapeOf<Row>());
            CollectionAssert.AreEquivalent(actual.Where(c => !c.IsHidden).Select(c => c.Name).Distinct().ToArray(), fromEstimator.Select(c => c.Name).ToArray());
        }

        [TestMethod]
        [DataRow(1)]
        [DataRow(7)]
        [DataRow(64)]
        public void PassthroughColumnsStayAlignedAcrossBatches(int batchSize)
        {
            var ml = new MLContext(seed: 1);
            List<Row> rows = Rows(100);
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options(batchSize)).Fit(data);
            IDataView scored = transformer.Transform(data);
            float[] labels = scored.GetColumn<float>("Label").ToArray();
            string[] names = scored.GetColumn<string>("Name").ToArray();
            float[][] scores = scored.GetColumn<float[]>("Score").ToArray();
            CollectionAssert.AreEqual(rows.Select(r => r.Label).ToArray(), labels);
            CollectionAssert.AreEqual(rows.Select(r => r.Name).ToArray(), names);

            // Every row's Score equals a direct simulation of that row alone.
            using var simulator = new SpikingSimulator(transformer.Network, new SimulationOptions { TimeSteps = 8 });
            foreach (int i in new[] { 0, 6, 7, 63, 64, 99 })
            {
                SimulationResult single = simulator.Run(rows[i].Pixels, 1);
                float[] expected = SpikingScorer.Softmax(single.GetEstimate(8, 0));
                for (int k = 0; k < Classes; k++)
                {
                    Assert.AreEqual(expected[k], scores[i][k], 1e-5f, $"row {i}, class {k}");
                }
            }
        }

        [TestMethod]
        public void CursorsAreRepeatableAndPredictionEngineAgrees()
        {
            var ml = new MLContext(seed: 1);
            List<Row> rows = Rows(30);
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options(8)).Fit(data);
            IDataView scored = transformer.Transform(data);
            float[][] first = scored.GetColumn<float[]>("Score").ToArray();
            float[][] second = scored.GetColumn<float[]>("Score").ToArray();
            uint[] predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
            float[][] ann = scored.GetColumn<float[]>("AnnScore").ToArray();
            Assert.IsTrue(transformer.IsRowToRowMapper);
            var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(transformer);
            for (int i = 0; i < rows.Count; i++)
            {
                CollectionAssert.AreEqual(first[i], second[i]);
                Assert.AreEqual((uint)(SimulationResult.ArgMax(first[i]) + 1), predicted[i]);
                Prediction p = engine.Predict(rows[i]);
                for (int k = 0; k < Classes; k++)
                {
                    Assert.AreEqual(first[i][k], p.Score[k], 1e-5f);
                    Assert.AreEqual(ann[i][k], p.AnnScore[k], 1e-5f);
                }
            }
            using var annRunner = new AnnRunner(transformer.Ann);
            float[] logits = annRunner.Run(rows[3].Pixels, 1);
            CollectionAssert.AreEqual(logits, ann[3]);
        }

        [TestMethod]
        public void CursorsOnSeveralThreadsGiveTheSameRows()
        {
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(Rows(40));
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options(6)).Fit(data);
            IDataView scored = transformer.Transform(data);
            float[][] reference = scored.GetColumn<float[]>("Score").ToArray();
            float[][][] results = new float[4][][];
            System.Threading.Tasks.Parallel.For(0, 4, i => results[i] = scored.GetColumn<float[]>("Score").ToArray());
            foreach (float[][] result in results)
            {
                Assert.AreEqual(reference.Length, result.Length);
                for (int r = 0; r < reference.Length; r++)
                {
                    CollectionAssert.AreEqual(reference[r], result[r], $"row {r}");
                }
            }
        }

        [TestMethod]
        public void MapValueToKeyWithoutKeyDataIsCaught()
        {
            var ml = new MLContext(seed: 1);
            // Labels first appear in the order class2, class0, class3, class1: not the model's order.
            var rows = Rows(12).Select((r, i) => { r.Name = "class" + new[] { 2, 0, 3, 1 }[i % 4]; return r; }).ToList();
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            var options = Options();
            options.LabelColumnName = "LabelKey";
            var trap = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Name").Append(ml.Transforms.ConvertToSpiking(options));
            var e = Assert.ThrowsExactly<InvalidOperationException>(() => trap.Fit(data));
            StringAssert.Contains(e.Message, "keyData");
            StringAssert.Contains(e.Message, "[class2, class0, class3, class1]");

            IDataView keyData = ml.Data.LoadFromEnumerable(options.ClassNames!.Select(n => new { Name = n }));
            var right = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Name", keyData: keyData).Append(ml.Transforms.ConvertToSpiking(options));
            using var model = right.Fit(data);
            IDataView scored = model.Transform(data);
            var metrics = ml.MulticlassClassification.Evaluate(scored, labelColumnName: "LabelKey");
            uint[] keys = scored.GetColumn<uint>("LabelKey").ToArray();
            float[][] scores = scored.GetColumn<float[]>("Score").ToArray();
            double accuracy = keys.Where((key, i) => SimulationResult.ArgMax(scores[i]) == key - 1).Count() / (double)keys.Length;
            Assert.AreEqual(accuracy, metrics.MicroAccuracy, 1e-12);
        }

        [TestMethod]
        public void SavingThroughMLNetSaysWhatToUseInstead()
        {
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(Rows(4));
            SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options()).Fit(data);
            var e = Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(transformer, data.Schema, new System.IO.MemoryStream()));
            StringAssert.Contains(e.Message, "closed to external assemblies");
            StringAssert.Contains(e.Message, "SpikingTransformer.Save(path)");
            transformer.Dispose();
            transformer.Dispose();
        }

        [TestMethod]
        public void OptionsAreChecked()
        {
            var ml = new MLContext();
            Assert.ThrowsExactly<ArgumentNullException>(() => ml.Transforms.ConvertToSpiking((SpikingConversionOptions)null!));
            var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ConvertToSpiking(new SpikingConversionOptions()));
            StringAssert.Contains(e.Message, "ModelFile");
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ConvertToSpiking(new SpikingConversionOptions { ModelBytes = FixtureModel(), TimeSteps = 0 }));
            Assert.ThrowsExactly<System.IO.FileNotFoundException>(() => ml.Transforms.ConvertToSpiking("does-not-exist.onnx"));
            var wrongClasses = new SpikingConversionOptions { ModelBytes = FixtureModel(), ClassNames = new[] { "a", "b" } };
            var ae = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ConvertToSpiking(wrongClasses).Fit(ml.Data.LoadFromEnumerable(Rows(2))));
            StringAssert.Contains(ae.Message, "2 names but the model outputs 4");
        }

        [TestMethod]
        public void MLContextEntryPointLogsToTheContext()
        {
            var ml = new MLContext(seed: 1);
            var messages = new List<string>();
            ml.Log += (_, e) =>
            {
                lock (messages)
                {
                    messages.Add(e.Message);
                }
            };
            using SpikingTransformer transformer = ml.Spiking().ConvertToSpiking(Options()).Fit(ml.Data.LoadFromEnumerable(Rows(10)));
            Assert.IsTrue(messages.Any(m => m.Contains("Calibrated on 10 rows")), string.Join(Environment.NewLine, messages));
        }
    }
}
