// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Evaluation;

namespace Microsoft.ML.Spiking
{
    /// <summary>Reads a spiking transformer's columns from scored data into <see cref="SpikingMetrics"/>.</summary>
    internal static class SpikingEvaluation
    {
        public static SpikingMetrics Evaluate(IDataView scored, SpikingTransformer transformer, string labelColumnName, EnergyModel energyModel, IProgress<long>? progress)
        {
            SpikingConversionOptions options = transformer.Options;
            DataViewSchema schema = scored.Schema;
            DataViewSchema.Column label = Require(schema, labelColumnName, "the label");
            DataViewSchema.Column perStep = Require(schema, options.ScorePerStepColumnName, "the running estimates");
            DataViewSchema.Column spikes = Require(schema, options.SpikesPerStepColumnName, "the spikes per step");
            DataViewSchema.Column? sops = transformer.Scorer.Layout.HasSynapticOperations ? Require(schema, options.SynapticOperationsColumnName, "the synaptic operations") : null;
            DataViewSchema.Column? ann = options.AnnScoreColumnName != null ? schema.GetColumnOrNull(options.AnnScoreColumnName) : null;

            var columns = new System.Collections.Generic.List<DataViewSchema.Column> { label, perStep, spikes };
            if (sops != null)
            {
                columns.Add(sops.Value);
            }
            if (ann != null)
            {
                columns.Add(ann.Value);
            }
            var metrics = new SpikingMetrics(energyModel);
            metrics.Initialize(transformer.Scorer.Layout, ann != null);
            int classes = transformer.ClassNames.Count;
            using DataViewRowCursor cursor = scored.GetRowCursor(columns);
            Func<int?> readLabel = LabelReader(cursor, label);
            ValueGetter<VBuffer<float>> perStepGetter = cursor.GetGetter<VBuffer<float>>(perStep);
            ValueGetter<VBuffer<double>> spikesGetter = cursor.GetGetter<VBuffer<double>>(spikes);
            ValueGetter<VBuffer<double>>? sopsGetter = sops != null ? cursor.GetGetter<VBuffer<double>>(sops.Value) : null;
            ValueGetter<VBuffer<float>>? annGetter = ann != null ? cursor.GetGetter<VBuffer<float>>(ann.Value) : null;
            VBuffer<float> perStepValues = default;
            VBuffer<double> spikeValues = default;
            VBuffer<double> sopValues = default;
            VBuffer<float> annValues = default;
            long rows = 0;
            while (cursor.MoveNext())
            {
                rows++;
                int? classIndex = readLabel();
                if (classIndex == null)
                {
                    continue;
                }
                perStepGetter(ref perStepValues);
                spikesGetter(ref spikeValues);
                sopsGetter?.Invoke(ref sopValues);
                int? annPrediction = null;
                if (annGetter != null)
                {
                    annGetter(ref annValues);
                    annPrediction = Simulation.SimulationResult.ArgMax(Dense(annValues));
                }
                metrics.AddRow(classIndex.Value, classes, Dense(perStepValues), annPrediction, Dense(spikeValues), sopsGetter != null ? Dense(sopValues) : ReadOnlySpan<double>.Empty);
                if (rows % 256 == 0)
                {
                    progress?.Report(rows);
                }
            }
            progress?.Report(rows);
            return metrics;
        }

        private static T[] Dense<T>(VBuffer<T> buffer)
        {
            var values = new T[buffer.Length];
            buffer.CopyTo(values);
            return values;
        }

        private static DataViewSchema.Column Require(DataViewSchema schema, string name, string what) =>
            schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Could not find {what} column '{name}' in the scored data.");

        /// <summary>The class index of the current row: key value − 1 (missing keys give null, rows ML.NET leaves unlabeled), or a number.</summary>
        private static Func<int?> LabelReader(DataViewRowCursor cursor, DataViewSchema.Column label)
        {
            switch (label.Type)
            {
                case KeyDataViewType:
                {
                    ValueGetter<uint> getter = cursor.GetGetter<uint>(label);
                    return () =>
                    {
                        uint key = 0;
                        getter(ref key);
                        return key == 0 ? null : (int)(key - 1);
                    };
                }
                case NumberDataViewType n when n == NumberDataViewType.Single:
                {
                    ValueGetter<float> getter = cursor.GetGetter<float>(label);
                    return () =>
                    {
                        float v = 0;
                        getter(ref v);
                        return float.IsNaN(v) ? null : (int)v;
                    };
                }
                case NumberDataViewType n when n == NumberDataViewType.Int32:
                {
                    ValueGetter<int> getter = cursor.GetGetter<int>(label);
                    return () =>
                    {
                        int v = 0;
                        getter(ref v);
                        return v;
                    };
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(label), $"Schema mismatch for label column '{label.Name}': expected Key, Single or Int32, got {label.Type}");
            }
        }
    }
}
