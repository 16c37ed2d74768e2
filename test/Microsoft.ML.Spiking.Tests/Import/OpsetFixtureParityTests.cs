// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>
    /// The same small CNN written the way exporters of each opset write it (old Clip, Dropout and
    /// Unsqueeze forms, initializers listed as graph inputs, float_data) matches ONNX Runtime.
    /// </summary>
    [TestClass]
    public sealed class OpsetFixtureParityTests
    {
        [TestMethod]
        [DataRow(7, BatchAxis.One)]
        [DataRow(7, BatchAxis.Symbolic)]
        [DataRow(9, BatchAxis.Symbolic)]
        [DataRow(9, BatchAxis.One)]
        [DataRow(11, BatchAxis.Symbolic)]
        [DataRow(13, BatchAxis.Symbolic)]
        [DataRow(13, BatchAxis.Dynamic)]
        [DataRow(17, BatchAxis.Symbolic)]
        [DataRow(21, BatchAxis.Symbolic)]
        [DataRow(21, BatchAxis.One)]
        public void SmallCnnMatchesOnnxRuntimeAtEveryOpset(int opset, BatchAxis batch)
        {
            byte[] fixture = SmallCnn(opset, batch).Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"small CNN opset {opset}, batch {batch}");
            CollectionAssert.AreEqual(new[] { 10 }, network.OutputShape);
            CollectionAssert.AreEqual(
                new[] { "ConvLayer", "BatchNormLayer", "ClipLayer", "PoolLayer", "ConvLayer", "ReluLayer", "GlobalAveragePoolLayer", "ReshapeLayer", "DenseLayer", "SoftmaxLayer" },
                network.Layers.Select(l => l.GetType().Name).ToArray());
        }

        [TestMethod]
        [DataRow(7)]
        [DataRow(8)]
        [DataRow(13)]
        public void InitializersListedAsGraphInputsAreWeightsNotInputs(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder(seed: opset)
                .Opset(opset)
                .InitializersAsInputs()
                .RawData(opset > 7)
                .Input("image", BatchAxis.One, 1, 6, 6)
                .RandomInitializer("conv.weight", new[] { 2, 1, 3, 3 })
                .RandomInitializer("conv.bias", new[] { 2 }, 0.2f)
                .RandomInitializer("fc.weight", new[] { 3, 32 })
                .RandomInitializer("fc.bias", new[] { 3 }, 0.2f)
                .Node("Conv", new[] { "image", "conv.weight", "conv.bias" }, new[] { "c" }, AttrInts("kernel_shape", 3, 3))
                .Node("Relu", "c", "r")
                .Node("Flatten", "r", "f")
                .Node("Gemm", new[] { "f", "fc.weight", "fc.bias" }, new[] { "y" }, AttrInt("transB", 1))
                .Output("y")
                .Build();
            var model = ModelProto.Parser.ParseFrom(fixture);
            Assert.AreEqual(5, model.Graph.Input.Count, "the fixture lists its initializers as inputs");

            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"initializers as inputs, opset {opset}");
            Assert.AreEqual("image", network.InputName);
        }

        /// <summary>
        /// conv(3→4, bias) → BN → ReLU6 (Clip) → MaxPool 2 → conv(4→6, no bias) → ReLU → GAP →
        /// x.view(N, −1) chain → Gemm(10) → Dropout → Softmax, in the forms of the given opset.
        /// </summary>
        internal static OnnxFixtureBuilder SmallCnn(int opset, BatchAxis batch)
        {
            var b = new OnnxFixtureBuilder(seed: 42)
                .Opset(opset)
                .InitializersAsInputs(opset < 9)
                .RawData(opset >= 9)
                .Input("input", batch, 3, 8, 8)
                .RandomInitializer("conv1.weight", new[] { 4, 3, 3, 3 })
                .RandomInitializer("conv1.bias", new[] { 4 }, 0.2f);
            LinearOpParityTests.AddBatchNormParameters(b, 4);
            b.RandomInitializer("conv2.weight", new[] { 6, 4, 3, 3 })
                .RandomInitializer("fc.weight", new[] { 10, 6 })
                .RandomInitializer("fc.bias", new[] { 10 }, 0.2f);

            b.Node("Conv", new[] { "input", "conv1.weight", "conv1.bias" }, new[] { "c1" },
                AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1), AttrInts("strides", 1, 1), AttrInts("dilations", 1, 1), AttrInt("group", 1));
            var bnAttributes = new List<AttributeProto> { AttrFloat("epsilon", 1e-5f), AttrFloat("momentum", 0.9f) };
            if (opset < 9)
            {
                bnAttributes.Add(AttrInt("spatial", 1));
            }
            b.Node("BatchNormalization", new[] { "c1", "gamma", "beta", "mean", "var" }, new[] { "bn1" }, bnAttributes.ToArray());
            if (opset < 11)
            {
                b.Node("Clip", "bn1", "a1", AttrFloat("min", 0f), AttrFloat("max", 6f));
            }
            else
            {
                b.Constant("six", new int[0], new[] { 6f })
                    .Constant("zero", new int[0], new[] { 0f })
                    .Node("Clip", new[] { "bn1", "zero", "six" }, new[] { "a1" });
            }
            b.Node("MaxPool", "a1", "p1", AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2), AttrInts("pads", 0, 0, 0, 0))
                .Node("Conv", new[] { "p1", "conv2.weight" }, new[] { "c2" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("Relu", "c2", "a2")
                .Node("GlobalAveragePool", "a2", "g");
            ShapeOpParityTests.AddViewChain(b, "g", "flat", 1);
            b.Node("Gemm", new[] { "flat", "fc.weight", "fc.bias" }, new[] { "logits" }, AttrFloat("alpha", 1f), AttrFloat("beta", 1f), AttrInt("transB", 1));
            if (opset < 12)
            {
                b.Node("Dropout", new[] { "logits" }, new[] { "d" }, AttrFloat("ratio", 0.5f));
            }
            else
            {
                b.Initializer("ratio", new int[0], new[] { 0.5f })
                    .Node("Dropout", new[] { "logits", "ratio" }, new[] { "d" });
            }
            b.Node("Softmax", "d", "output", AttrInt("axis", 1)).Output("output", batch == BatchAxis.One ? (object)1L : "N", 10L);
            return b;
        }

        [TestMethod]
        public void SmallCnnFixtureIsDeterministic()
        {
            CollectionAssert.AreEqual(SmallCnn(13, BatchAxis.Symbolic).Build(), SmallCnn(13, BatchAxis.Symbolic).Build());
        }
    }
}
