// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Graph.Passes;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Graph
{
    /// <summary>Every pass must leave the network's function unchanged (checked with ONNX Runtime on random inputs).</summary>
    [TestClass]
    public sealed class PassTests
    {
        private static float[] Random(int count, int seed, float scale = 1f)
        {
            var r = new Random(seed);
            return Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
        }

        private static FloatTensor RandomTensor(int seed, params int[] shape) => new FloatTensor(shape, Random(ShapeUtil.Size(shape), seed, 0.5f));

        private static ConvLayer Conv(string name, string input, string output, int inC, int outC, int pad, int seed) =>
            new ConvLayer(name, "Conv", input, output, RandomTensor(seed, outC, inC, 3, 3), Random(outC, seed + 1), new[] { 1, 1 }, new[] { pad, pad, pad, pad }, new[] { 1, 1 }, 1);

        private static void AssertSameFunction(Network before, Network after, int batch = 4, double tolerance = 1e-5)
        {
            float[] x = Random(batch * ShapeUtil.Size(before.InputShape), 42, 2f);
            using var a = new AnnRunner(before);
            using var b = new AnnRunner(after);
            float[] ya = a.Run(x, batch);
            float[] yb = b.Run(x, batch);
            Assert.AreEqual(ya.Length, yb.Length);
            double max = ya.Zip(yb, (p, q) => Math.Abs(p - q)).Max();
            Assert.IsTrue(max <= tolerance, $"max difference {max}");
        }

        [TestMethod]
        public void BatchNormFoldsIntoConvAndStandaloneBecomesAffine()
        {
            var bn1 = new BatchNormLayer("bn1", "BatchNormalization", "c1", "b1", Random(4, 1).Select(v => v + 1.5f).ToArray(), Random(4, 2), Random(4, 3), Random(4, 4).Select(v => v * v + 0.1f).ToArray(), 1e-5f);
            var relu = new ReluLayer("r", "Relu", "b1", "r1");
            var bn2 = new BatchNormLayer("bn2", "BatchNormalization", "r1", "b2", Random(4, 5), Random(4, 6), Random(4, 7), Random(4, 8).Select(v => v * v + 0.1f).ToArray(), 1e-3f);
            var net = new Network("x", new[] { 3, 6, 6 }, new Layer[] { Conv("c", "x", "c1", 3, 4, 1, 9), bn1, relu, bn2 }, "b2", "fixture");
            Network folded = BatchNormFolding.Apply(net);
            Assert.AreEqual(0, folded.Layers.OfType<BatchNormLayer>().Count());
            Assert.AreEqual(1, folded.Layers.OfType<ChannelAffineLayer>().Count(), "the BN after a ReLU cannot fold");
            Assert.AreEqual(3, folded.Layers.Count);
            AssertSameFunction(net, folded);
        }

        [TestMethod]
        public void BatchNormFoldsIntoDense()
        {
            var dense = new DenseLayer("d", "Gemm", "x", "d1", RandomTensor(1, 5, 8), Random(5, 2));
            var bn = new BatchNormLayer("bn", "BatchNormalization", "d1", "y", Random(5, 3), Random(5, 4), Random(5, 5), Random(5, 6).Select(v => v * v + 0.2f).ToArray(), 1e-5f);
            var net = new Network("x", new[] { 8 }, new Layer[] { dense, bn }, "y", "fixture");
            Network folded = BatchNormFolding.Apply(net);
            Assert.IsInstanceOfType<DenseLayer>(folded.Layers.Single());
            AssertSameFunction(net, folded);
        }

        [TestMethod]
        public void BiasAdditionMergesIntoConvAndDense()
        {
            var add = new ConstBinaryLayer("add", "Add", "c1", "a1", BinaryOp.Add, new FloatTensor(new[] { 4, 1, 1 }, Random(4, 3)), false);
            var gap = new GlobalAveragePoolLayer("gap", "GlobalAveragePool", "a1", "g");
            var flat = new ReshapeLayer("flat", "Flatten", "g", "f", new[] { 4 });
            var dense = new DenseLayer("d", "MatMul", "f", "d1", RandomTensor(4, 3, 4), null);
            var sub = new ConstBinaryLayer("sub", "Sub", "d1", "y", BinaryOp.Sub, FloatTensor.Vector(0.5f, -1f, 2f), false);
            var net = new Network("x", new[] { 2, 5, 5 }, new Layer[] { Conv("c", "x", "c1", 2, 4, 0, 1), add, gap, flat, dense, sub }, "y", "fixture");
            Network fused = BiasFusion.Apply(net);
            Assert.AreEqual(0, fused.Layers.OfType<ConstBinaryLayer>().Count());
            AssertSameFunction(net, fused);
        }

        [TestMethod]
        public void BiasFusionLeavesSpatiallyVaryingConstantsAlone()
        {
            var add = new ConstBinaryLayer("add", "Add", "c1", "y", BinaryOp.Add, RandomTensor(3, 4, 3, 3), false);
            var net = new Network("x", new[] { 2, 5, 5 }, new Layer[] { Conv("c", "x", "c1", 2, 4, 0, 1), add }, "y", "fixture");
            Assert.AreEqual(1, BiasFusion.Apply(net).Layers.OfType<ConstBinaryLayer>().Count());
        }

        [TestMethod]
        public void InputNormalizationFoldsExactlyIntoAnUnpaddedConv()
        {
            var net = new Network("x", new[] { 3, 6, 6 }, new Layer[] { Conv("c", "x", "y", 3, 4, 0, 1) }, "y", "fixture");
            float[] mean = { 0.49f, 0.48f, 0.45f };
            float[] std = { 0.2f, 0.19f, 0.21f };
            Network folded = InputNormalization.Apply(net, mean, std);
            Assert.AreEqual(1, folded.Layers.Count, "folded into the conv");
            AssertSameFunction(WithExplicitNormalization(net, mean, std), folded, tolerance: 1e-4);
        }

        [TestMethod]
        public void InputNormalizationBeforeAPaddedConvStaysExact()
        {
            var net = new Network("x", new[] { 3, 6, 6 }, new Layer[] { Conv("c", "x", "y", 3, 4, 1, 1) }, "y", "fixture");
            float[] mean = { 0.49f, 0.48f, 0.45f };
            float[] std = { 0.2f, 0.19f, 0.21f };
            Network folded = InputNormalization.Apply(net, mean, std);
            Assert.IsInstanceOfType<ChannelAffineLayer>(folded.Layers[0]);
            AssertSameFunction(WithExplicitNormalization(net, mean, std), folded, tolerance: 1e-4);
        }

        [TestMethod]
        public void InputNormalizationRejectsWrongChannelCountsAndZeroStd()
        {
            var net = new Network("x", new[] { 3, 6, 6 }, new Layer[] { Conv("c", "x", "y", 3, 4, 1, 1) }, "y", "fixture");
            var e = Assert.ThrowsExactly<ArgumentException>(() => InputNormalization.Apply(net, new[] { 0f, 0f }, new[] { 1f, 1f }));
            StringAssert.Contains(e.Message, "needs 3");
            e = Assert.ThrowsExactly<ArgumentException>(() => InputNormalization.Apply(net, new[] { 0f, 0f, 0f }, new[] { 1f, 0f, 1f }));
            StringAssert.Contains(e.Message, "positive");
        }

        /// <summary>(x − mean)/std written as explicit per-channel Sub and Div layers: the reference.</summary>
        private static Network WithExplicitNormalization(Network net, float[] mean, float[] std)
        {
            var sub = new ConstBinaryLayer("sub", "Sub", "raw", "centered", BinaryOp.Sub, new FloatTensor(new[] { 3, 1, 1 }, mean), false);
            var div = new ConstBinaryLayer("div", "Div", "centered", net.InputName, BinaryOp.Div, new FloatTensor(new[] { 3, 1, 1 }, std), false);
            return new Network("raw", net.InputShape, new Layer[] { sub, div }.Concat(net.Layers).ToList(), net.OutputName, "reference");
        }

        [TestMethod]
        public void ReluMaxPoolSwapKeepsTheFunction()
        {
            var relu = new ReluLayer("r", "Relu", "c1", "r1");
            var pool = new PoolLayer("p", "MaxPool", "r1", "p1", PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new int[4], false, false);
            var net = new Network("x", new[] { 2, 6, 6 }, new Layer[] { Conv("c", "x", "c1", 2, 3, 1, 1), relu, pool }, "p1", "fixture");
            Network swapped = ReluMaxPoolSwap.Apply(net);
            CollectionAssert.AreEqual(new[] { typeof(ConvLayer), typeof(PoolLayer), typeof(ReluLayer) }, swapped.Layers.Select(l => l.GetType()).ToArray());
            AssertSameFunction(net, swapped, tolerance: 0);
        }

        [TestMethod]
        [DataRow(true, DisplayName = "clip first (new QCFS code)")]
        [DataRow(false, DisplayName = "floor first (old QCFS code)")]
        public void QcfsChainsAreFusedInBothOrders(bool clipFirst)
        {
            float[] lambda = { 1.5f, 0.75f, 2f };
            var lambdaTensor = new FloatTensor(new[] { 3, 1, 1 }, lambda);
            Layer Bin(string name, string input, string output, BinaryOp op, FloatTensor c) => new ConstBinaryLayer(name, op.ToString(), input, output, op, c, false);
            var chain = clipFirst
                ? new Layer[]
                {
                    Bin("div", "c1", "a", BinaryOp.Div, lambdaTensor), new ClipLayer("clip", "Clip", "a", "b", 0, 1),
                    Bin("mul", "b", "c", BinaryOp.Mul, FloatTensor.Scalar(8)), Bin("add", "c", "d", BinaryOp.Add, FloatTensor.Scalar(0.5f)),
                    new FloorLayer("floor", "Floor", "d", "e"), Bin("divl", "e", "f", BinaryOp.Div, FloatTensor.Scalar(8)),
                    Bin("mull", "f", "y", BinaryOp.Mul, lambdaTensor),
                }
                : new Layer[]
                {
                    Bin("div", "c1", "a", BinaryOp.Div, lambdaTensor), Bin("mul", "a", "b", BinaryOp.Mul, FloatTensor.Scalar(8)),
                    Bin("add", "b", "c", BinaryOp.Add, FloatTensor.Scalar(0.5f)), new FloorLayer("floor", "Floor", "c", "d"),
                    Bin("divl", "d", "e", BinaryOp.Div, FloatTensor.Scalar(8)), new ClipLayer("clip", "Clip", "e", "f", 0, 1),
                    Bin("mull", "f", "y", BinaryOp.Mul, lambdaTensor),
                };
            var net = new Network("x", new[] { 2, 5, 5 }, new Layer[] { Conv("c", "x", "c1", 2, 3, 1, 1) }.Concat(chain).ToList(), "y", "fixture");
            Network fused = QcfsDetection.Apply(net);
            var q = fused.Layers.OfType<QcfsLayer>().Single();
            Assert.AreEqual(8, q.Levels);
            CollectionAssert.AreEqual(lambda, q.Lambda);
            Assert.AreEqual(2, fused.Layers.Count);
            AssertSameFunction(net, fused, tolerance: 1e-6);
        }

        [TestMethod]
        public void AChainWithAnotherReaderInTheMiddleIsNotFused()
        {
            Layer Bin(string name, string input, string output, BinaryOp op, float c) => new ConstBinaryLayer(name, op.ToString(), input, output, op, FloatTensor.Scalar(c), false);
            var layers = new Layer[]
            {
                Bin("div", "x", "a", BinaryOp.Div, 2), new ClipLayer("clip", "Clip", "a", "b", 0, 1), Bin("mul", "b", "c", BinaryOp.Mul, 4),
                Bin("add", "c", "d", BinaryOp.Add, 0.5f), new FloorLayer("floor", "Floor", "d", "e"), Bin("divl", "e", "f", BinaryOp.Div, 4),
                Bin("mull", "f", "g", BinaryOp.Mul, 2), new BinaryLayer("sum", "Add", "g", "c", "y", BinaryOp.Add),
            };
            var net = new Network("x", new[] { 4 }, layers, "y", "fixture");
            Assert.AreEqual(0, QcfsDetection.Apply(net).Layers.OfType<QcfsLayer>().Count());
        }
    }
}
