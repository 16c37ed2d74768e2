// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>
    /// The calibration loop (probes written into pre-allocated arrays, sites updated in parallel) against the plain one:
    /// each batch run with copied outputs, every site fed in order to the scalar statistics.
    /// </summary>
    [TestClass]
    public sealed class CalibratorPipelineTests
    {
        [TestMethod]
        [DataRow(StatisticsGranularity.Layer, 8)]
        [DataRow(StatisticsGranularity.Channel, 8)]
        [DataRow(StatisticsGranularity.Channel, 64)]
        [DataRow(StatisticsGranularity.Neuron, 5)]
        [DataRow(StatisticsGranularity.Channel, 3, 1)]
        public void StatisticsAreThoseOfTheSequentialLoop(StatisticsGranularity granularity, int batchSize, int threads = 0)
        {
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(37);
            var options = new CalibrationOptions
            {
                Granularity = granularity,
                IncludePreActivations = true,
                PreActivationStatistics = CalibrationStatistics.All,
                BatchSize = batchSize,
                ExactCapacity = 16,
                Execution = new ExecutionOptions { IntraOpThreads = threads },
            };
            CalibrationResult result = Calibrator.Collect(ann, samples, options);

            var probes = new List<string>();
            var reference = new List<(SiteStatistics Site, bool Input, ScalarChannelStatistics Stats)>();
            foreach (Layer site in Calibrator.FindActivationSites(ann))
            {
                foreach ((string tensor, bool input) in new[] { (site.Output, false), (site.Inputs[0], true) })
                {
                    int[] shape = ann.GetShape(tensor);
                    int spatial = shape.Skip(1).Aggregate(1, (a, d) => a * d);
                    probes.Add(tensor);
                    reference.Add((result.Sites[site.Name], input, new ScalarChannelStatistics(shape[0], spatial, granularity, 99.9, 16)));
                }
            }

            using var session = new OnnxSession(AnnExporter.Export(ann, probes), null);
            for (int start = 0; start < samples.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, samples.Count - start);
                float[] batch = samples.Skip(start).Take(n).SelectMany(s => s).ToArray();
                var outputs = session.Run(new Dictionary<string, TensorBuffer>
                {
                    [AnnExporter.InputName] = new TensorBuffer(batch, new long[] { n }.Concat(ann.InputShape.Select(d => (long)d)).ToArray()),
                }, Enumerable.Range(0, probes.Count).Select(AnnExporter.ExtraOutputName).ToList());
                for (int i = 0; i < probes.Count; i++)
                {
                    reference[i].Stats.AddBatch(outputs[AnnExporter.ExtraOutputName(i)].Data, n);
                }
            }

            Assert.AreEqual(37L, result.SampleCount);
            foreach ((SiteStatistics site, bool input, ScalarChannelStatistics expected) in reference)
            {
                ChannelStatistics actual = input ? site.Input! : site.Output;
                string what = $"{site.LayerName} {(input ? "input" : "output")}";
                Assert.AreEqual(expected.Count, actual.Count, what);
                CollectionAssert.AreEqual(expected.GetMax(), actual.GetMax(), what + " max");
                CollectionAssert.AreEqual(expected.GetMin(), actual.GetMin(), what + " min");
                CollectionAssert.AreEqual(expected.GetMean(), actual.GetMean(), what + " mean");
                CollectionAssert.AreEqual(expected.GetVariance(), actual.GetVariance(), what + " variance");
                if (granularity != StatisticsGranularity.Neuron)
                {
                    foreach (double p in new[] { 50, 99, 99.9 })
                    {
                        // Zeros of either sign compare equal (see ScalarReferenceTests.PercentileBits).
                        CollectionAssert.AreEqual(expected.GetPercentile(p).Select(v => v + 0f).ToArray(), actual.GetPercentile(p).Select(v => v + 0f).ToArray(), $"{what} p={p}");
                    }
                }
            }
        }

        /// <summary>
        /// Probes expose the tensors as computed: the graph input, a pre-activation (checked against a direct convolution), its
        /// ReLU, the same tensor twice and the network's output tensor; exposing them changes neither the logits nor each other.
        /// </summary>
        [TestMethod]
        public void ProbesExposeTheTensorsUnchanged()
        {
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(3);
            string[] probes = { "x", "c1", "r1", "r1", "y" };
            float[] input = samples.SelectMany(v => v).ToArray();
            var feeds = new Dictionary<string, TensorBuffer> { [AnnExporter.InputName] = new TensorBuffer(input, new long[] { 3, 2, 6, 6 }) };
            Dictionary<string, TensorBuffer> plain;
            using (var session = new OnnxSession(AnnExporter.Export(ann), null))
            {
                plain = session.Run(feeds);
            }

            using var probed = new OnnxSession(AnnExporter.Export(ann, probes), null);
            var names = Enumerable.Range(0, probes.Length).Select(AnnExporter.ExtraOutputName).Append(AnnExporter.OutputName).ToList();
            Dictionary<string, TensorBuffer> outputs = probed.Run(feeds, names);
            float[] Probe(int i) => outputs[AnnExporter.ExtraOutputName(i)].Data;
            CollectionAssert.AreEqual(input, Probe(0), "graph input");
            CollectionAssert.AreEqual(plain[AnnExporter.OutputName].Data, outputs[AnnExporter.OutputName].Data, "logits");
            CollectionAssert.AreEqual(plain[AnnExporter.OutputName].Data, Probe(4), "output tensor");
            CollectionAssert.AreEqual(Probe(2), Probe(3), "the same tensor twice");
            CollectionAssert.AreEqual(Probe(1).Select(v => Math.Max(v, 0f)).ToArray(), Probe(2), "ReLU of the probed pre-activation");

            var conv = (ConvLayer)ann.Layers[0];
            float[] c1 = Probe(1);
            for (int n = 0; n < 3; n++)
            {
                for (int o = 0; o < 3; o++)
                {
                    for (int y = 0; y < 6; y++)
                    {
                        for (int x = 0; x < 6; x++)
                        {
                            double sum = conv.Bias![o];
                            for (int c = 0; c < 2; c++)
                            {
                                for (int ky = 0; ky < 3; ky++)
                                {
                                    for (int kx = 0; kx < 3; kx++)
                                    {
                                        int iy = y + ky - 1;
                                        int ix = x + kx - 1;
                                        if (iy >= 0 && iy < 6 && ix >= 0 && ix < 6)
                                        {
                                            sum += (double)conv.Weight.Data[(((o * 2) + c) * 9) + (ky * 3) + kx] * input[(n * 72) + (c * 36) + (iy * 6) + ix];
                                        }
                                    }
                                }
                            }

                            Assert.AreEqual(sum, c1[(n * 108) + (o * 36) + (y * 6) + x], 1e-5, $"c1[{n},{o},{y},{x}]");
                        }
                    }
                }
            }
        }

        /// <summary>
        /// Differential coding's threshold iteration needs only the pre-activations' moments: calibrated with the outputs'
        /// extremes and the inputs' moments alone (the estimator's choice), the converted network has bit for bit the same
        /// thresholds as with every statistic kept, and the outputs' extremes (set from the inputs' at the end) are the same.
        /// </summary>
        [TestMethod]
        [DataRow(StatisticsGranularity.Layer)]
        [DataRow(StatisticsGranularity.Channel)]
        public void InputMomentsGiveThresholdIterationTheSameThresholds(StatisticsGranularity granularity)
        {
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(41);
            CalibrationResult Collect(bool light) => Calibrator.Collect(ann, samples, new CalibrationOptions { Granularity = granularity, IncludePreActivations = true, Statistics = light ? CalibrationStatistics.Extremes : CalibrationStatistics.All, PreActivationStatistics = light ? CalibrationStatistics.Moments : CalibrationStatistics.All });
            var options = new DifferentialCodingOptions { Thresholds = ThresholdMethod.Iteration, TimeSteps = 8 };
            CalibrationResult all = Collect(false);
            var full = DifferentialCodingConverter.Convert(ann, all, options);
            CalibrationResult light = Collect(true);
            Assert.IsTrue(light.Sites.Values.All(s => s.Output.Statistics == CalibrationStatistics.Extremes && s.Input!.Statistics == CalibrationStatistics.Moments));

            // The outputs' extremes, set from the inputs' (rectified), are those of the rectified values.
            foreach (SiteStatistics site in light.Sites.Values)
            {
                ChannelStatistics reference = all.Sites[site.LayerName].Output;
                CollectionAssert.AreEqual(reference.GetMax(), site.Output.GetMax(), site.LayerName);
                CollectionAssert.AreEqual(reference.GetMin(), site.Output.GetMin(), site.LayerName);
                Assert.AreEqual(reference.Count, site.Output.Count, site.LayerName);
                Assert.AreEqual(reference.ValueCount, site.Output.ValueCount, site.LayerName);
            }

            var cheap = DifferentialCodingConverter.Convert(ann, light, options);
            var expected = full.Network.Layers.OfType<MultiThresholdNeuronLayer>().ToList();
            var actual = cheap.Network.Layers.OfType<MultiThresholdNeuronLayer>().ToList();
            Assert.IsTrue(expected.Count > 0);
            Assert.AreEqual(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                CollectionAssert.AreEqual(expected[i].Threshold, actual[i].Threshold, expected[i].Name);
            }

            var percentile = new DifferentialCodingOptions { Thresholds = ThresholdMethod.Percentile };
            Assert.ThrowsExactly<InvalidOperationException>(() => DifferentialCodingConverter.Convert(ann, light, percentile));
        }

        [TestMethod]
        public void ANonFiniteActivationFailsWithTheStatisticsOwnError()
        {
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(20);
            samples[13][4] = float.NaN;
            var error = Assert.ThrowsExactly<ArgumentException>(() => Calibrator.Collect(ann, samples, new CalibrationOptions { BatchSize = 4 }));
            StringAssert.Contains(error.Message, "NaN");
        }

        [TestMethod]
        public void ProgressIsReportedOncePerBatch()
        {
            (Network ann, List<float[]> samples) = NeuronStatisticsTests.SmallNetwork(10);
            var seen = new List<long>();
            Calibrator.Collect(ann, samples, new CalibrationOptions { BatchSize = 4, Progress = new SynchronousProgress(seen.Add) });
            CollectionAssert.AreEqual(new long[] { 4, 8, 10 }, seen);
        }

        private sealed class SynchronousProgress : IProgress<long>
        {
            private readonly Action<long> _report;

            public SynchronousProgress(Action<long> report) => _report = report;

            public void Report(long value) => _report(value);
        }
    }
}
