// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Persistence;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Persistence
{
    /// <summary>The IR serializer: every layer type, every parameter, every float bit.</summary>
    [TestClass]
    public sealed class NetworkRoundTripTests
    {
        /// <summary>A layer type the package format does not know.</summary>
        private sealed class FutureLayer : UnaryElementwiseLayer
        {
            public FutureLayer(string name, string input, string output)
                : base(name, "Future", input, output)
            {
            }

            public override Layer Rewire(IReadOnlyList<string> inputs, string output) => new FutureLayer(Name, inputs[0], output);
        }

        /// <summary>
        /// One network with every IR layer type (shapes chosen to fit), small random tensors, and awkward floats. The
        /// differential-coding units sit on a side branch that <paramref name="rateCodedOnly"/> leaves out, so the rest
        /// can be simulated as a rate-coded network.
        /// </summary>
        internal static Network EveryLayerType(int seed = 3, bool rateCodedOnly = false)
        {
            var r = new Random(seed);
            float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            float[] Positive(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() + 0.1)).ToArray();
            float[] weird = Rand(4);
            weird[0] = -0f;
            weird[1] = float.Epsilon;
            weird[2] = BitConverter.Int32BitsToSingle(0x7FC01234);
            var layers = new Layer[]
            {
                new ChannelAffineLayer("norm", "Sub+Div", "x", "a", Rand(2), Rand(2)),
                new ConvLayer("c1", "Conv", "a", "c1", new FloatTensor(new[] { 4, 2, 3, 3 }, Rand(72)), Rand(4), new[] { 1, 1 }, new[] { 1, 0, 1, 2 }, new[] { 1, 1 }, 1),
                new BatchNormLayer("bn", "BatchNormalization", "c1", "bn", Rand(4), Rand(4), Rand(4), Positive(4), 1e-5f),
                new ReluLayer("r1", "Relu", "bn", "r1"),
                new IfNeuronLayer("n1", "Relu", "r1", "n1", Positive(4), 0.5f, ResetMode.Subtract),
                new ClipLayer("clip", "Clip", "n1", "cl", -0f, float.PositiveInfinity),
                new FloorLayer("floor", "Floor", "cl", "fl"),
                new QcfsLayer("q", "Div+Floor+Clip+Mul", "fl", "q", Positive(4), 8),
                new PoolLayer("avg", "AveragePool", "q", "avg", PoolKind.Average, new[] { 3, 3 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, false, true),
                // ceil_mode with zero pads: ONNX Runtime 1.31.1 sizes ceil-mode windows that start in the end padding
                // differently from PoolingMath, and the export test runs this network.
                new PoolLayer("max", "MaxPool", "avg", "p", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 0, 0 }, true, false),
                new ConvLayer("c2", "Conv", "p", "c2", new FloatTensor(new[] { 4, 2, 1, 1 }, Rand(8)), null, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, new[] { 1, 1 }, 2),
                new BinaryLayer("add", "Add", "p", "c2", "s", BinaryOp.Add),
                new ConstBinaryLayer("scale", "Mul", "s", "cb", BinaryOp.Mul, new FloatTensor(new[] { 4, 1, 1 }, weird), true),
                new IfNeuronLayer("n2", "Clip", "cb", "n2", new[] { 0.75f }, 0f, ResetMode.Zero),
                new MultiThresholdNeuronLayer("mt", "Relu", "n2", "mt", Positive(4), 3, true, FiringRule.Nearest, true, Rand(36)),
                new MultiThresholdNeuronLayer("mtr", "Relu", "mt", "mtr", Positive(36), 2, false, FiringRule.Midpoint, false, null),
                new GradedUnitLayer(new ClipLayer("dgu", "Clip", "mtr", "dgu0", 0f, 6f), new[] { Rand(36) }),
                new GradedUnitLayer(new BinaryLayer("prod", "Mul", "dgu0", "mt", "dgu", BinaryOp.Mul), new[] { null, Rand(36) }),
                new BitSerialNeuronLayer("bsn", "QCFS", "mt", "bsn", Positive(4), 5, false),
                new ParallelNeuronLayer("pn", "Relu", "bsn", "pn", Positive(4), Positive(4), Rand(4), SpikeOrder.LastSteps),
                new MaxPoolNeuronLayer(new PoolLayer("mpn", "MaxPool", "dgu", "mpn", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0, 0, 0 }, false, false), null),
                new ConcatLayer("cat", "Concat", new[] { "n2", "s" }, "cat", 0),
                new TransposeLayer("tr", "Transpose", "cat", "tr", new[] { 0, 2, 1 }),
                new GlobalAveragePoolLayer("gap", "GlobalAveragePool", "tr", "g"),
                new ReshapeLayer("flat", "Flatten", "g", "f", new[] { -1 }),
                new DenseLayer("fc", "Gemm", "f", "fc", new FloatTensor(new[] { 3, 8 }, Rand(24)), new[] { float.NegativeInfinity, float.MaxValue, 1e-40f }),
                new SoftmaxLayer("sm", "LogSoftmax", "fc", "y", 0, true),
                new BroadcastConstantLayer("cls", "Expand", "fc", "bc", new FloatTensor(new[] { 2, 3 }, Rand(6))),
                new NeuronSiteLayer("site", "bc", "site"),
                new LayerNormLayer("ln", "LayerNormalization", "site", "ln", Rand(3), null, 1e-6f),
                new GeluLayer("gelu", "Gelu", "ln", "ge", true),
                new TransposeLayer("t2", "Transpose", "ge", "geT", new[] { 1, 0 }),
                new MatMulLayer("mm", "MatMul", "ge", "geT", "mm"),
                new SliceLayer("sl", "Slice", "mm", "sl", 1, 0, 1),
                new GatherLayer("ga", "Gather", "sl", "ga", 0, 1),
            };
            if (rateCodedOnly)
            {
                layers = layers.Where(l => l is not (MultiThresholdNeuronLayer or GradedUnitLayer or MaxPoolNeuronLayer or BitSerialNeuronLayer or ParallelNeuronLayer
                    or BroadcastConstantLayer or NeuronSiteLayer or LayerNormLayer or GeluLayer or MatMulLayer or SliceLayer or GatherLayer) && l.Name != "t2").ToArray();
            }
            return new Network("x", new[] { 2, 6, 6 }, layers, "y", "every-layer-type");
        }

        [TestMethod]
        public void EveryLayerTypeRoundTripsExactly()
        {
            Network network = EveryLayerType();
            var concrete = typeof(Layer).Assembly.GetTypes().Where(t => typeof(Layer).IsAssignableFrom(t) && !t.IsAbstract).Select(t => t.Name).OrderBy(n => n).ToArray();
            CollectionAssert.AreEquivalent(concrete, network.Layers.Select(l => l.GetType().Name).Distinct().ToArray(),
                "The fixture must contain every IR layer type; add the new one here (and to Persistence/LayerCodec.cs).");
            Assert.AreEqual(concrete.Length, LayerCodec.Tags.Count, "one package tag per layer type");

            Network back = RoundTrip(network, out int tensorEntries);
            Assert.AreEqual(network.InputName, back.InputName);
            CollectionAssert.AreEqual(network.InputShape, back.InputShape);
            Assert.AreEqual(network.OutputName, back.OutputName);
            Assert.AreEqual(network.Source, back.Source);
            Assert.AreEqual(network.Layers.Count, back.Layers.Count);
            for (int i = 0; i < network.Layers.Count; i++)
            {
                AssertSameLayer(network.Layers[i], back.Layers[i]);
            }
            Assert.AreEqual(network.Describe(), back.Describe());
            Assert.AreEqual(26, tensorEntries, "one entry per float array");
        }

        [TestMethod]
        public void SharedArraysAreWrittenOnceAndSharedOnLoad()
        {
            Network network = EveryLayerType();
            var conv = (ConvLayer)network.Layers[1];
            var again = new ConvLayer("c1b", "Conv", "a", "c1b", conv.Weight.Reshape(new[] { 4, 2, 3, 3 }), conv.Bias, conv.Strides, conv.Pads, conv.Dilations, 1);
            var layers = network.Layers.Take(2).Append(again).ToList();
            Network shared = new Network(network.InputName, network.InputShape, layers, "c1b", "shared");
            Network back = RoundTrip(shared, out int tensorEntries);
            Assert.AreEqual(4, tensorEntries, "affine scale and shift, conv weight and bias");
            Assert.AreSame(((ConvLayer)back.Layers[1]).Weight.Data, ((ConvLayer)back.Layers[2]).Weight.Data);
        }

        [TestMethod]
        public void UnknownLayerTypeCannotBeSaved()
        {
            var layers = new Layer[] { new ReluLayer("r", "Relu", "x", "r"), new FutureLayer("mystery", "r", "y") };
            var network = new Network("x", new[] { 3 }, layers, "y", "future");
            using var zip = new ZipArchive(new MemoryStream(), ZipArchiveMode.Create);
            var e = Assert.ThrowsExactly<NotSupportedException>(() => NetworkCodec.Write(network, new TensorWriter(zip)));
            StringAssert.Contains(e.Message, "'mystery'");
            StringAssert.Contains(e.Message, nameof(FutureLayer));
        }

        [TestMethod]
        public void ScalarFloatsRoundTripBitExactlyThroughJson()
        {
            var r = new Random(17);
            var values = new List<float> { 0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0.1f, 1f / 3 };
            values.Add(BitConverter.Int32BitsToSingle(0x7FC00001));
            values.Add(BitConverter.Int32BitsToSingle(unchecked((int)0xFF812345)));
            for (int i = 0; i < 20000; i++)
            {
                values.Add(BitConverter.Int32BitsToSingle(r.Next(int.MinValue, int.MaxValue)));
            }
            var obj = new JsonObject { ["v"] = JsonScope.FloatsNode(values) };
            JsonScope scope = JsonScope.Parse("test.json", obj.ToJsonString());
            float[] back = scope.OptionalFloats("v")!;
            CollectionAssert.AreEqual(values.Select(BitConverter.SingleToInt32Bits).ToArray(), back.Select(BitConverter.SingleToInt32Bits).ToArray());
        }

        [TestMethod]
        public void MalformedLayersNameTheEntryAndLayer()
        {
            JsonObject json = WriteJson(EveryLayerType(), out byte[] zipBytes);
            JsonObject conv = json["layers"]![1]!.AsObject();
            conv["parameters"]!["strides"] = JsonScope.IntsNode(new[] { 1 });
            var e = Assert.ThrowsExactly<FormatException>(() => ReadJson(json, zipBytes));
            StringAssert.Contains(e.Message, "'net.json'");
            StringAssert.Contains(e.Message, "$.layers[1].parameters");
            StringAssert.Contains(e.Message, "'strides' must have 2 values");

            json = WriteJson(EveryLayerType(), out zipBytes);
            json["layers"]![3]!["type"] = "Hyperbolic";
            e = Assert.ThrowsExactly<FormatException>(() => ReadJson(json, zipBytes));
            StringAssert.Contains(e.Message, "\"Hyperbolic\"");

            json = WriteJson(EveryLayerType(), out zipBytes);
            json["layers"]![1]!["output"] = "elsewhere";
            e = Assert.ThrowsExactly<FormatException>(() => ReadJson(json, zipBytes));
            StringAssert.Contains(e.Message, "does not fit together");
        }

        private static Network RoundTrip(Network network, out int tensorEntries)
        {
            JsonObject json = WriteJson(network, out byte[] zipBytes);
            using var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read);
            tensorEntries = zip.Entries.Count(e => e.FullName.StartsWith(TensorWriter.Folder, StringComparison.Ordinal));
            return ReadJson(json, zipBytes);
        }

        private static JsonObject WriteJson(Network network, out byte[] zipBytes)
        {
            var buffer = new MemoryStream();
            JsonObject json;
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            {
                json = NetworkCodec.Write(network, new TensorWriter(zip));
            }
            zipBytes = buffer.ToArray();
            return json;
        }

        private static Network ReadJson(JsonObject json, byte[] zipBytes)
        {
            using var archive = new PackageArchive(new MemoryStream(zipBytes), "test");
            return NetworkCodec.Read(JsonScope.Parse("net.json", json.ToJsonString()), new TensorReader(archive));
        }

        /// <summary>Same type and, by reflection, the same value of every public property: arrays and tensors element by element, floats by their bits.</summary>
        internal static void AssertSameLayer(Layer expected, Layer actual)
        {
            Assert.AreEqual(expected.GetType(), actual.GetType(), expected.Name);
            foreach (PropertyInfo property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                string where = $"{expected.Name}.{property.Name}";
                AssertSameValue(property.GetValue(expected), property.GetValue(actual), where);
            }
        }

        private static void AssertSameValue(object? expected, object? actual, string where)
        {
            switch (expected)
            {
                case null:
                    Assert.IsNull(actual, where);
                    break;
                case float f:
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(f), BitConverter.SingleToInt32Bits((float)actual!), where);
                    break;
                case FloatTensor t:
                    var u = (FloatTensor)actual!;
                    CollectionAssert.AreEqual(t.Shape, u.Shape, where);
                    AssertSameValue(t.Data, u.Data, where);
                    break;
                case string s:
                    Assert.AreEqual(s, actual, where);
                    break;
                case Layer inner:
                    AssertSameLayer(inner, (Layer)actual!);
                    break;
                case IEnumerable list:
                    object?[] a = list.Cast<object?>().ToArray();
                    object?[] b = ((IEnumerable)actual!).Cast<object?>().ToArray();
                    Assert.AreEqual(a.Length, b.Length, where);
                    for (int i = 0; i < a.Length; i++)
                    {
                        AssertSameValue(a[i], b[i], $"{where}[{i}]");
                    }
                    break;
                default:
                    Assert.AreEqual(expected, actual, where);
                    break;
            }
        }
    }
}
