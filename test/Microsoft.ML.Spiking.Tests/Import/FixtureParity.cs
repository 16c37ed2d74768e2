// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>
    /// Imports a fixture, lowers it with <see cref="AnnExporter"/>, and compares the lowered graph with
    /// ONNX Runtime running the original fixture bytes on the same random inputs.
    /// </summary>
    internal static class FixtureParity
    {
        /// <summary>Largest accepted absolute difference of any output value.</summary>
        public const double Tolerance = 1e-4;

        /// <summary>Parses "1,2,3" (an empty string gives an empty array).</summary>
        /// <param name="text">Comma-separated integers.</param>
        public static long[] Longs(string text) =>
            text.Length == 0 ? Array.Empty<long>() : text.Split(',').Select(t => long.Parse(t.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        /// <summary>Parses "1,2,3" (an empty string gives an empty array).</summary>
        /// <param name="text">Comma-separated integers.</param>
        public static int[] Ints(string text) => Longs(text).Select(v => (int)v).ToArray();

        /// <summary>Asserts that import + lowering reproduces ONNX Runtime on the fixture.</summary>
        /// <param name="fixture">The fixture's ModelProto bytes.</param>
        /// <param name="name">A name for messages.</param>
        /// <param name="samples">How many random samples (one batch when the batch axis is free, one run each when it is fixed to 1).</param>
        /// <param name="low">Lowest input value.</param>
        /// <param name="high">Upper bound of the input values.</param>
        /// <param name="seed">Seed of the inputs.</param>
        /// <returns>The imported network.</returns>
        public static Network AssertMatchesOnnxRuntime(byte[] fixture, string name, int samples = 4, float low = -1f, float high = 1f, int seed = 99)
        {
            Network network = OnnxImporter.Load(fixture, name);

            ModelProto model = ModelProto.Parser.ParseFrom(fixture);
            var initializers = new HashSet<string>(model.Graph.Initializer.Select(i => i.Name), StringComparer.Ordinal);
            ValueInfoProto input = model.Graph.Input.Single(i => !initializers.Contains(i.Name));
            var dims = input.Type.TensorType.Shape.Dim;
            bool batchFixedToOne = dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[0].DimValue == 1;
            long[] sampleShape = dims.Skip(1).Select(d => d.DimValue).ToArray();
            CollectionAssert.AreEqual(sampleShape.Select(d => (int)d).ToArray(), network.InputShape, $"{name}: imported input shape");

            int sampleSize = (int)sampleShape.Aggregate(1L, (p, d) => p * d);
            var random = new Random(seed);
            float[][] inputs = Enumerable.Range(0, samples)
                .Select(_ => Enumerable.Range(0, sampleSize).Select(_ => (float)(low + (high - low) * random.NextDouble())).ToArray())
                .ToArray();

            float[][] reference;
            long[] referenceSampleShape;
            using (var session = new OnnxSession(fixture, null))
            {
                Assert.AreEqual(1, session.OutputNames.Count, $"{name}: the fixture should have one output");
                if (batchFixedToOne)
                {
                    var results = inputs.Select(x => session.Run(new Dictionary<string, TensorBuffer>
                    {
                        [input.Name] = new TensorBuffer(x, new long[] { 1 }.Concat(sampleShape).ToArray()),
                    }).Values.Single()).ToList();
                    reference = results.Select(r => r.Data).ToArray();
                    referenceSampleShape = results[0].Shape.Skip(1).ToArray();
                    Assert.AreEqual(1L, results[0].Shape[0], $"{name}: reference batch size");
                }
                else
                {
                    TensorBuffer result = session.Run(new Dictionary<string, TensorBuffer>
                    {
                        [input.Name] = new TensorBuffer(inputs.SelectMany(x => x).ToArray(), new long[] { samples }.Concat(sampleShape).ToArray()),
                    }).Values.Single();
                    Assert.AreEqual((long)samples, result.Shape[0], $"{name}: reference batch size");
                    int per = result.Data.Length / samples;
                    reference = Enumerable.Range(0, samples).Select(i => result.Data.Skip(i * per).Take(per).ToArray()).ToArray();
                    referenceSampleShape = result.Shape.Skip(1).ToArray();
                }
            }

            CollectionAssert.AreEqual(referenceSampleShape.Select(d => (int)d).ToArray(), network.OutputShape,
                $"{name}: imported output shape [N,{string.Join(",", network.OutputShape)}] differs from ONNX Runtime's [N,{string.Join(",", referenceSampleShape)}].{Environment.NewLine}{network.Describe()}");

            TensorBuffer lowered;
            using (var session = new OnnxSession(AnnExporter.Export(network), null))
            {
                lowered = session.Run(new Dictionary<string, TensorBuffer>
                {
                    [AnnExporter.InputName] = new TensorBuffer(inputs.SelectMany(x => x).ToArray(), new long[] { samples }.Concat(sampleShape).ToArray()),
                })[AnnExporter.OutputName];
            }
            CollectionAssert.AreEqual(new long[] { samples }.Concat(referenceSampleShape).ToArray(), lowered.Shape, $"{name}: lowered output shape");

            int size = reference[0].Length;
            double maxDiff = 0;
            for (int i = 0; i < samples; i++)
            {
                for (int k = 0; k < size; k++)
                {
                    double expected = reference[i][k];
                    double actual = lowered.Data[i * size + k];
                    double diff = double.IsNaN(expected) || double.IsNaN(actual) ? double.PositiveInfinity : Math.Abs(expected - actual);
                    if (double.IsInfinity(expected) && expected == actual)
                    {
                        diff = 0;
                    }
                    maxDiff = Math.Max(maxDiff, diff);
                }
            }
            Assert.IsTrue(maxDiff <= Tolerance, $"{name}: max abs difference {maxDiff:E3} > {Tolerance:E0}.{Environment.NewLine}{network.Describe()}");
            return network;
        }
    }
}
