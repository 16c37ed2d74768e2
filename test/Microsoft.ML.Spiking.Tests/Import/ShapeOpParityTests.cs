// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>Concat, Flatten, Reshape, Transpose, Dropout and Identity fixtures match ONNX Runtime after import and lowering.</summary>
    [TestClass]
    public sealed class ShapeOpParityTests
    {
        [TestMethod]
        [DataRow(1L)]
        [DataRow(-3L)]
        public void ConcatOfTwoConvolutionsOnChannelsMatchesOnnxRuntime(long axis)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 6, 6)
                .RandomInitializer("Wa", new[] { 4, 3, 3, 3 })
                .RandomInitializer("Wb", new[] { 2, 3, 1, 1 })
                .Node("Conv", new[] { "x", "Wa" }, new[] { "a" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("Conv", new[] { "x", "Wb" }, new[] { "b" }, AttrInts("kernel_shape", 1, 1))
                .Node("Concat", new[] { "a", "b", "x" }, new[] { "y" }, AttrInt("axis", axis))
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"concat axis {axis}");
            CollectionAssert.AreEqual(new[] { 9, 6, 6 }, network.OutputShape);
        }

        [TestMethod]
        [DataRow(2L)]
        [DataRow(-1L)]
        public void ConcatOnSpatialAxesMatchesOnnxRuntime(long axis)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Opset(11)
                .Input("x", BatchAxis.Symbolic, 2, 3, 4)
                .Node("Relu", "x", "r")
                .Node("Concat", new[] { "x", "r" }, new[] { "y" }, AttrInt("axis", axis))
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, $"concat axis {axis}");
        }

        [TestMethod]
        [DataRow("default axis", null, BatchAxis.Symbolic)]
        [DataRow("axis 1", 1L, BatchAxis.Symbolic)]
        [DataRow("axis -3", -3L, BatchAxis.Symbolic)]
        [DataRow("axis 1, batch 1", 1L, BatchAxis.One)]
        [DataRow("axis 0, batch 1", 0L, BatchAxis.One)]
        public void FlattenMatchesOnnxRuntime(string label, long? axis, BatchAxis batch)
        {
            var b = new OnnxFixtureBuilder()
                .Opset(11)
                .Input("x", batch, 3, 4, 5)
                .RandomInitializer("W", new[] { 60, 7 });
            if (axis.HasValue)
            {
                b.Node("Flatten", "x", "f", AttrInt("axis", axis.Value));
            }
            else
            {
                b.Node("Flatten", "x", "f");
            }
            byte[] fixture = b
                .Node("MatMul", new[] { "f", "W" }, new[] { "y" })
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, $"flatten {label}");
        }

        [TestMethod]
        [DataRow("[0,-1]", "0,-1", BatchAxis.Symbolic, false)]
        [DataRow("[-1,24]", "-1,24", BatchAxis.Symbolic, false)]
        [DataRow("[0,6,4]", "0,6,4", BatchAxis.Symbolic, false)]
        [DataRow("[0,0,-1]", "0,0,-1", BatchAxis.Symbolic, false)]
        [DataRow("[0,4,0,2]", "0,4,0,2", BatchAxis.Symbolic, false)]
        [DataRow("[0,-1,2] from a Constant node", "0,-1,2", BatchAxis.Symbolic, true)]
        [DataRow("[0,2,3,4] (no-op)", "0,2,3,4", BatchAxis.Dynamic, false)]
        [DataRow("[1,-1] with batch 1", "1,-1", BatchAxis.One, false)]
        [DataRow("[1,24] with batch 1", "1,24", BatchAxis.One, true)]
        [DataRow("[1,0,12] with batch 1", "1,0,12", BatchAxis.One, false)]
        public void ReshapeWithAConstantShapeMatchesOnnxRuntime(string label, string target, BatchAxis batch, bool constantNode)
        {
            long[] shape = FixtureParity.Longs(target);
            var b = new OnnxFixtureBuilder().Input("x", batch, 2, 3, 4);
            if (constantNode)
            {
                b.Constant("shape", new[] { shape.Length }, shape);
            }
            else
            {
                b.Initializer("shape", new[] { shape.Length }, shape);
            }
            byte[] fixture = b
                .Node("Reshape", new[] { "x", "shape" }, new[] { "y" })
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"reshape {label}");
            Assert.IsInstanceOfType<ReshapeLayer>(network.Layers.Single());
        }

        /// <summary>x.view(x.size(0), -1) (and x.view(x.size(0), x.size(1), -1)) as PyTorch exports it.</summary>
        [TestMethod]
        [DataRow(9, BatchAxis.Symbolic, false)]
        [DataRow(11, BatchAxis.Symbolic, false)]
        [DataRow(11, BatchAxis.One, false)]
        [DataRow(13, BatchAxis.Symbolic, false)]
        [DataRow(13, BatchAxis.Dynamic, true)]
        [DataRow(13, BatchAxis.One, true)]
        [DataRow(17, BatchAxis.Symbolic, true)]
        public void ReshapeFromTheShapeGatherUnsqueezeConcatChainMatchesOnnxRuntime(int opset, BatchAxis batch, bool keepChannels)
        {
            var b = new OnnxFixtureBuilder(seed: opset)
                .Opset(opset)
                .Input("x", batch, 4, 3, 3)
                .RandomInitializer("W", new[] { 36, 5 });
            AddViewChain(b, "x", "flat", keepChannels ? 2 : 1);
            // [N,36] feeds a MatMul; [N,4,9] (rank 3, which MatMul does not take) feeds a Relu.
            byte[] fixture = (keepChannels ? b.Node("Relu", "flat", "y") : b.Node("MatMul", new[] { "flat", "W" }, new[] { "y" }))
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"view chain opset {opset}, batch {batch}, keep channels {keepChannels}");
            Assert.AreEqual(2, network.Layers.Count);
            Assert.IsInstanceOfType<ReshapeLayer>(network.Layers[0]);
        }

        /// <summary>Adds Shape → Gather → Unsqueeze → Concat(…, −1) → Reshape, keeping the first <paramref name="kept"/> axes.</summary>
        internal static void AddViewChain(OnnxFixtureBuilder b, string input, string output, int kept)
        {
            int opset = b.OpsetVersion;
            b.Node("Shape", input, $"{output}_shape");
            var parts = new string[kept + 1];
            for (int i = 0; i < kept; i++)
            {
                b.Constant($"{output}_i{i}", new int[0], new long[] { i })
                    .Node("Gather", new[] { $"{output}_shape", $"{output}_i{i}" }, new[] { $"{output}_g{i}" }, AttrInt("axis", 0));
                if (opset >= 13)
                {
                    b.Constant($"{output}_axes{i}", new[] { 1 }, new long[] { 0 })
                        .Node("Unsqueeze", new[] { $"{output}_g{i}", $"{output}_axes{i}" }, new[] { $"{output}_u{i}" });
                }
                else
                {
                    b.Node("Unsqueeze", $"{output}_g{i}", $"{output}_u{i}", AttrInts("axes", 0));
                }
                parts[i] = $"{output}_u{i}";
            }
            b.Constant($"{output}_minus1", new[] { 1 }, new long[] { -1 });
            parts[kept] = $"{output}_minus1";
            b.Node("Concat", parts, new[] { $"{output}_target" }, AttrInt("axis", 0))
                .Node("Reshape", new[] { input, $"{output}_target" }, new[] { output });
        }

        [TestMethod]
        public void ShapeOfAnInitializerFoldsIntoAReshapeTarget()
        {
            // The target shape is Shape(template), where 'template' is an initializer of the wanted shape.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.One, 2, 3, 4)
                .Initializer("template", new[] { 1, 24 }, new float[24])
                .Node("Shape", "template", "target")
                .Node("Reshape", new[] { "x", "target" }, new[] { "y" })
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, "reshape to Shape(initializer)");
            CollectionAssert.AreEqual(new[] { 24 }, network.OutputShape);
        }

        [TestMethod]
        [DataRow("0,2,3,1")]
        [DataRow("0,1,3,2")]
        [DataRow("0,3,1,2")]
        [DataRow("0,2,1,3")]
        [DataRow("0,1,2,3")]
        public void TransposeKeepingTheBatchFirstMatchesOnnxRuntime(string perm)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 3, 4)
                .Node("Transpose", "x", "y", AttrInts("perm", FixtureParity.Longs(perm)))
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"transpose [{perm}]");
            Assert.IsInstanceOfType<TransposeLayer>(network.Layers.Single());
        }

        [TestMethod]
        public void TransposeThenFlattenThenGemmMatchesOnnxRuntime()
        {
            // NHWC flattening as TensorFlow-converted models do.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 4, 4)
                .RandomInitializer("W", new[] { 48, 6 })
                .Node("Transpose", "x", "t", AttrInts("perm", 0, 2, 3, 1))
                .Node("Flatten", "t", "f")
                .Node("MatMul", new[] { "f", "W" }, new[] { "y" })
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, "transpose + flatten + matmul");
        }

        [TestMethod]
        [DataRow("opset 7 with ratio", 7, "attribute", false)]
        [DataRow("opset 7 with an unused mask output", 7, "attribute", true)]
        [DataRow("opset 10 with ratio", 10, "attribute", false)]
        [DataRow("opset 12 without ratio", 12, "none", false)]
        [DataRow("opset 13 with ratio and training_mode inputs", 13, "inputs", false)]
        [DataRow("opset 13 with an unused mask output", 13, "inputs", true)]
        [DataRow("opset 13 with only a ratio input", 13, "ratio", false)]
        public void DropoutIsAnIdentityAndMatchesOnnxRuntime(string label, int opset, string form, bool maskOutput)
        {
            var b = new OnnxFixtureBuilder(seed: opset)
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 12)
                .RandomInitializer("W", new[] { 12, 6 });
            b.Node("MatMul", new[] { "x", "W" }, new[] { "h" });
            string[] outputs = maskOutput ? new[] { "d", "mask" } : new[] { "d" };
            switch (form)
            {
                case "attribute":
                    b.Node("Dropout", new[] { "h" }, outputs, AttrFloat("ratio", 0.3f));
                    break;
                case "inputs":
                    b.Initializer("ratio", new int[0], new[] { 0.3f })
                        .Initializer(BoolTensor("training_mode", new int[0], new[] { false }))
                        .Node("Dropout", new[] { "h", "ratio", "training_mode" }, outputs);
                    break;
                case "ratio":
                    b.Initializer("ratio", new int[0], new[] { 0.5f }).Node("Dropout", new[] { "h", "ratio" }, outputs);
                    break;
                default:
                    b.Node("Dropout", new[] { "h" }, outputs);
                    break;
            }
            byte[] fixture = b.Node("Relu", "d", "y").Output("y").Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"dropout {label}");
            CollectionAssert.AreEqual(new[] { "DenseLayer", "ReluLayer" }, network.Layers.Select(l => l.GetType().Name).ToArray());
        }

        [TestMethod]
        public void IdentityNodesAreAliasesAndMatchOnnxRuntime()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 5, 5)
                .RandomInitializer("W", new[] { 3, 2, 3, 3 })
                .Node("Identity", "x", "x1")
                .Node("Conv", new[] { "x1", "W" }, new[] { "c" }, AttrInts("kernel_shape", 3, 3))
                .Node("Identity", "c", "c1")
                .Node("Relu", "c1", "r")
                .Node("Identity", "r", "y")
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, "identities");
            Assert.AreEqual(2, network.Layers.Count);
        }

        [TestMethod]
        public void AnIdentityOnlyGraphImportsWithoutLayers()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 3, 3)
                .Node("Identity", "x", "y")
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, "identity only");
            Assert.AreEqual(0, network.Layers.Count);
        }
    }
}
