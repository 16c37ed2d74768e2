// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>Per-op conversion of the non-linear functions of transformers: LayerNormalization and GELU.</summary>
    internal sealed partial class GraphImporter
    {
        private string? ConvertLayerNorm(NodeProto node, string name, string op, NodeAttributes a, string where)
        {
            int[] x = ShapeOf(node, 0);
            int axis = ConstantFolding.NormalizeAxis((int)a.GetInt("axis", -1), x.Length + 1, where);
            string from = a.GetString(PatternFusion.FusedFromAttribute, string.Empty);
            string kind = from.Length > 0 ? $"LayerNorm decomposed as {from}" : op;
            if (axis != x.Length)
            {
                return $"{kind} normalizes from axis {axis} of [N,{string.Join(",", x)}]; only the last axis is supported";
            }
            if (node.Output.Skip(1).Any(o => o.Length > 0 && _model.Graph.Node.Any(n => n.Input.Contains(o))))
            {
                return "its Mean or InvStdDev output is used; only the normalized output is supported";
            }
            int features = x[^1];
            bool hasScale = node.Input.Count > 1 && node.Input[1].Length > 0;
            ConstValue? scale = hasScale ? ConstInput(node, 1) : null;
            ConstValue? bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? ConstInput(node, 2) : null;
            if ((hasScale && scale == null) || (node.Input.Count > 2 && node.Input[2].Length > 0 && bias == null))
            {
                return "its scale and bias are not constant";
            }
            float[]? scaleValues = scale == null ? Enumerable.Repeat(1f, features).ToArray() : PerFeature(scale, features);
            float[]? biasValues = bias == null ? null : PerFeature(bias, features);
            if (scaleValues == null || (bias != null && biasValues == null))
            {
                return $"its scale {ShapeUtil.Format(scale?.Shape ?? new[] { 0 })} or bias {ShapeUtil.Format(bias?.Shape ?? new[] { 0 })} is not one value per feature of the last axis ({features})";
            }
            AddLayer(new LayerNormLayer(name, from.Length > 0 ? "LayerNormalization(decomposed)" : op, In(node, 0), node.Output[0], scaleValues, biasValues, a.GetFloat("epsilon", 1e-5f)));
            return null;
        }

        private string? ConvertGelu(NodeProto node, string name, string op, NodeAttributes a)
        {
            string approximate = a.GetString("approximate", "none");
            if (approximate is not ("none" or "tanh"))
            {
                return $"approximate = '{approximate}'; 'none' and 'tanh' are supported";
            }
            bool fused = a.Has(PatternFusion.FusedFromAttribute);
            AddLayer(new GeluLayer(name, fused ? "Gelu(erf form)" : op, In(node, 0), node.Output[0], approximate == "tanh"));
            return null;
        }

        /// <summary>A constant broadcast along the last axis only, as one value per feature; null otherwise.</summary>
        private static float[]? PerFeature(ConstValue c, int features)
        {
            if (c.Data.Length == 1)
            {
                return Enumerable.Repeat((float)c.Data[0], features).ToArray();
            }
            if (c.Shape.Length == 0 || c.Shape[^1] != features || c.Shape[..^1].Any(d => d != 1))
            {
                return null;
            }
            return c.ToFloats();
        }
    }
}
