// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>Relu, Clip, arithmetic and Softmax fixtures match ONNX Runtime after import and lowering.</summary>
    [TestClass]
    public sealed class ElementwiseOpParityTests
    {
        [TestMethod]
        [DataRow(7)]
        [DataRow(13)]
        [DataRow(14)]
        public void ReluMatchesOnnxRuntime(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 3, 4, 5)
                .Node("Relu", "x", "y")
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"relu opset {opset}");
            Assert.IsInstanceOfType<ReluLayer>(network.Layers.Single());
        }

        [TestMethod]
        [DataRow("opset 7 attributes (ReLU6)", 7, "attributes", 0f, 6f)]
        [DataRow("opset 8 attributes", 8, "attributes", -0.5f, 0.5f)]
        [DataRow("opset 10 attributes", 10, "attributes", -2f, 3f)]
        [DataRow("opset 9 attribute min only", 9, "attributes", 0f, float.NaN)]
        [DataRow("opset 10 attribute max only", 10, "attributes", float.NaN, 1f)]
        [DataRow("opset 11 inputs (ReLU6)", 11, "initializers", 0f, 6f)]
        [DataRow("opset 13 inputs", 13, "initializers", -0.25f, 0.75f)]
        [DataRow("opset 12 Constant-node inputs", 12, "constants", -1f, 2f)]
        [DataRow("opset 13 min only (max missing)", 13, "initializers", 0f, float.NaN)]
        [DataRow("opset 13 max only (empty min)", 13, "initializers", float.NaN, 2f)]
        [DataRow("opset 11 no bounds", 11, "initializers", float.NaN, float.NaN)]
        [DataRow("opset 21 inputs", 21, "constants", -3f, 4f)]
        public void ClipMatchesOnnxRuntime(string label, int opset, string form, float min, float max)
        {
            var b = new OnnxFixtureBuilder().Opset(opset).Input("x", BatchAxis.Symbolic, 3, 4, 5);
            if (form == "attributes")
            {
                var attributes = new List<AttributeProto>();
                if (!float.IsNaN(min))
                {
                    attributes.Add(AttrFloat("min", min));
                }
                if (!float.IsNaN(max))
                {
                    attributes.Add(AttrFloat("max", max));
                }
                b.Node("Clip", new[] { "x" }, new[] { "y" }, attributes.ToArray());
            }
            else
            {
                var inputs = new List<string> { "x" };
                foreach ((string name, float value) in new[] { ("min", min), ("max", max) })
                {
                    if (float.IsNaN(value))
                    {
                        inputs.Add(string.Empty);
                    }
                    else if (form == "constants")
                    {
                        b.Constant(name, new int[0], new[] { value });
                        inputs.Add(name);
                    }
                    else
                    {
                        b.Initializer(name, new int[0], new[] { value });
                        inputs.Add(name);
                    }
                }
                while (inputs[^1].Length == 0)
                {
                    inputs.RemoveAt(inputs.Count - 1);
                }
                b.Node("Clip", inputs.ToArray(), new[] { "y" });
            }
            byte[] fixture = b.Output("y").Build();

            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"clip {label}", low: -8f, high: 8f);
            var clip = (ClipLayer)network.Layers.Single();
            Assert.AreEqual(float.IsNaN(min) ? float.NegativeInfinity : min, clip.Min);
            Assert.AreEqual(float.IsNaN(max) ? float.PositiveInfinity : max, clip.Max);
        }

        [TestMethod]
        [DataRow("Add", "", false, "initializer")]
        [DataRow("Add", "C,1,1", false, "initializer")]
        [DataRow("Add", "1,C,1,1", false, "initializer")]
        [DataRow("Add", "W", false, "initializer")]
        [DataRow("Add", "C,H,W", false, "initializer")]
        [DataRow("Add", "1", false, "initializer")]
        [DataRow("Add", "C,1,1", true, "initializer")]
        [DataRow("Add", "1,C,1,1", true, "Constant node")]
        [DataRow("Sub", "", false, "initializer")]
        [DataRow("Sub", "C,1,1", false, "initializer")]
        [DataRow("Sub", "1,C,1,1", false, "Constant node")]
        [DataRow("Sub", "", true, "initializer")]
        [DataRow("Sub", "C,1,1", true, "initializer")]
        [DataRow("Sub", "1,C,1,1", true, "initializer")]
        [DataRow("Mul", "", false, "value_float")]
        [DataRow("Mul", "", false, "initializer")]
        [DataRow("Mul", "C,1,1", false, "initializer")]
        [DataRow("Mul", "1,C,1,1", true, "initializer")]
        [DataRow("Mul", "H,1", false, "initializer")]
        [DataRow("Div", "", false, "initializer")]
        [DataRow("Div", "C,1,1", false, "initializer")]
        [DataRow("Div", "1,C,1,1", false, "Constant node")]
        [DataRow("Div", "", true, "initializer")]
        [DataRow("Div", "C,1,1", true, "initializer")]
        [DataRow("Div", "1,C,1,1", true, "initializer")]
        public void ArithmeticWithAConstantMatchesOnnxRuntime(string op, string constantShape, bool constantOnLeft, string source)
        {
            int[] perSample = { 3, 4, 5 };
            int[] shape = constantShape.Length == 0
                ? new int[0]
                : constantShape.Split(',').Select(d => d switch { "C" => perSample[0], "H" => perSample[1], "W" => perSample[2], _ => int.Parse(d, System.Globalization.CultureInfo.InvariantCulture) }).ToArray();
            var b = new OnnxFixtureBuilder(seed: op.Length + constantShape.Length).Opset(13).Input("x", BatchAxis.Symbolic, perSample);
            int count = shape.Aggregate(1, (p, d) => p * d);
            // Divisors stay away from zero: a constant divisor in [0.5, 2], an activation divisor in [0.5, 1.5].
            float[] values = op == "Div" && !constantOnLeft ? b.RandomValues(count, 0.5f, 2f) : b.RandomValues(count, -2f, 2f);
            switch (source)
            {
                case "initializer":
                    b.Initializer("c", shape, values);
                    break;
                case "Constant node":
                    b.Constant("c", shape, values);
                    break;
                default:
                    b.Node("Constant", new string[0], new[] { "c" }, AttrFloat("value_float", values[0]));
                    break;
            }
            byte[] fixture = b
                .Node(op, constantOnLeft ? new[] { "c", "x" } : new[] { "x", "c" }, new[] { "y" })
                .Output("y")
                .Build();
            bool activationDivisor = op == "Div" && constantOnLeft;
            string label = $"{op} {(constantOnLeft ? "c op x" : "x op c")} with {source} [{constantShape}]";

            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, label, low: activationDivisor ? 0.5f : -1f, high: activationDivisor ? 1.5f : 1f);
            var layer = (ConstBinaryLayer)network.Layers.Single();
            Assert.AreEqual(constantOnLeft, layer.ConstantOnLeft);
        }

        [TestMethod]
        [DataRow("Add")]
        [DataRow("Sub")]
        [DataRow("Mul")]
        [DataRow("Div")]
        public void ArithmeticOfTwoActivationsMatchesOnnxRuntime(string op)
        {
            // y = x op (relu(conv(x)) + 1): a residual-style join of two activations.
            byte[] fixture = new OnnxFixtureBuilder(seed: op.Length)
                .Input("x", BatchAxis.Symbolic, 3, 5, 6)
                .RandomInitializer("W", new[] { 3, 3, 3, 3 })
                .Initializer("one", new int[0], new[] { 1f })
                .Node("Conv", new[] { "x", "W" }, new[] { "c" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("Relu", "c", "r")
                .Node("Add", new[] { "r", "one" }, new[] { "s" })
                .Node(op, new[] { "x", "s" }, new[] { "y" })
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"{op} of two activations");
            Assert.IsInstanceOfType<BinaryLayer>(network.Layers[^1]);
        }

        [TestMethod]
        public void ResidualBlockMatchesOnnxRuntime()
        {
            var b = new OnnxFixtureBuilder(seed: 3)
                .Input("x", BatchAxis.Symbolic, 4, 6, 6)
                .RandomInitializer("W1", new[] { 4, 4, 3, 3 })
                .RandomInitializer("B1", new[] { 4 }, 0.2f)
                .RandomInitializer("W2", new[] { 4, 4, 3, 3 })
                .RandomInitializer("B2", new[] { 4 }, 0.2f);
            LinearOpParityTests.AddBatchNormParameters(b, 4);
            byte[] fixture = b
                .Node("Conv", new[] { "x", "W1", "B1" }, new[] { "c1" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("BatchNormalization", new[] { "c1", "gamma", "beta", "mean", "var" }, new[] { "bn1" })
                .Node("Relu", "bn1", "r1")
                .Node("Conv", new[] { "r1", "W2", "B2" }, new[] { "c2" }, AttrInts("kernel_shape", 3, 3), AttrInts("pads", 1, 1, 1, 1))
                .Node("Add", new[] { "c2", "x" }, new[] { "sum" })
                .Node("Relu", "sum", "y")
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, "residual block");
        }

        [TestMethod]
        public void ProductOfAnActivationAndItsPooledChannelsBroadcasts()
        {
            // Squeeze-and-excitation style: x [N,C,H,W] · gap(x) [N,C,1,1].
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 3, 4, 5)
                .Node("GlobalAveragePool", "x", "g")
                .Node("Mul", new[] { "x", "g" }, new[] { "y" })
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, "activation times pooled activation");
        }

        [TestMethod]
        [DataRow("Softmax", 11, "10", null)]
        [DataRow("Softmax", 13, "10", null)]
        [DataRow("LogSoftmax", 11, "10", null)]
        [DataRow("LogSoftmax", 13, "10", null)]
        [DataRow("Softmax", 7, "10", 1L)]
        [DataRow("Softmax", 21, "10", -1L)]
        [DataRow("Softmax", 11, "3,4,5", 3L)]
        [DataRow("LogSoftmax", 11, "3,4,5", -1L)]
        [DataRow("Softmax", 13, "3,4,5", null)]
        [DataRow("Softmax", 13, "3,4,5", 1L)]
        [DataRow("LogSoftmax", 13, "3,4,5", 2L)]
        public void SoftmaxAtTheOutputMatchesOnnxRuntime(string op, int opset, string shape, long? axis)
        {
            var b = new OnnxFixtureBuilder().Opset(opset).Input("x", BatchAxis.Symbolic, FixtureParity.Ints(shape));
            if (axis.HasValue)
            {
                b.Node(op, "x", "y", AttrInt("axis", axis.Value));
            }
            else
            {
                b.Node(op, "x", "y");
            }
            Network network = FixtureParity.AssertMatchesOnnxRuntime(b.Output("y").Build(), $"{op} opset {opset} on [N,{shape}] axis {axis?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}", low: -4f, high: 4f);
            Assert.AreEqual(op == "LogSoftmax", ((SoftmaxLayer)network.Layers.Single()).Log);
        }

        [TestMethod]
        [DataRow(11)]
        [DataRow(13)]
        public void ClassifierHeadWithSoftmaxMatchesOnnxRuntime(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder(seed: opset)
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 16)
                .RandomInitializer("W", new[] { 10, 16 })
                .RandomInitializer("B", new[] { 10 }, 0.5f)
                .Node("Gemm", new[] { "x", "W", "B" }, new[] { "logits" }, AttrInt("transB", 1))
                .Node("Softmax", "logits", "probabilities")
                .Output("probabilities")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, $"gemm + softmax opset {opset}");
        }
    }
}
