// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Transforms
{
    [TestClass]
    public sealed class SpikingEvaluateTests
    {
        public sealed class PerStepInput
        {
            [VectorType(6, 4)]
            public float[] ScorePerStep { get; set; } = Array.Empty<float>();
        }

        public sealed class StepScoreOutput
        {
            [VectorType(4)]
            public float[] StepScore { get; set; } = Array.Empty<float>();
        }

        [TestMethod]
        public void EvaluateAgreesWithMLNetAndWithDirectSimulation()
        {
            var ml = new MLContext(seed: 1);
            List<SpikingEstimatorTests.Row> rows = SpikingEstimatorTests.Rows(60);
            var options = new SpikingConversionOptions
            {
                ModelBytes = SpikingEstimatorTests.FixtureModel(),
                TimeSteps = 6,
                BatchSize = 16,
                LabelColumnName = "LabelKey",
                ClassNames = Enumerable.Range(0, 4).Select(i => "class" + i).ToArray(),
            };
            IDataView keyData = ml.Data.LoadFromEnumerable(options.ClassNames.Select(n => new { Name = n }));
            var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Name", keyData: keyData).Append(ml.Spiking().ConvertToSpiking(options));
            IDataView data = ml.Data.LoadFromEnumerable(rows);
            using var model = pipeline.Fit(data);
            SpikingTransformer spiking = model.LastTransformer;
            IDataView scored = ml.Data.Cache(model.Transform(data));
            var progress = new List<long>();
            SpikingMetrics metrics = ml.Spiking().Evaluate(scored, spiking, "LabelKey", progress: new Progress(progress));
            Assert.AreEqual(60, metrics.Images);
            Assert.AreEqual(60, progress.Last());

            // Accuracy after every prefix equals ML.NET's evaluator on that step's estimate.
            uint[] labels = scored.GetColumn<uint>("LabelKey").ToArray();
            float[][] perStep = scored.GetColumn<float[]>("ScorePerStep").ToArray();
            for (int t = 1; t <= 6; t++)
            {
                // This step's slice of ScorePerStep as a Score column; ML.NET's evaluator does the rest.
                int offset = (t - 1) * 4;
                IDataView step = ml.Transforms.CustomMapping<PerStepInput, StepScoreOutput>(
                    (input, output) => output.StepScore = input.ScorePerStep.Skip(offset).Take(4).ToArray(), contractName: null)
                    .Fit(scored).Transform(scored);
                var mlnet = ml.MulticlassClassification.Evaluate(step, "LabelKey", scoreColumnName: "StepScore");
                Assert.AreEqual(mlnet.MicroAccuracy, metrics.GetAccuracy(t), 1e-12, $"step {t}");
            }
            var ann = ml.MulticlassClassification.Evaluate(scored, "LabelKey", scoreColumnName: "AnnScore");
            Assert.AreEqual(ann.MicroAccuracy, metrics.AnnAccuracy!.Value, 1e-12);

            // Spikes, firing rates, SOPs and energy equal those from simulating the rows directly.
            var direct = new SpikingMetrics();
            using var simulator = new SpikingSimulator(spiking.Network, new SimulationOptions { TimeSteps = 6 });
            SimulationResult result = simulator.Run(rows.SelectMany(r => r.Pixels).ToArray(), rows.Count);
            direct.Add(result, labels.Select(l => (int)l - 1).ToList());
            Assert.AreEqual(direct.SpikesPerImage, metrics.SpikesPerImage, 1e-9);
            Assert.AreEqual(direct.AnnMacsPerImage, metrics.AnnMacsPerImage);
            for (int t = 1; t <= 6; t++)
            {
                Assert.AreEqual(direct.GetEnergyRatio(t), metrics.GetEnergyRatio(t), 1e-12);
                Assert.AreEqual(direct.GetAccuracy(t), metrics.GetAccuracy(t), 1e-12);
            }
            for (int l = 0; l < metrics.NeuronLayers.Count; l++)
            {
                Assert.AreEqual(direct.GetFiringRate(l), metrics.GetFiringRate(l), 1e-12);
            }
            StringAssert.Contains(metrics.FormatTable(), "Energy model");
        }

        private sealed class Progress : IProgress<long>
        {
            private readonly List<long> _values;

            public Progress(List<long> values)
            {
                _values = values;
            }

            public void Report(long value) => _values.Add(value);
        }
    }
}
