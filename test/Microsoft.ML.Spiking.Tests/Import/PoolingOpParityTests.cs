// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static Microsoft.ML.Spiking.Tests.OnnxFixtureBuilder;

namespace Microsoft.ML.Spiking.Tests.Import
{
    /// <summary>MaxPool, AveragePool and GlobalAveragePool fixtures match ONNX Runtime after import and lowering.</summary>
    [TestClass]
    public sealed class PoolingOpParityTests
    {
        [TestMethod]
        [DataRow("MaxPool 2x2 stride 2", "MaxPool", 13, "8,8", "2,2", "2,2", "", false, false, "")]
        [DataRow("MaxPool 2x2 default strides", "MaxPool", 13, "6,7", "2,2", "", "", false, false, "")]
        [DataRow("MaxPool 3x3 stride 2 pads 1", "MaxPool", 13, "8,9", "3,3", "2,2", "1,1,1,1", false, false, "")]
        [DataRow("MaxPool asymmetric pads", "MaxPool", 13, "8,8", "2,2", "2,2", "0,0,1,1", false, false, "")]
        [DataRow("MaxPool non-square kernel and strides", "MaxPool", 13, "8,9", "3,2", "2,1", "1,0,1,0", false, false, "")]
        [DataRow("MaxPool ceil_mode odd size", "MaxPool", 13, "7,9", "2,2", "2,2", "", true, false, "")]
        [DataRow("MaxPool ceil_mode 3x3 stride 2 pads 1", "MaxPool", 10, "8,9", "3,3", "2,2", "1,1,1,1", true, false, "")]
        [DataRow("MaxPool ceil_mode 6x6 pads 1", "MaxPool", 13, "6,6", "3,3", "2,2", "1,1,1,1", true, false, "")]
        [DataRow("MaxPool ceil_mode last window only in padding", "MaxPool", 13, "5,5", "2,2", "3,3", "0,0,1,1", true, false, "")]
        [DataRow("AveragePool ceil_mode last window only in padding", "AveragePool", 13, "5,5", "2,2", "3,3", "0,0,1,1", true, true, "")]
        [DataRow("MaxPool SAME_UPPER", "MaxPool", 13, "8,9", "3,3", "2,2", "", false, false, "SAME_UPPER")]
        [DataRow("MaxPool SAME_LOWER", "MaxPool", 13, "8,9", "2,2", "1,1", "", false, false, "SAME_LOWER")]
        [DataRow("MaxPool VALID", "MaxPool", 13, "8,9", "3,3", "2,2", "", false, false, "VALID")]
        [DataRow("MaxPool opset 7", "MaxPool", 7, "8,8", "2,2", "2,2", "", false, false, "")]
        [DataRow("MaxPool opset 8", "MaxPool", 8, "7,7", "3,3", "2,2", "1,1,1,1", false, false, "")]
        [DataRow("AveragePool 2x2 stride 2", "AveragePool", 13, "8,8", "2,2", "2,2", "", false, false, "")]
        [DataRow("AveragePool pads 1 exclude pad", "AveragePool", 13, "6,7", "3,3", "1,1", "1,1,1,1", false, false, "")]
        [DataRow("AveragePool pads 1 include pad", "AveragePool", 13, "6,7", "3,3", "1,1", "1,1,1,1", false, true, "")]
        [DataRow("AveragePool asymmetric pads include pad", "AveragePool", 11, "6,7", "3,3", "2,2", "0,1,1,0", false, true, "")]
        [DataRow("AveragePool ceil_mode", "AveragePool", 13, "7,9", "2,2", "2,2", "", true, false, "")]
        [DataRow("AveragePool ceil_mode pads 1", "AveragePool", 13, "8,9", "3,3", "2,2", "1,1,1,1", true, false, "")]
        [DataRow("AveragePool ceil_mode pads 1 include pad", "AveragePool", 19, "8,9", "3,3", "2,2", "1,1,1,1", true, true, "")]
        [DataRow("AveragePool SAME_UPPER", "AveragePool", 13, "8,9", "3,3", "2,2", "", false, false, "SAME_UPPER")]
        [DataRow("AveragePool SAME_LOWER include pad", "AveragePool", 13, "8,9", "2,2", "1,1", "", false, true, "SAME_LOWER")]
        [DataRow("AveragePool VALID", "AveragePool", 13, "8,9", "3,3", "2,2", "", false, false, "VALID")]
        [DataRow("AveragePool opset 7 include pad", "AveragePool", 7, "6,6", "3,3", "1,1", "1,1,1,1", false, true, "")]
        public void PoolMatchesOnnxRuntime(string label, string op, int opset, string size, string kernel, string strides, string pads,
            bool ceilMode, bool countIncludePad, string autoPad)
        {
            int[] hw = FixtureParity.Ints(size);
            var attributes = new List<AttributeProto> { AttrInts("kernel_shape", FixtureParity.Longs(kernel)) };
            if (strides.Length > 0)
            {
                attributes.Add(AttrInts("strides", FixtureParity.Longs(strides)));
            }
            if (pads.Length > 0)
            {
                attributes.Add(AttrInts("pads", FixtureParity.Longs(pads)));
            }
            if (ceilMode)
            {
                attributes.Add(AttrInt("ceil_mode", 1));
            }
            if (countIncludePad)
            {
                attributes.Add(AttrInt("count_include_pad", 1));
            }
            if (autoPad.Length > 0)
            {
                attributes.Add(AttrString("auto_pad", autoPad));
            }
            byte[] fixture = new OnnxFixtureBuilder()
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 3, hw[0], hw[1])
                .Node(op, new[] { "x" }, new[] { "y" }, attributes.ToArray())
                .Output("y")
                .Build();

            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, label);
            var pool = (PoolLayer)network.Layers.Single();
            Assert.AreEqual(op == "MaxPool" ? PoolKind.Max : PoolKind.Average, pool.Kind);
            Assert.AreEqual(ceilMode, pool.CeilMode);
        }

        [TestMethod]
        [DataRow(7)]
        [DataRow(13)]
        public void GlobalAveragePoolMatchesOnnxRuntime(int opset)
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Opset(opset)
                .Input("x", BatchAxis.Symbolic, 3, 5, 6)
                .Node("GlobalAveragePool", "x", "y")
                .Output("y")
                .Build();
            Network network = FixtureParity.AssertMatchesOnnxRuntime(fixture, $"global average pool opset {opset}");
            CollectionAssert.AreEqual(new[] { 3, 1, 1 }, network.OutputShape);
        }

        [TestMethod]
        public void GlobalAveragePoolFlattenGemmHeadMatchesOnnxRuntime()
        {
            byte[] fixture = new OnnxFixtureBuilder()
                .Input("x", BatchAxis.Symbolic, 6, 4, 4)
                .RandomInitializer("W", new[] { 10, 6 })
                .RandomInitializer("B", new[] { 10 }, 0.5f)
                .Node("GlobalAveragePool", "x", "g")
                .Node("Flatten", "g", "f")
                .Node("Gemm", new[] { "f", "W", "B" }, new[] { "y" }, AttrInt("transB", 1))
                .Output("y")
                .Build();
            FixtureParity.AssertMatchesOnnxRuntime(fixture, "gap + flatten + gemm");
        }
    }
}
