// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>
    /// Finds the QCFS activation chains PyTorch exports and fuses each into a <see cref="QcfsLayer"/>
    /// with its λ and L (algorithms.md §1.2). Both orders written by the public QCFS code are recognized:
    /// clip first, Div λ → Clip(0,1) → Mul L → Add ½ → Floor → Div L → Mul λ; and floor first,
    /// Div λ → Mul L → Add ½ → Floor → Div L → Clip(0,1) → Mul λ. A division by c may also appear as a
    /// multiplication by 1/c. λ may be one scalar or one value per channel.
    /// </summary>
    public static class QcfsDetection
    {
        private const int ChainLength = 7;

        /// <summary>Applies the pass.</summary>
        /// <param name="network">The network.</param>
        /// <returns>The network with every recognized chain fused.</returns>
        public static Network Apply(Network network)
        {
            var layers = network.Layers.ToList();
            for (int i = 0; i < layers.Count; i++)
            {
                List<Layer>? chain = FollowChain(layers, network, i);
                if (chain == null || !TryMatch(chain, out float[] lambda, out int levels))
                {
                    continue;
                }
                string sourceOps = string.Join("/", chain.Select(l => l.SourceOpType));
                var fused = new QcfsLayer(chain[^1].Name, sourceOps, chain[0].Inputs[0], chain[^1].Output, lambda, levels);
                foreach (Layer l in chain)
                {
                    layers.Remove(l);
                }
                layers.Insert(i, fused);
            }
            return network.WithLayers(layers);
        }

        private static List<Layer>? FollowChain(List<Layer> layers, Network network, int start)
        {
            var chain = new List<Layer> { layers[start] };
            while (chain.Count < ChainLength)
            {
                string value = chain[^1].Output;
                if (PassUtil.ConsumerCount(layers, network, value) != 1)
                {
                    return null;
                }
                Layer? next = layers.FirstOrDefault(l => l.Inputs.Count == 1 && l.Inputs[0] == value);
                if (next == null)
                {
                    return null;
                }
                chain.Add(next);
            }
            return chain;
        }

        private static bool TryMatch(List<Layer> chain, out float[] lambda, out int levels)
        {
            lambda = Array.Empty<float>();
            levels = 0;
            float[]? lambdaIn = Divisor(chain[0]);
            float[]? lambdaOut = Multiplier(chain[6]);
            if (lambdaIn == null || lambdaOut == null || !Close(lambdaIn, lambdaOut))
            {
                return false;
            }
            int[] body;
            if (IsUnitClip(chain[1]))
            {
                body = new[] { 2, 3, 4, 5 };
            }
            else if (IsUnitClip(chain[5]))
            {
                body = new[] { 1, 2, 3, 4 };
            }
            else
            {
                return false;
            }
            float[]? mulL = Multiplier(chain[body[0]]);
            float[]? divL = Divisor(chain[body[3]]);
            if (mulL == null || divL == null || mulL.Length != 1 || divL.Length != 1 || !IsHalf(chain[body[1]]) || chain[body[2]] is not FloorLayer)
            {
                return false;
            }
            double l = Math.Round(mulL[0]);
            if (l < 1 || Math.Abs(mulL[0] - l) > 1e-4 * l || Math.Abs(divL[0] - l) > 1e-4 * l)
            {
                return false;
            }
            lambda = lambdaOut;
            levels = (int)l;
            return true;
        }

        /// <summary>c when the layer is x / c or x · (1/c), per element of a scalar or per-channel constant.</summary>
        private static float[]? Divisor(Layer layer) => layer is ConstBinaryLayer { ConstantOnLeft: false } cb && IsScalarOrChannel(cb.Constant)
            ? cb.Op switch
            {
                BinaryOp.Div => cb.Constant.Data,
                BinaryOp.Mul => cb.Constant.Data.Select(v => 1f / v).ToArray(),
                _ => null,
            }
            : null;

        /// <summary>c when the layer is x · c or c · x (or x / (1/c)).</summary>
        private static float[]? Multiplier(Layer layer) => layer is ConstBinaryLayer cb && IsScalarOrChannel(cb.Constant)
            ? cb.Op switch
            {
                BinaryOp.Mul => cb.Constant.Data,
                BinaryOp.Div when !cb.ConstantOnLeft => cb.Constant.Data.Select(v => 1f / v).ToArray(),
                _ => null,
            }
            : null;

        private static bool IsScalarOrChannel(FloatTensor c) =>
            c.Length == 1 || (c.Shape.Length >= 1 && c.Shape.Skip(1).All(d => d == 1) && c.Shape[0] == c.Length);

        private static bool IsHalf(Layer layer) =>
            layer is ConstBinaryLayer { Op: BinaryOp.Add } cb && cb.Constant.Length == 1 && cb.Constant.Data[0] == 0.5f;

        private static bool IsUnitClip(Layer layer) => layer is ClipLayer { Min: 0f, Max: 1f };

        private static bool Close(float[] a, float[] b)
        {
            if (a.Length != b.Length && a.Length != 1 && b.Length != 1)
            {
                return false;
            }
            int n = Math.Max(a.Length, b.Length);
            for (int i = 0; i < n; i++)
            {
                float x = a[a.Length == 1 ? 0 : i];
                float y = b[b.Length == 1 ? 0 : i];
                if (Math.Abs(x - y) > 1e-5f * Math.Max(Math.Abs(x), Math.Abs(y)))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
