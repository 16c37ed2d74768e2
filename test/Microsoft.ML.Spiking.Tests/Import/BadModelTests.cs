// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>
    /// Models the importer cannot represent fail with the documented exception type and a message
    /// that names the source, the node, the op and what was expected.
    /// </summary>
    [TestClass]
    public sealed class BadModelTests
    {
        private const string Source = "fixture.onnx";

        [TestMethod]
        public void MissingFileThrowsFileNotFoundNamingThePath()
        {
            string path = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}.onnx");
            var e = Assert.ThrowsExactly<FileNotFoundException>(() => OnnxImporter.Load(path));
            StringAssert.Contains(e.Message, path);
            Assert.AreEqual(path, e.FileName);
        }

        [TestMethod]
        public void NullArgumentsThrowArgumentNull()
        {
            Assert.ThrowsExactly<ArgumentNullException>(() => OnnxImporter.Load((string)null!));
            Assert.ThrowsExactly<ArgumentNullException>(() => OnnxImporter.Load((byte[])null!, Source));
        }

        [TestMethod]
        public void LoadingFromAFileUsesTheFileNameInMessages()
        {
            string path = Path.Combine(Path.GetTempPath(), $"sigmoid-{Guid.NewGuid():N}.onnx");
            File.WriteAllBytes(path, SigmoidModel().Build());
            try
            {
                var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(path));
                StringAssert.StartsWith(e.Message, Path.GetFileName(path) + ":");
            }
            finally
            {
                File.Delete(path);
            }
        }

        [TestMethod]
        [DataRow(1)]
        [DataRow(2)]
        [DataRow(3)]
        [DataRow(4)]
        [DataRow(5)]
        public void RandomBytesThrowOnnxImportException(int seed)
        {
            var bytes = new byte[64 + seed * 97];
            new Random(seed).NextBytes(bytes);
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(bytes, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "not a valid ONNX model");
        }

        [TestMethod]
        [DataRow(0.1)]
        [DataRow(0.5)]
        [DataRow(0.9)]
        [DataRow(-1.0)]
        public void TruncatedFixtureThrowsOnnxImportException(double keep)
        {
            byte[] full = OpsetFixtureParityTests.SmallCnn(13, BatchAxis.Symbolic).Build();
            int length = keep < 0 ? full.Length - 1 : (int)(full.Length * keep);
            byte[] truncated = full.Take(length).ToArray();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(truncated, Source));
            StringAssert.Contains(e.Message, Source);
        }

        [TestMethod]
        public void EmptyBytesThrowOnnxImportException()
        {
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(Array.Empty<byte>(), Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "not a valid ONNX model");
        }

        [TestMethod]
        public void ModelWithoutNodesThrowsOnnxImportException()
        {
            var model = new ModelProto { IrVersion = 7, Graph = new GraphProto { Name = "empty" } };
            model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(model.ToByteArray(), Source));
            StringAssert.Contains(e.Message, "0 nodes");
        }

        [TestMethod]
        public void SeveralGraphInputsThrowListingTheirNames()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("image", BatchAxis.Symbolic, 3, 4, 4)
                .Input("mask", BatchAxis.Symbolic, 3, 4, 4)
                .Node("Add", new[] { "image", "mask" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'image'");
            StringAssert.Contains(e.Message, "'mask'");
            StringAssert.Contains(e.Message, "2 inputs");
        }

        [TestMethod]
        [DataRow("H", 2)]
        [DataRow("W", 3)]
        [DataRow("C", 1)]
        public void DynamicSpatialDimensionThrowsNamingInputAndAxis(string param, int axis)
        {
            var dims = new object?[] { "N", 3L, 8L, 8L };
            dims[axis] = param;
            byte[] fixture = new OnnxFixtureBuilder()
                .InputWithDims("pixels", dims)
                .Node("Relu", "pixels", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'pixels'");
            StringAssert.Contains(e.Message, $"'{param}'");
            StringAssert.Contains(e.Message, $"axis {axis}");
        }

        [TestMethod]
        public void UnnamedDynamicSpatialDimensionThrowsNamingInputAndAxis()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .InputWithDims("pixels", "N", 3L, null, 8L)
                .Node("Relu", "pixels", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'pixels'");
            StringAssert.Contains(e.Message, "axis 2");
        }

        [TestMethod]
        public void BatchFixedToFourThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .InputWithDims("x", 4L, 3L, 8L, 8L)
                .Node("Relu", "x", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'x'");
            StringAssert.Contains(e.Message, "batch size to 4");
        }

        [TestMethod]
        public void NonFloatInputThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .InputWithDims("x", TensorProto.Types.DataType.Uint8, "N", 3L, 8L, 8L)
                .Node("Relu", "x", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'x'");
            StringAssert.Contains(e.Message, "float");
        }

        [TestMethod]
        public void InputWithoutShapeThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Output("y")
                .Node("Relu", "x", "y")
                .Build();
            ModelProto model = ModelProto.Parser.ParseFrom(fixture);
            model.Graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(model.ToByteArray(), Source));
            StringAssert.Contains(e.Message, "'x'");
            StringAssert.Contains(e.Message, "rank 0");
        }

        [TestMethod]
        [DataRow(6)]
        [DataRow(22)]
        [DataRow(1)]
        public void OpsetOutOfRangeThrowsNamingOpsetAndRange(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder().Opset(opset, 8).Input("x", BatchAxis.Symbolic, 4).Node("Relu", "x", "y").Output("y").Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, $"opset {opset} ");
            StringAssert.Contains(e.Message, $"{OnnxImporter.MinOpset} to {OnnxImporter.MaxOpset}");
        }

        [TestMethod]
        public void ModelWithoutDefaultDomainOpsetThrows()
        {
            ModelProto model = new OnnxFixtureBuilder().Input("x", BatchAxis.Symbolic, 4).Node("Relu", "x", "y").Output("y").ToModel();
            model.OpsetImport.Clear();
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(model.ToByteArray(), Source));
            StringAssert.Contains(e.Message, "no default-domain opset");
        }

        [TestMethod]
        public void UnsupportedOpThrowsNamingNodeOpAndSupportedList()
        {
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(SigmoidModel().Build(), Source));
            Assert.AreEqual(1, e.Nodes.Count);
            Assert.AreEqual("gate", e.Nodes[0].NodeName);
            Assert.AreEqual("Sigmoid", e.Nodes[0].OpType);
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'gate'");
            StringAssert.Contains(e.Message, "Sigmoid");
            StringAssert.Contains(e.Message, "Supported ops: " + string.Join(", ", OnnxImporter.SupportedOps));
            CollectionAssert.AreEqual(OnnxImporter.SupportedOps.ToArray(), e.SupportedOps.ToArray());
        }

        [TestMethod]
        public void UnnamedUnsupportedNodeIsNamedByItsOutput()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode(string.Empty, "Sigmoid", string.Empty, new[] { "x" }, new[] { "sig_out" })
                .Output("sig_out")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            Assert.AreEqual("sig_out", e.Nodes.Single().NodeName);
            StringAssert.Contains(e.Message, "'sig_out'");
        }

        [TestMethod]
        public void ThreeUnsupportedNodesAreAllListed()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .ImportDomain("com.example", 1)
                .Input("x", BatchAxis.Symbolic, 3, 4, 4)
                .RandomInitializer("W", new[] { 3, 3, 1, 1 })
                .NamedNode("squash", "Sigmoid", string.Empty, new[] { "x" }, new[] { "s" })
                .Node("Conv", new[] { "s", "W" }, new[] { "c" }, AttrInts("kernel_shape", 1, 1))
                .NamedNode("bend", "Tanh", string.Empty, new[] { "c" }, new[] { "t" })
                .NamedNode("magic", "Swish", "com.example", new[] { "t" }, new[] { "y" }, AttrFloat("beta", 1f))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            CollectionAssert.AreEqual(new[] { "squash", "bend", "magic" }, e.Nodes.Select(n => n.NodeName).ToArray());
            CollectionAssert.AreEqual(new[] { "Sigmoid", "Tanh", "com.example.Swish" }, e.Nodes.Select(n => n.OpType).ToArray());
            StringAssert.Contains(e.Message, "3 node(s)");
            foreach (string text in new[] { "'squash'", "'bend'", "'magic'", "Sigmoid", "Tanh", "com.example.Swish" })
            {
                StringAssert.Contains(e.Message, text);
            }
        }

        [TestMethod]
        public void SoftmaxInTheMiddleImportsAndRateCodingNamesIt()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 8)
                .RandomInitializer("W", new[] { 8, 4 })
                .NamedNode("early_softmax", "Softmax", string.Empty, new[] { "x" }, new[] { "p" }, AttrInt("axis", 1))
                .Node("MatMul", new[] { "p", "W" }, new[] { "y" })
                .Output("y")
                .Build();
            // A softmax inside the network (attention) imports; differential coding makes it a graded unit, and the
            // methods without a form for it name it.
            Network network = OnnxImporter.Load(fixture, Source);
            var e = Assert.ThrowsExactly<NotSupportedException>(() => Microsoft.ML.Spiking.Conversion.RateCoding.RateCodingConverter.Convert(network, null));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'early_softmax'");
            StringAssert.Contains(e.Message, "Softmax");
            StringAssert.Contains(e.Message, "not at the output");
        }

        [TestMethod]
        public void LogSoftmaxOverTheBatchAxisIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 8)
                .NamedNode("batch_softmax", "LogSoftmax", string.Empty, new[] { "x" }, new[] { "y" }, AttrInt("axis", 0))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "batch axis");
        }

        [TestMethod]
        public void SeveralGraphOutputsThrowListingThem()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Relu", "x", "logits")
                .Node("Softmax", "logits", "probabilities")
                .Output("logits")
                .Output("probabilities")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "2 outputs");
            StringAssert.Contains(e.Message, "logits");
            StringAssert.Contains(e.Message, "probabilities");
        }

        [TestMethod]
        public void OutputThatDoesNotDependOnTheInputThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("c", new[] { 4 }, new float[4])
                .Node("Relu", "x", "r")
                .Node("Relu", "c", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'y'");
            StringAssert.Contains(e.Message, "does not depend on the input 'x'");
        }

        [TestMethod]
        public void ConvWithNonConstantWeightsIsUnsupportedWithAReason()
        {
            // The image convolved with itself: the weights are an activation.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.One, 1, 3, 3)
                .NamedNode("selfconv", "Conv", string.Empty, new[] { "x", "x" }, new[] { "y" }, AttrInts("kernel_shape", 3, 3))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("selfconv", node.NodeName);
            Assert.AreEqual("Conv", node.OpType);
            StringAssert.Contains(node.Reason, "weights are not constant");
            StringAssert.Contains(e.Message, "weights are not constant");
        }

        [TestMethod]
        public void ConvWithNonConstantBiasIsUnsupportedWithAReason()
        {
            // The bias is the (batch-1) input vector itself.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.One, 2)
                .Initializer("shape", new[] { 4 }, new long[] { 1, 2, 1, 1 })
                .RandomInitializer("W", new[] { 2, 2, 1, 1 })
                .Node("Reshape", new[] { "x", "shape" }, new[] { "img" })
                .NamedNode("biasconv", "Conv", string.Empty, new[] { "img", "W", "x" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("biasconv", node.NodeName);
            StringAssert.Contains(node.Reason, "bias is not constant");
        }

        [TestMethod]
        public void MatMulWithTheActivationOnTheRightIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.One, 4)
                .RandomInitializer("W", new[] { 3, 1 })
                .NamedNode("left", "MatMul", string.Empty, new[] { "W", "x" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            Assert.AreEqual("left", e.Nodes.Single().NodeName);
            StringAssert.Contains(e.Nodes.Single().Reason, "second operand");
        }

        [TestMethod]
        public void ProductOfTwoActivationMatricesIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Relu", "x", "r")
                .NamedNode("outer", "MatMul", string.Empty, new[] { "x", "r" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "two activations");
        }

        [TestMethod]
        [DataRow("1,0,2,3")]
        [DataRow("3,2,1,0")]
        [DataRow("")]
        public void TransposeThatMovesTheBatchAxisIsUnsupported(string perm)
        {
            var b = new OnnxFixtureBuilder().Input("x", BatchAxis.Symbolic, 2, 3, 4);
            if (perm.Length > 0)
            {
                b.NamedNode("swap", "Transpose", string.Empty, new[] { "x" }, new[] { "y" }, AttrInts("perm", FixtureParity.Longs(perm)));
            }
            else
            {
                b.NamedNode("swap", "Transpose", string.Empty, new[] { "x" }, new[] { "y" });
            }
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(b.Output("y").Build(), Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("swap", node.NodeName);
            Assert.AreEqual("Transpose", node.OpType);
            StringAssert.Contains(node.Reason, "moves the batch axis");
            StringAssert.Contains(e.Message, perm.Length > 0 ? $"[{perm}]" : "[3,2,1,0]");
        }

        [TestMethod]
        [DataRow("-1")]
        [DataRow("1,-1")]
        [DataRow("2,-1")]
        [DataRow("-1,6")]
        [DataRow("-1,2,6")]
        public void ReshapeThatMergesTheBatchAxisIsUnsupported(string target)
        {
            long[] shape = FixtureParity.Longs(target);
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 3, 4)
                .Initializer("target", new[] { shape.Length }, shape)
                .NamedNode("merge", "Reshape", string.Empty, new[] { "x", "target" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("merge", node.NodeName);
            StringAssert.Contains(node.Reason, "batch axis");
            StringAssert.Contains(node.Reason, $"[{target}]");
        }

        [TestMethod]
        public void ReshapeToAComputedShapeIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Relu", "x", "r")
                .Node("Shape", "r", "s")
                .Node("Cast", new[] { "r" }, new[] { "ri" }, AttrInt("to", 7))
                .NamedNode("dynamic_reshape", "Reshape", string.Empty, new[] { "x", "ri" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            Assert.IsTrue(e.Nodes.Any(n => n.OpType == "Cast" && n.Reason.Contains("only on constants", StringComparison.Ordinal)), e.Message);
        }

        [TestMethod]
        [DataRow(2L)]
        [DataRow(3L)]
        public void FlattenThatMergesTheBatchAxisIsUnsupported(long axis)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 3, 4)
                .NamedNode("flat", "Flatten", string.Empty, new[] { "x" }, new[] { "y" }, AttrInt("axis", axis))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "batch axis");
        }

        [TestMethod]
        public void ConcatAlongTheBatchAxisIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Relu", "x", "r")
                .NamedNode("stack", "Concat", string.Empty, new[] { "x", "r" }, new[] { "y" }, AttrInt("axis", 0))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "batch axis");
        }

        [TestMethod]
        public void ConcatOfAnActivationAndAConstantIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("c", new[] { 1, 2 }, new float[2])
                .NamedNode("pad", "Concat", string.Empty, new[] { "x", "c" }, new[] { "y" }, AttrInt("axis", 1))
                .Output("y")
                .Build();
            // With a free batch size the constant's batch axis of 1 does not match (an Expand to the batch size would).
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "not repeated over the batch");
        }

        [TestMethod]
        public void ConstantThatVariesAlongTheBatchAxisIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("c", new[] { 2, 4 }, new float[8])
                .NamedNode("add", "Add", string.Empty, new[] { "x", "c" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "batch axis");
            StringAssert.Contains(e.Nodes.Single().Reason, "[2,4]");
        }

        [TestMethod]
        public void ConstantThatWidensTheActivationThrowsNamingTheNode()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 1, 4, 4)
                .Initializer("c", new[] { 3, 1, 1 }, new float[3])
                .NamedNode("widen", "Add", string.Empty, new[] { "x", "c" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'widen'");
            StringAssert.Contains(e.Message, "[3,1,1]");
        }

        [TestMethod]
        [DataRow(13)]
        [DataRow(7)]
        public void DropoutWhoseMaskIsUsedIsUnsupported(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode("drop", "Dropout", string.Empty, new[] { "x" }, new[] { "d", "mask" })
                .Node("Cast", new[] { "mask" }, new[] { "maskf" }, AttrInt("to", 1))
                .Node("Mul", new[] { "d", "maskf" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("drop", node.NodeName);
            Assert.AreEqual("Dropout", node.OpType);
            StringAssert.Contains(node.Reason, "mask");
        }

        [TestMethod]
        public void DropoutInTrainingModeIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("ratio", new int[0], new[] { 0.5f })
                .Initializer(BoolTensor("training", new int[0], new[] { true }))
                .NamedNode("drop", "Dropout", string.Empty, new[] { "x", "ratio", "training" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            UnsupportedNode node = e.Nodes.Single();
            Assert.AreEqual("drop", node.NodeName);
            StringAssert.Contains(node.Reason, "training_mode");
        }

        [TestMethod]
        public void BatchNormalizationInTrainingModeIsUnsupported()
        {
            var b = new OnnxFixtureBuilder().Opset(15).Input("x", BatchAxis.Symbolic, 3, 4, 4);
            LinearOpParityTests.AddBatchNormParameters(b, 3);
            byte[] fixture = b
                .NamedNode("bn", "BatchNormalization", string.Empty, new[] { "x", "gamma", "beta", "mean", "var" }, new[] { "y" }, AttrInt("training_mode", 1))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "training");
        }

        [TestMethod]
        public void InitializerWithExternalDataThrowsNamingTheTensor()
        {
            var weights = new TensorProto { Name = "conv.weight", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
            weights.Dims.AddRange(new long[] { 2, 3, 3, 3 });
            weights.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            weights.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 5, 5)
                .Initializer(weights)
                .Node("Conv", new[] { "x", "conv.weight" }, new[] { "y" }, AttrInts("kernel_shape", 3, 3))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'conv.weight'");
            StringAssert.Contains(e.Message, "external");
        }

        [TestMethod]
        public void ConstantNodeWithExternalDataThrowsNamingTheTensor()
        {
            var value = new TensorProto { Name = "big", DataType = (int)TensorProto.Types.DataType.Float };
            value.Dims.Add(4);
            value.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "big.bin" });
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Constant", new string[0], new[] { "c" }, AttrTensor("value", value))
                .Node("Add", new[] { "x", "c" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'big'");
            StringAssert.Contains(e.Message, "external");
        }

        [TestMethod]
        public void TensorWhoseDataDoesNotMatchItsShapeThrowsNamingIt()
        {
            var raw = FloatTensor("w", new[] { 2, 4 }, new float[8]);
            raw.Dims[1] = 5;
            var typed = FloatTensor("v", new[] { 4 }, new float[4], raw: false);
            typed.Dims[0] = 3;
            foreach (TensorProto tensor in new[] { raw, typed })
            {
                byte[] fixture = new OnnxFixtureBuilder()
                    .Input("x", BatchAxis.Symbolic, 4)
                    .Initializer(tensor)
                    .Node("Add", new[] { "x", tensor.Name }, new[] { "y" })
                    .Output("y")
                    .Build();
                var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
                StringAssert.Contains(e.Message, $"'{tensor.Name}'");
                StringAssert.Contains(e.Message, "expected");
            }
        }

        [TestMethod]
        public void TensorOfStringsThrowsNamingItsType()
        {
            var strings = new TensorProto { Name = "labels", DataType = (int)TensorProto.Types.DataType.String };
            strings.Dims.Add(1);
            strings.StringData.Add(ByteString.CopyFromUtf8("cat"));
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer(strings)
                .Node("Relu", "x", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'labels'");
            StringAssert.Contains(e.Message, "String");
        }

        [TestMethod]
        public void TensorWithNegativeOrHugeDimensionsThrowsNamingIt()
        {
            foreach (long[] dims in new[] { new long[] { -3 }, new long[] { 1L << 33 }, new long[] { 1 << 20, 1 << 20, 1 << 20 } })
            {
                var t = new TensorProto { Name = "odd", DataType = (int)TensorProto.Types.DataType.Float };
                t.Dims.AddRange(dims);
                byte[] fixture = new OnnxFixtureBuilder()
                    .Input("x", BatchAxis.Symbolic, 4)
                    .Initializer(t)
                    .Node("Relu", "x", "y")
                    .Output("y")
                    .Build();
                var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source), $"dims [{string.Join(",", dims)}]");
                StringAssert.Contains(e.Message, "'odd'");
            }
        }

        [TestMethod]
        public void AttributeOfTheWrongTypeThrowsNamingNodeAndAttribute()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 6, 6)
                .NamedNode("pool", "MaxPool", string.Empty, new[] { "x" }, new[] { "y" }, AttrInts("kernel_shape", 2, 2), AttrFloat("strides", 2f))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'pool'");
            StringAssert.Contains(e.Message, "MaxPool");
            StringAssert.Contains(e.Message, "'strides'");
            StringAssert.Contains(e.Message, "expected Ints");
        }

        [TestMethod]
        public void AttributeWithTheWrongCountThrowsNamingNodeAndAttribute()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 6, 6)
                .RandomInitializer("W", new[] { 2, 3, 3, 3 })
                .NamedNode("conv", "Conv", string.Empty, new[] { "x", "W" }, new[] { "y" }, AttrInts("pads", 1, 1))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'conv'");
            StringAssert.Contains(e.Message, "'pads' has 2 values; expected 4");
        }

        [TestMethod]
        public void UnknownAutoPadThrowsNamingTheValue()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 6, 6)
                .NamedNode("pool", "AveragePool", string.Empty, new[] { "x" }, new[] { "y" }, AttrInts("kernel_shape", 2, 2), AttrString("auto_pad", "SAME"))
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'pool'");
            StringAssert.Contains(e.Message, "auto_pad 'SAME'");
        }

        [TestMethod]
        public void ConvWhoseWeightsDoNotFitTheInputThrowsNamingTheNode()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 6, 6)
                .RandomInitializer("W", new[] { 2, 4, 3, 3 })
                .NamedNode("mismatch", "Conv", string.Empty, new[] { "x", "W" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'mismatch'");
            StringAssert.Contains(e.Message, "3 channels");
        }

        [TestMethod]
        public void GemmWhoseWeightsDoNotFitTheInputThrowsNamingTheNode()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 6)
                .RandomInitializer("W", new[] { 5, 4 })
                .NamedNode("fc", "Gemm", string.Empty, new[] { "x", "W" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'fc'");
            StringAssert.Contains(e.Message, "[6]");
        }

        [TestMethod]
        public void NodesOutOfOrderThrowNamingTheMissingValue()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode("second", "Relu", string.Empty, new[] { "r" }, new[] { "y" })
                .NamedNode("first", "Relu", string.Empty, new[] { "x" }, new[] { "r" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'second'");
            StringAssert.Contains(e.Message, "'r'");
            StringAssert.Contains(e.Message, "not produced by any earlier node");
        }

        [TestMethod]
        [DataRow("MatMul", "x")]
        [DataRow("Add", "x")]
        [DataRow("Reshape", "c")]
        [DataRow("Conv", "x")]
        [DataRow("BatchNormalization", "x")]
        [DataRow("Relu", "")]
        [DataRow("Gather", "c")]
        [DataRow("Unsqueeze", "c")]
        public void NodeMissingARequiredInputThrowsNamingNodeAndOp(string op, string onlyInput)
        {
            var b = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("c", new[] { 4 }, new long[] { 1, 1, 1, 1 });
            byte[] fixture = b
                .NamedNode("broken", op, string.Empty, onlyInput.Length == 0 ? new string[0] : new[] { onlyInput }, new[] { "z" })
                .Node("Add", new[] { "x", "z" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "'broken'");
            StringAssert.Contains(e.Message, $"({op})");
            StringAssert.Contains(e.Message, "needs at least");
        }

        [TestMethod]
        public void NodeWithAnEmptyRequiredInputThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode("broken", "Mul", string.Empty, new[] { "x", string.Empty }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'broken'");
            StringAssert.Contains(e.Message, "(empty)");
        }

        [TestMethod]
        public void NodeWithoutOutputsThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode("sink", "Relu", string.Empty, new[] { "x" }, new string[0])
                .Node("Relu", "x", "y")
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'sink'");
            StringAssert.Contains(e.Message, "no output");
        }

        [TestMethod]
        [DataRow("Relu", 2)]
        [DataRow("Add", 3)]
        [DataRow("Conv", 4)]
        public void NodeWithTooManyInputsThrowsNamingNodeAndOp(string op, int count)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 4, 4)
                .RandomInitializer("W", new[] { 2, 2, 1, 1 })
                .NamedNode("crowded", op, string.Empty, new[] { "x", "W", "W", "W" }.Take(count).ToArray(), new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'crowded'");
            StringAssert.Contains(e.Message, $"({op})");
            StringAssert.Contains(e.Message, $"has {count} inputs");
            StringAssert.Contains(e.Message, "takes at most");
        }

        [TestMethod]
        public void ConvBiasOfTheWrongLengthThrowsNamingTheNode()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 4, 4)
                .RandomInitializer("W", new[] { 3, 2, 1, 1 })
                .RandomInitializer("B", new[] { 5 })
                .NamedNode("conv", "Conv", string.Empty, new[] { "x", "W", "B" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'conv'");
            StringAssert.Contains(e.Message, "5 values for 3 output channels");
        }

        [TestMethod]
        public void BatchNormalizationParametersOfDifferentLengthsThrowNamingTheNode()
        {
            var b = new OnnxFixtureBuilder().Input("x", BatchAxis.Symbolic, 3, 4, 4);
            LinearOpParityTests.AddBatchNormParameters(b, 3);
            byte[] fixture = b
                .RandomInitializer("short_var", new[] { 2 })
                .NamedNode("bn", "BatchNormalization", string.Empty, new[] { "x", "gamma", "beta", "mean", "short_var" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'bn'");
            StringAssert.Contains(e.Message, "same length");
        }

        [TestMethod]
        [DataRow("Conv", "strides", "0,1")]
        [DataRow("Conv", "dilations", "1,0")]
        [DataRow("Conv", "pads", "0,-1,0,0")]
        [DataRow("MaxPool", "strides", "0,0")]
        [DataRow("MaxPool", "kernel_shape", "0,2")]
        [DataRow("AveragePool", "pads", "1,1,1,-2")]
        public void NonPositiveStridesOrKernelsOrNegativePadsThrowNamingTheAttribute(string op, string attribute, string values)
        {
            var attributes = new[] { AttrInts("kernel_shape", 2, 2) }.Where(a => a.Name != attribute).Append(AttrInts(attribute, FixtureParity.Longs(values))).ToArray();
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 6, 6)
                .RandomInitializer("W", new[] { 2, 2, 2, 2 })
                .NamedNode("bad", op, string.Empty, op == "Conv" ? new[] { "x", "W" } : new[] { "x" }, new[] { "y" }, attributes)
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'bad'");
            StringAssert.Contains(e.Message, $"'{attribute}'");
            StringAssert.Contains(e.Message, $"[{values}]");
        }

        [TestMethod]
        public void ConstantDataWithAComputedParameterIsUnsupported()
        {
            // Clip(constant, min = the image): the data input is a constant, a parameter is an activation.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.One, 4)
                .Initializer("c", new[] { 1, 4 }, new float[4])
                .NamedNode("odd_clip", "Clip", string.Empty, new[] { "c", "x" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            Assert.AreEqual("odd_clip", e.Nodes.Single().NodeName);
            StringAssert.Contains(e.Nodes.Single().Reason, "data input is a constant");
        }

        [TestMethod]
        public void ReshapeThatMovesTheBatchSizeToAnotherAxisIsUnsupported()
        {
            // x.view(-1, x.size(0)): the free batch size lands on axis 1.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Node("Shape", "x", "s")
                .Constant("zero", new int[0], new long[] { 0 })
                .Node("Gather", new[] { "s", "zero" }, new[] { "n" }, AttrInt("axis", 0))
                .Constant("axes", new[] { 1 }, new long[] { 0 })
                .Node("Unsqueeze", new[] { "n", "axes" }, new[] { "n1" })
                .Constant("minus1", new[] { 1 }, new long[] { -1 })
                .Node("Concat", new[] { "minus1", "n1" }, new[] { "target" }, AttrInt("axis", 0))
                .NamedNode("swap", "Reshape", string.Empty, new[] { "x", "target" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "[-1,N]");
            StringAssert.Contains(e.Nodes.Single().Reason, "batch size on axis 1");
        }

        [TestMethod]
        public void ReshapeToAHugeDimensionIsUnsupported()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .Initializer("target", new[] { 2 }, new long[] { 0, 5_000_000_000 })
                .NamedNode("huge", "Reshape", string.Empty, new[] { "x", "target" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<UnsupportedOnnxOperatorException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Nodes.Single().Reason, "5000000000");
        }

        [TestMethod]
        [DataRow("Concat of mismatched shapes")]
        [DataRow("Transpose with a bad perm")]
        [DataRow("Unsqueeze with a repeated axis")]
        [DataRow("Reshape copying a missing axis")]
        [DataRow("Clip with a vector bound")]
        public void MalformedConstantSubgraphThrowsNamingTheNode(string kind)
        {
            var b = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 6)
                .Initializer("a", new[] { 2, 3 }, new float[6])
                .Initializer("b", new[] { 3, 3 }, new float[9]);
            switch (kind)
            {
                case "Concat of mismatched shapes":
                    b.NamedNode("bad", "Concat", string.Empty, new[] { "a", "b" }, new[] { "c" }, AttrInt("axis", 1));
                    break;
                case "Transpose with a bad perm":
                    b.NamedNode("bad", "Transpose", string.Empty, new[] { "a" }, new[] { "c" }, AttrInts("perm", 0, 0));
                    break;
                case "Unsqueeze with a repeated axis":
                    b.Initializer("axes", new[] { 2 }, new long[] { 0, 0 })
                        .NamedNode("bad", "Unsqueeze", string.Empty, new[] { "a", "axes" }, new[] { "c" });
                    break;
                case "Reshape copying a missing axis":
                    b.Initializer("shape", new[] { 3 }, new long[] { 1, 6, 0 })
                        .NamedNode("bad", "Reshape", string.Empty, new[] { "a", "shape" }, new[] { "c" });
                    break;
                default:
                    b.Initializer("lo", new[] { 2 }, new[] { 0f, 1f })
                        .NamedNode("bad", "Clip", string.Empty, new[] { "a", "lo" }, new[] { "c" });
                    break;
            }
            byte[] fixture = b
                .Node("Flatten", "c", "f", AttrInt("axis", 0))
                .Node("Add", new[] { "x", "f" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, Source);
            StringAssert.Contains(e.Message, "node 'bad'");
        }

        [TestMethod]
        public void ConstantNodeWithoutAValueThrows()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 4)
                .NamedNode("empty_constant", "Constant", string.Empty, new string[0], new[] { "c" }, AttrString("value_string", "hello"))
                .Node("Add", new[] { "x", "c" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'empty_constant'");
            StringAssert.Contains(e.Message, "value");
        }

        [TestMethod]
        public void GatherIndexOutOfRangeThrowsNamingTheNode()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 3)
                .Node("Shape", "x", "s")
                .Constant("i", new int[0], new long[] { 7 })
                .NamedNode("pick", "Gather", string.Empty, new[] { "s", "i" }, new[] { "g" }, AttrInt("axis", 0))
                .Node("Unsqueeze", new[] { "g", "axes" }, new[] { "u" })
                .Initializer("axes", new[] { 1 }, new long[] { 0 })
                .Node("Reshape", new[] { "x", "u" }, new[] { "y" })
                .Output("y")
                .Build();
            var e = Assert.ThrowsExactly<OnnxImportException>(() => OnnxImporter.Load(fixture, Source));
            StringAssert.Contains(e.Message, "'pick'");
            StringAssert.Contains(e.Message, "index 7");
        }

        /// <summary>
        /// Byte-level corruption of a valid fixture must either import or throw <see cref="OnnxImportException"/>:
        /// never NullReference, IndexOutOfRange, KeyNotFound, Overflow or OutOfMemory.
        /// </summary>
        [TestMethod]
        public void CorruptedFixturesNeverCrashTheImporter()
        {
            byte[] original = OpsetFixtureParityTests.SmallCnn(13, BatchAxis.Symbolic).Build();
            var random = new Random(2024);
            int imported = 0;
            int rejected = 0;
            for (int trial = 0; trial < 3000; trial++)
            {
                byte[] bytes = (byte[])original.Clone();
                int flips = 1 + random.Next(3);
                for (int f = 0; f < flips; f++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
                try
                {
                    OnnxImporter.Load(bytes, Source);
                    imported++;
                }
                catch (OnnxImportException)
                {
                    rejected++;
                }
                catch (Exception e)
                {
                    Assert.Fail($"trial {trial}: {e.GetType().Name}: {e.Message}{Environment.NewLine}{e.StackTrace}");
                }
            }
            Console.WriteLine($"{imported} corrupted fixtures imported, {rejected} rejected with OnnxImportException.");
        }

        /// <summary>Structure-level corruption: every node of the fixture in turn gets inputs, outputs or attributes removed, rewired or set out of range.</summary>
        [TestMethod]
        public void StructurallyDamagedFixturesNeverCrashTheImporter()
        {
            ModelProto original = OpsetFixtureParityTests.SmallCnn(13, BatchAxis.Symbolic).ToModel();
            var damages = new Action<NodeProto>[]
            {
                n => n.Input.Clear(),
                n => { if (n.Input.Count > 0) { n.Input.RemoveAt(n.Input.Count - 1); } },
                n => { if (n.Input.Count > 0) { n.Input[0] = "nowhere"; } },
                n => { if (n.Input.Count > 1) { n.Input[1] = string.Empty; } },
                n => n.Output.Clear(),
                n => n.Attribute.Clear(),
                n => { foreach (AttributeProto a in n.Attribute) { a.Type = AttributeProto.Types.AttributeType.String; } },
                n => { foreach (AttributeProto a in n.Attribute) { a.Ints.Clear(); } },
                n => n.OpType = n.OpType.ToLowerInvariant(),
                n => n.Input.Add("conv1.weight"),
                n => { if (n.Input.Count > 0) { n.Input[0] = "conv1.weight"; } },
                n => { if (n.Input.Count > 1) { n.Input[1] = "input"; } },
                n => { if (n.Output.Count > 0) { n.Output[0] = "c1"; } },
                n => { foreach (AttributeProto a in n.Attribute) { for (int k = 0; k < a.Ints.Count; k++) { a.Ints[k] = 0; } a.I = -1; } },
                n => { foreach (AttributeProto a in n.Attribute) { for (int k = 0; k < a.Ints.Count; k++) { a.Ints[k] = long.MaxValue; } a.I = long.MinValue; } },
            };
            for (int i = 0; i < original.Graph.Node.Count; i++)
            {
                foreach (Action<NodeProto> damage in damages)
                {
                    ModelProto model = original.Clone();
                    damage(model.Graph.Node[i]);
                    try
                    {
                        OnnxImporter.Load(model.ToByteArray(), Source);
                    }
                    catch (OnnxImportException)
                    {
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"node {i} ({original.Graph.Node[i].OpType}): {e.GetType().Name}: {e.Message}{Environment.NewLine}{e.StackTrace}");
                    }
                }
            }
        }

        private static OnnxFixtureBuilder SigmoidModel() =>
            new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 8)
                .RandomInitializer("W", new[] { 8, 4 })
                .Node("MatMul", new[] { "x", "W" }, new[] { "h" })
                .NamedNode("gate", "Sigmoid", string.Empty, new[] { "h" }, new[] { "y" })
                .Output("y");
    }
}
