// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>Conv, Gemm, MatMul and BatchNormalization fixtures match ONNX Runtime after import and lowering.</summary>
    [TestClass]
    public sealed class LinearOpParityTests
    {
        [TestMethod]
        [DataRow("3x3 pads 1 with bias", 3, 4, 1, "3,3", "", "", "1,1,1,1", "", true)]
        [DataRow("3x3 no pads no bias", 3, 4, 1, "3,3", "", "", "", "", false)]
        [DataRow("explicit NOTSET", 3, 4, 1, "3,3", "1,1", "1,1", "1,1,1,1", "NOTSET", true)]
        [DataRow("asymmetric pads", 2, 3, 1, "3,3", "", "", "0,1,2,1", "", true)]
        [DataRow("stride 2", 3, 5, 1, "3,3", "2,2", "", "1,1,1,1", "", true)]
        [DataRow("strides 2x1", 3, 5, 1, "3,3", "2,1", "", "1,1,1,1", "", true)]
        [DataRow("dilation 2", 3, 4, 1, "3,3", "", "2,2", "2,2,2,2", "", true)]
        [DataRow("dilations 2x1 stride 2", 3, 4, 1, "3,3", "2,2", "2,1", "1,0,1,0", "", false)]
        [DataRow("non-square kernel", 3, 4, 1, "3,1", "", "", "1,0,1,0", "", true)]
        [DataRow("pointwise 1x1", 3, 8, 1, "1,1", "", "", "", "", true)]
        [DataRow("groups 2", 4, 6, 2, "3,3", "", "", "1,1,1,1", "", true)]
        [DataRow("depthwise", 4, 4, 4, "3,3", "", "", "1,1,1,1", "", true)]
        [DataRow("depthwise stride 2 no bias", 4, 4, 4, "3,3", "2,2", "", "1,1,1,1", "", false)]
        [DataRow("depthwise multiplier 2", 3, 6, 3, "3,3", "", "", "1,1,1,1", "", true)]
        [DataRow("SAME_UPPER stride 2", 3, 4, 1, "3,3", "2,2", "", "", "SAME_UPPER", true)]
        [DataRow("SAME_LOWER stride 2", 3, 4, 1, "3,3", "2,2", "", "", "SAME_LOWER", true)]
        [DataRow("SAME_UPPER even kernel", 3, 4, 1, "4,4", "", "", "", "SAME_UPPER", true)]
        [DataRow("SAME_LOWER even kernel", 3, 4, 1, "4,2", "", "", "", "SAME_LOWER", true)]
        [DataRow("SAME_LOWER depthwise stride 2", 4, 4, 4, "3,3", "2,2", "", "", "SAME_LOWER", false)]
        [DataRow("VALID stride 2", 3, 4, 1, "3,3", "2,2", "", "", "VALID", true)]
        public void ConvMatchesOnnxRuntime(string label, int inChannels, int outChannels, int group, string kernel, string strides, string dilations, string pads, string autoPad, bool bias)
        {
            long[] k = FixtureParity.Longs(kernel);
            var b = new OnnxFixtureBuilder(seed: label.Length)
                .Input("x", BatchAxis.Symbolic, inChannels, 8, 9)
                .RandomInitializer("W", new[] { outChannels, inChannels / group, (int)k[0], (int)k[1] });
            var inputs = new List<string> { "x", "W" };
            if (bias)
            {
                b.RandomInitializer("B", new[] { outChannels }, 0.5f);
                inputs.Add("B");
            }
            var attributes = new List<AttributeProto> { AttrInts("kernel_shape", k) };
            if (group != 1)
            {
                attributes.Add(AttrInt("group", group));
            }
            if (strides.Length > 0)
            {
                attributes.Add(AttrInts("strides", FixtureParity.Longs(strides)));
            }
            if (dilations.Length > 0)
            {
                attributes.Add(AttrInts("dilations", FixtureParity.Longs(dilations)));
            }
            if (pads.Length > 0)
            {
                attributes.Add(AttrInts("pads", FixtureParity.Longs(pads)));
            }
            if (autoPad.Length > 0)
            {
                attributes.Add(AttrString("auto_pad", autoPad));
            }
            b.Node("Conv", inputs.ToArray(), new[] { "y" }, attributes.ToArray()).Output("y");

            Network network = FixtureParity.AssertMatchesOnnxRuntime(b.Build(), $"conv {label}");
            var conv = (ConvLayer)network.Layers.Single();
            Assert.AreEqual(group, conv.Group);
            Assert.AreEqual(bias, conv.Bias != null);
        }

        [TestMethod]
        [DataRow("SAME_UPPER", 1, 2)]
        [DataRow("SAME_LOWER", 2, 1)]
        public void ConvAutoPadWithDilationUsesTheDilatedKernelExtent(string autoPad, int before, int after)
        {
            // ONNX Runtime refuses SAME padding with dilation, so there is no reference run: check the
            // pads against the ONNX formula, total = (out − 1)·stride + (k − 1)·d + 1 − in, with
            // in = 8, out = ceil(8 / 2) = 4, k = 3, d = 2 (H), and d = 1 (W, in = 9, out = 5).
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 8, 9)
                .RandomInitializer("W", new[] { 3, 2, 3, 3 })
                .Node("Conv", new[] { "x", "W" }, new[] { "y" }, AttrInts("kernel_shape", 3, 3), AttrInts("strides", 2, 2),
                    AttrInts("dilations", 2, 1), AttrString("auto_pad", autoPad))
                .Output("y")
                .Build();
            var conv = (ConvLayer)Microsoft.ML.Spiking.Onnx.OnnxImporter.Load(fixture, "same-dilated").Layers.Single();
            // H: total = 3·2 + 5 − 8 = 3; W: total = 4·2 + 3 − 9 = 2.
            CollectionAssert.AreEqual(new[] { before, 1, after, 1 }, conv.Pads);
        }

        [TestMethod]
        public void ConvWithoutKernelShapeAttributeTakesItFromTheWeights()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 2, 6, 6)
                .RandomInitializer("W", new[] { 3, 2, 3, 2 })
                .Node("Conv", new[] { "x", "W" }, new[] { "y" }, AttrInts("pads", 1, 0, 1, 1))
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, "conv without kernel_shape");
        }

        [TestMethod]
        public void ConvWeightsReshapedByConstantNodesAreFolded()
        {
            // Old exporters stored weights flat and reshaped them in the graph.
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 7, 7)
                .RandomInitializer("W_flat", new[] { 4 * 3 * 3 * 3 }, 0.2f)
                .Initializer("W_shape", new[] { 4 }, new long[] { 4, 3, 3, 3 })
                .Node("Reshape", new[] { "W_flat", "W_shape" }, new[] { "W" })
                .Node("Identity", "W", "W2")
                .Node("Conv", new[] { "x", "W2" }, new[] { "y" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, "conv with folded weights");
            Assert.IsInstanceOfType<ConvLayer>(network.Layers.Single());
        }

        [TestMethod]
        [DataRow("transB 1, bias [K]", 1L, 1f, 1f, "K")]
        [DataRow("transB 0, bias [K]", 0L, 1f, 1f, "K")]
        [DataRow("transB 1, bias [1,K]", 1L, 1f, 1f, "1,K")]
        [DataRow("transB 0, bias [1,K]", 0L, 1f, 1f, "1,K")]
        [DataRow("transB 1, no bias", 1L, 1f, 1f, "")]
        [DataRow("transB 0, scalar bias", 0L, 1f, 1f, "scalar")]
        [DataRow("transB 1, bias [1]", 1L, 1f, 1f, "1")]
        [DataRow("alpha 0.5", 1L, 0.5f, 1f, "K")]
        [DataRow("beta 2.5", 0L, 1f, 2.5f, "1,K")]
        [DataRow("alpha -1.5 beta 0.25 transB 1", 1L, -1.5f, 0.25f, "K")]
        [DataRow("beta 0", 1L, 1f, 0f, "K")]
        public void GemmMatchesOnnxRuntime(string label, long transB, float alpha, float beta, string biasShape)
        {
            const int inFeatures = 12;
            const int outFeatures = 5;
            var b = new OnnxFixtureBuilder(seed: label.Length)
                .Input("x", BatchAxis.Symbolic, inFeatures)
                .RandomInitializer("B", transB != 0 ? new[] { outFeatures, inFeatures } : new[] { inFeatures, outFeatures });
            var inputs = new List<string> { "x", "B" };
            int[]? cShape = biasShape switch
            {
                "K" => new[] { outFeatures },
                "1,K" => new[] { 1, outFeatures },
                "1" => new[] { 1 },
                "scalar" => new int[0],
                _ => null,
            };
            if (cShape != null)
            {
                b.RandomInitializer("C", cShape, 1f);
                inputs.Add("C");
            }
            var attributes = new List<AttributeProto>();
            if (transB != 0)
            {
                attributes.Add(AttrInt("transB", transB));
            }
            if (alpha != 1f)
            {
                attributes.Add(AttrFloat("alpha", alpha));
            }
            if (beta != 1f)
            {
                attributes.Add(AttrFloat("beta", beta));
            }
            b.Node("Gemm", inputs.ToArray(), new[] { "y" }, attributes.ToArray()).Output("y");

            Network network = FixtureParity.AssertMatchesOnnxRuntime(b.Build(), $"gemm {label}");
            var dense = (DenseLayer)network.Layers.Single();
            Assert.AreEqual(outFeatures, dense.OutFeatures);
            Assert.AreEqual(inFeatures, dense.InFeatures);
        }

        [TestMethod]
        [DataRow("bias on the right", false, false)]
        [DataRow("bias on the left", true, false)]
        [DataRow("bias [1,K] from a Constant node", false, true)]
        public void MatMulFollowedByAddOfAConstantMatchesOnnxRuntime(string label, bool biasOnLeft, bool constantNode)
        {
            var b = new OnnxFixtureBuilder(seed: 5)
                .Input("x", BatchAxis.Symbolic, 10)
                .RandomInitializer("W", new[] { 10, 7 });
            if (constantNode)
            {
                b.Constant("bias", new[] { 1, 7 }, b.RandomValues(7, -1, 1));
            }
            else
            {
                b.RandomInitializer("bias", new[] { 7 }, 1f);
            }
            byte[] fixture = b
                .Node("MatMul", new[] { "x", "W" }, new[] { "h" })
                .Node("Add", biasOnLeft ? new[] { "bias", "h" } : new[] { "h", "bias" }, new[] { "y" })
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"matmul + add, {label}");
            Assert.AreEqual(2, network.Layers.Count);
            Assert.IsInstanceOfType<DenseLayer>(network.Layers[0]);
        }

        [TestMethod]
        [DataRow(7)]
        [DataRow(9)]
        [DataRow(14)]
        [DataRow(15)]
        public void BatchNormalizationAfterConvMatchesOnnxRuntime(int opset)
        {
            var b = new OnnxFixtureBuilder(seed: opset)
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 3, 6, 5)
                .RandomInitializer("W", new[] { 4, 3, 3, 3 })
                .RandomInitializer("B", new[] { 4 }, 0.3f);
            AddBatchNormParameters(b, 4);
            var bnAttributes = new List<AttributeProto> { AttrFloat("epsilon", 1e-3f) };
            if (opset < 9)
            {
                bnAttributes.Add(AttrInt("spatial", 1));
            }
            byte[] fixture = b
                .InitializersAsInputs(opset < 9)
                .Node("Conv", new[] { "x", "W", "B" }, new[] { "c" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("BatchNormalization", new[] { "c", "gamma", "beta", "mean", "var" }, new[] { "y" }, bnAttributes.ToArray())
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"conv + batchnorm opset {opset}");
            Assert.IsInstanceOfType<BatchNormLayer>(network.Layers[1]);
        }

        [TestMethod]
        [DataRow("NCHW, default epsilon", "3,5,6", false)]
        [DataRow("NCHW, epsilon 0.1", "3,5,6", true)]
        [DataRow("NC (BatchNorm1d)", "6", false)]
        [DataRow("NCL", "4,7", true)]
        public void StandaloneBatchNormalizationMatchesOnnxRuntime(string label, string shape, bool customEpsilon)
        {
            int[] perSample = FixtureParity.Ints(shape);
            var b = new OnnxFixtureBuilder(seed: label.Length).Input("x", BatchAxis.Symbolic, perSample);
            AddBatchNormParameters(b, perSample[0]);
            byte[] fixture = b
                .Node("BatchNormalization", new[] { "x", "gamma", "beta", "mean", "var" }, new[] { "y" },
                    customEpsilon ? new[] { AttrFloat("epsilon", 0.1f) } : new AttributeProto[0])
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, $"batchnorm {label}");
        }

        internal static void AddBatchNormParameters(OnnxFixtureBuilder b, int channels)
        {
            b.UniformInitializer("gamma", new[] { channels }, 0.5f, 1.5f)
                .UniformInitializer("beta", new[] { channels }, -0.5f, 0.5f)
                .UniformInitializer("mean", new[] { channels }, -0.5f, 0.5f)
                .UniformInitializer("var", new[] { channels }, 0.25f, 2f);
        }
    }
}
