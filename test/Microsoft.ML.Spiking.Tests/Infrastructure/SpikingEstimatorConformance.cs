// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests
{
    /// <summary>
    /// The estimator contract checks of ML.NET's TestEstimatorCore, for ConvertToSpiking: output schema on valid and
    /// invalid input (GetOutputSchema and Fit must both reject the invalid one with ArgumentOutOfRangeException), Fit and
    /// Transform schemas agree, save → load through the spiking package gives identical data, and the row-to-row
    /// mapper (prediction engines) agrees with Transform.
    /// </summary>
    internal static class SpikingEstimatorConformance
    {
        public static void Check(MLContext ml, SpikingConversionEstimator estimator, SchemaShape validShape, IDataView validFit, IDataView validTransform, SchemaShape invalidShape, IDataView invalidInput)
        {
            // 1. Schema propagation on valid and invalid input.
            SchemaShape expected = estimator.GetOutputSchema(validShape);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(invalidShape));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(invalidInput));

            using SpikingTransformer transformer = estimator.Fit(validFit);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => transformer.GetOutputSchema(invalidInput.Schema));

            // 2. Fit-time and transform-time schemas agree, with the estimator's shape.
            IDataView scored = transformer.Transform(validTransform);
            DataViewSchema fromTransformer = transformer.GetOutputSchema(validTransform.Schema);
            CollectionAssert.AreEqual(fromTransformer.Select(Describe).ToArray(), scored.Schema.Select(Describe).ToArray());
            foreach (SchemaShape.Column column in expected)
            {
                DataViewSchema.Column? actual = scored.Schema.GetColumnOrNull(column.Name);
                Assert.IsNotNull(actual, $"column '{column.Name}' promised by GetOutputSchema is missing");
                Assert.AreEqual(column.IsKey, actual.Value.Type is KeyDataViewType, column.Name);
            }

            // 3. Save → load through the package gives identical data.
            string path = Path.Combine(Path.GetTempPath(), $"spiking-conformance-{Guid.NewGuid():N}.zip");
            try
            {
                transformer.Save(path);
                using SpikingTransformer loaded = SpikingTransformer.Load(ml, path);
                IDataView reloaded = loaded.Transform(validTransform);
                CollectionAssert.AreEqual(scored.Schema.Select(Describe).ToArray(), reloaded.Schema.Select(Describe).ToArray());
                foreach (string name in new[] { "Score", "ScorePerStep", "AnnScore" })
                {
                    AssertSame(scored.GetColumn<float[]>(name).ToArray(), reloaded.GetColumn<float[]>(name).ToArray(), name);
                }
                AssertSame(scored.GetColumn<double[]>("SpikeCount").ToArray(), reloaded.GetColumn<double[]>("SpikeCount").ToArray(), "SpikeCount");
                CollectionAssert.AreEqual(scored.GetColumn<uint>("PredictedLabel").ToArray(), reloaded.GetColumn<uint>("PredictedLabel").ToArray());
            }
            finally
            {
                File.Delete(path);
            }

            // 4. The row-to-row mapper agrees with Transform.
            Assert.IsTrue(transformer.IsRowToRowMapper);
            IRowToRowMapper mapper = transformer.GetRowToRowMapper(validTransform.Schema);
            DataViewSchema.Column score = mapper.OutputSchema["Score"];
            float[][] batched = scored.GetColumn<float[]>("Score").ToArray();
            using DataViewRowCursor cursor = validTransform.GetRowCursor(mapper.GetDependencies(new[] { score }));
            using DataViewRow row = mapper.GetRow(cursor, new[] { score });
            ValueGetter<VBuffer<float>> getter = row.GetGetter<VBuffer<float>>(score);
            VBuffer<float> value = default;
            int index = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                float[] single = value.DenseValues().ToArray();
                for (int k = 0; k < single.Length; k++)
                {
                    Assert.AreEqual(batched[index][k], single[k], 1e-5f, $"row {index}, class {k}");
                }
                index++;
            }
            Assert.AreEqual(batched.Length, index);
        }

        private static string Describe(DataViewSchema.Column c) => $"{c.Name}:{c.Type}:{c.IsHidden}";

        private static void AssertSame<T>(T[][] expected, T[][] actual, string column)
        {
            Assert.AreEqual(expected.Length, actual.Length, column);
            for (int i = 0; i < expected.Length; i++)
            {
                CollectionAssert.AreEqual(expected[i], actual[i], $"{column}, row {i}");
            }
        }
    }
}
