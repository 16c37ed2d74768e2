// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// Lowers the stateful units of a spiking network over the K steps of a chunk: each is unrolled into
    /// element-wise ONNX ops on [B, ...] tensors per step, with its state entering and leaving the graph.
    /// </summary>
    internal static class NeuronEmitters
    {
        /// <summary>
        /// IF neuron (algorithms.md §1.1 step 4): m = v + I[t]; s = m ≥ θ; x[t] = s·θ; v = m − s·θ (or v = m·(1 − s)
        /// for reset to zero).
        /// </summary>
        public static string[] IfNeuron(ChunkContext ctx, IfNeuronLayer neuron, int[] shape, string input, bool varying)
        {
            OnnxGraphBuilder b = ctx.Builder;
            string theta = ctx.Broadcastable("theta", neuron.Threshold, shape);
            string zero = b.Scalar(0f);
            string[] currents = ctx.PerStep(input, varying, "i");
            string v = ctx.BeginState("membrane", shape, ChunkContext.Expand(neuron.Threshold, shape, neuron.InitialMembrane));
            string state = v;
            var outputs = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                string m = b.Node("Add", new[] { v, currents[t] });
                string fire = b.Node("GreaterOrEqual", new[] { m, theta });
                outputs[t] = b.Node("Where", new[] { fire, theta, zero });
                v = neuron.Reset == ResetMode.Subtract
                    ? b.Node("Sub", new[] { m, outputs[t] })
                    : b.Node("Where", new[] { fire, zero, m });
            }
            ctx.EndState(state, v);
            return outputs;
        }

        /// <summary>
        /// Multi-threshold neuron (§2.4; differential form §2.5 and the reference loop of §2.17). Differential state:
        /// m, c = r_in − r_out (starts at the bias), and for the ReLU gate r_out and C. Per step
        /// m += d + c; C += r_out; s = rule(m, C); m −= s; C += s; c += (d − s)/t; r_out += s/t.
        /// The rate form keeps m and C: m += x; s = rule(m, C); m −= s; C += s.
        /// </summary>
        public static string[] MultiThresholdNeuron(ChunkContext ctx, MultiThresholdNeuronLayer neuron, int[] shape, string input, bool varying)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int size = ShapeUtil.Size(shape);
            string[] drive = neuron.Differential
                ? ctx.Differences(input, varying, neuron.Bias, shape, "mt")
                : ctx.PerStep(input, varying, "mt");
            string theta = ctx.Broadcastable("theta", neuron.Threshold, shape);
            var value = new string[neuron.Levels];
            var positive = new string[neuron.Levels];
            (float[] scales, float[] fractions) = ThresholdFactors(neuron);
            for (int k = 0; k < neuron.Levels; k++)
            {
                value[k] = k == 0 ? theta : b.Node("Mul", new[] { theta, b.Scalar(scales[k]) });
                positive[k] = b.Node("Mul", new[] { theta, b.Scalar(fractions[k]) });
            }
            string zero = b.Scalar(0f);
            string m = ctx.BeginState("m", shape, new float[size]);
            string mStart = m;
            string? c = null, cStart = null, rOut = null, rOutStart = null, cumulative = null, cumulativeStart = null;
            if (neuron.Differential)
            {
                c = cStart = ctx.BeginState("c", shape, neuron.Bias != null ? (float[])neuron.Bias.Clone() : new float[size]);
            }
            if (neuron.Gated)
            {
                cumulative = cumulativeStart = ctx.BeginState("C", shape, new float[size]);
                if (neuron.Differential)
                {
                    rOut = rOutStart = ctx.BeginState("r_out", shape, new float[size]);
                }
            }
            var outputs = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                m = b.Node("Add", new[] { m, drive[t] });
                if (neuron.Differential)
                {
                    m = b.Node("Add", new[] { m, c! });
                    if (neuron.Gated)
                    {
                        cumulative = b.Node("Add", new[] { cumulative!, rOut! });
                    }
                }
                // The thresholds are symmetric: θ_k fires when |m| ≥ f_k·θ_k, the sign of m chooses ±. The gate allows −θ_k
                // only while C ≥ θ_k, so a negative spike is −θ of the later of the two first qualifying k, i.e. −min of the
                // two selected thresholds (θ_k decreases with k; 0 where none qualifies). Selections only: exact.
                string magnitude = Select(b, b.Node("Abs", new[] { m }), positive, value, zero);
                string fall = b.Node("Neg", new[] { neuron.Gated ? b.Node("Min", new[] { magnitude, Select(b, cumulative!, value, value, zero) }) : magnitude });
                string s = b.Node("Where", new[] { b.Node("GreaterOrEqual", new[] { m, zero }), magnitude, fall });
                outputs[t] = s;
                m = b.Node("Sub", new[] { m, s });
                if (neuron.Gated)
                {
                    cumulative = b.Node("Add", new[] { cumulative!, s });
                }
                if (neuron.Differential)
                {
                    string inv = ctx.InverseStep(t);
                    c = b.Node("Add", new[] { c!, b.Node("Mul", new[] { b.Node("Sub", new[] { drive[t], s }), inv }) });
                    if (neuron.Gated)
                    {
                        rOut = b.Node("Add", new[] { rOut!, b.Node("Mul", new[] { s, inv }) });
                    }
                }
            }
            ctx.EndState(mStart, m);
            if (cStart != null)
            {
                ctx.EndState(cStart, c!);
            }
            if (cumulativeStart != null)
            {
                ctx.EndState(cumulativeStart, cumulative!);
            }
            if (rOutStart != null)
            {
                ctx.EndState(rOutStart, rOut!);
            }
            return outputs;
        }

        /// <summary>
        /// The factors of θ for threshold k of a multi-threshold neuron: θ_k = θ·scale[k] (scale = 2^−k) and the point where
        /// it fires, θ·fraction[k] (firing fraction × scale, rounded to float once). The fused kernel gets the same floats.
        /// </summary>
        public static (float[] Scales, float[] Fractions) ThresholdFactors(MultiThresholdNeuronLayer neuron)
        {
            var scales = new float[neuron.Levels];
            var fractions = new float[neuron.Levels];
            for (int k = 0; k < neuron.Levels; k++)
            {
                scales[k] = MathF.Pow(2f, -k);
                fractions[k] = (float)neuron.FiringFraction(k) * scales[k];
            }
            return (scales, fractions);
        }

        /// <summary>The largest value[k] whose point[k] ≤ x, scanning k = n−1 … 0 (point and value decrease with k); <paramref name="none"/> if none.</summary>
        private static string Select(OnnxGraphBuilder b, string x, string[] point, string[] value, string none)
        {
            string selected = none;
            for (int k = point.Length - 1; k >= 0; k--)
            {
                selected = b.Node("Where", new[] { b.Node("GreaterOrEqual", new[] { x, point[k] }), value[k], selected });
            }
            return selected;
        }

        /// <summary>
        /// Max-pool neuron (§2.8, kernel = stride): v += d + r_in; r_in += d/t; O = maxpool(v); v −= upsample(O);
        /// s = O − r_out; r_out += s/t.
        /// </summary>
        public static string[] MaxPoolNeuron(ChunkContext ctx, MaxPoolNeuronLayer neuron, string input, bool varying)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int[] inShape = ctx.Network.GetShape(neuron.Inputs[0]);
            int[] outShape = ctx.Network.GetShape(neuron.Output);
            int inSize = ShapeUtil.Size(inShape);
            string[] d = ctx.Differences(input, varying, neuron.Bias, inShape, "mp");
            string v = ctx.BeginState("v", inShape, new float[inSize]);
            string vStart = v;
            string rIn = ctx.BeginState("r_in", inShape, neuron.Bias != null ? (float[])neuron.Bias.Clone() : new float[inSize]);
            string rInStart = rIn;
            string rOut = ctx.BeginState("r_out", outShape, new float[ShapeUtil.Size(outShape)]);
            string rOutStart = rOut;
            int kh = neuron.Pool.Kernel[0], kw = neuron.Pool.Kernel[1];
            int channels = inShape[0], ho = outShape[1], wo = outShape[2];
            string windows = b.Ints(-1, channels, ho, 1, wo, 1);
            string ones = b.Initializer("window", new[] { 1, 1, 1, kh, 1, kw }, Enumerable.Repeat(1f, kh * kw).ToArray());
            string covered = b.Ints(-1, channels, (long)ho * kh, (long)wo * kw);
            int padH = inShape[1] - ho * kh, padW = inShape[2] - wo * kw;
            string? pads = padH > 0 || padW > 0 ? b.Ints(0, 0, 0, 0, 0, 0, padH, padW) : null;
            var outputs = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                string inv = ctx.InverseStep(t);
                v = b.Node("Add", new[] { b.Node("Add", new[] { v, d[t] }), rIn });
                rIn = b.Node("Add", new[] { rIn, b.Node("Mul", new[] { d[t], inv }) });
                string o = b.Node("MaxPool", new[] { v }, null, Attr("kernel_shape", neuron.Pool.Kernel), Attr("strides", neuron.Pool.Strides));
                string up = b.Node("Reshape", new[] { b.Node("Mul", new[] { b.Node("Reshape", new[] { o, windows }), ones }), covered });
                if (pads != null)
                {
                    up = b.Node("Pad", new[] { up, pads });
                }
                v = b.Node("Sub", new[] { v, up });
                string s = b.Node("Sub", new[] { o, rOut });
                rOut = b.Node("Add", new[] { rOut, b.Node("Mul", new[] { s, inv }) });
                outputs[t] = s;
            }
            ctx.EndState(vStart, v);
            ctx.EndState(rInStart, rIn);
            ctx.EndState(rOutStart, rOut);
            return outputs;
        }

        /// <summary>
        /// Differential graded unit (§2.6–2.7): per input r_i += d_i/t; now = f(r); emit t·(now − last); last = now. The K
        /// input rates do not depend on the outputs, so f runs once on all of them ([K·B, ...]).
        /// </summary>
        /// <param name="ctx">The chunk being built.</param>
        /// <param name="unit">The unit.</param>
        /// <param name="inputs">Its inputs with whether they vary per step.</param>
        /// <param name="productCount">For a product unit A@B: the graph output that receives its synaptic operations per step and sample ([K·B]); null for none.</param>
        public static string[] GradedUnit(ChunkContext ctx, GradedUnitLayer unit, IReadOnlyList<(string Name, bool Varying)> inputs, string? productCount = null)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int[] outShape = ctx.Network.GetShape(unit.Output);
            var allRates = new string[inputs.Count];
            var finals = new List<(string Start, string Final)>();
            var differences = new string[inputs.Count][];
            var before = new string[inputs.Count][];
            for (int i = 0; i < inputs.Count; i++)
            {
                int[] inShape = ctx.Network.GetShape(unit.Inputs[i]);
                float[]? bias = unit.Biases[i];
                string[] d = ctx.Differences(inputs[i].Name, inputs[i].Varying, bias, inShape, "dgu");
                string rIn = ctx.BeginState("r_in", inShape, bias != null ? (float[])bias.Clone() : new float[ShapeUtil.Size(inShape)]);
                string start = rIn;
                var rates = new string[ctx.Steps];
                differences[i] = d;
                before[i] = new string[ctx.Steps];
                for (int t = 0; t < ctx.Steps; t++)
                {
                    before[i][t] = rIn;
                    rIn = b.Node("Add", new[] { rIn, b.Node("Mul", new[] { d[t], ctx.InverseStep(t) }) });
                    rates[t] = rIn;
                }
                allRates[i] = ctx.Concat(rates);
                finals.Add((start, rIn));
            }
            string last = ctx.BeginState("last", outShape, new float[ShapeUtil.Size(outShape)]);
            string lastStart = last;
            string all = LayerEmitter.Emit(b, ctx.Network, unit.Function, allRates);
            string[] now = ctx.PerStep(all, true, "f");
            var outputs = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                outputs[t] = b.Node("Mul", new[] { b.Node("Sub", new[] { now[t], last }), ctx.Step(t) });
                last = now[t];
            }
            foreach ((string start, string final) in finals)
            {
                ctx.EndState(start, final);
            }
            ctx.EndState(lastStart, last);
            if (productCount != null)
            {
                ProductSynapticCount(ctx, outShape.Length, differences[0], differences[1], before[0], before[1], productCount);
            }
            return outputs;
        }

        /// <summary>
        /// Synaptic operations of the product unit per step (§2.12): 1(A_t≠0)@1(B_t≠0) + 1(A_t≠0)@1(B̄≠0) + 1(Ā≠0)@1(B_t≠0),
        /// with A_t, B_t the operands' differential inputs and Ā, B̄ their rates before step t; summed per sample. The
        /// terms are integer counts below 2^24, so the float sums are exact.
        /// </summary>
        private static void ProductSynapticCount(ChunkContext ctx, int rank, string[] a, string[] bIn, string[] aBar, string[] bBar, string output)
        {
            OnnxGraphBuilder b = ctx.Builder;
            string zero = b.Scalar(0f);
            string Ones(string x) => b.Node("Cast", new[] { b.Node("Not", new[] { b.Node("Equal", new[] { x, zero }) }) }, null, Attr("to", 1L));
            string axes = b.Ints(Enumerable.Range(1, rank).Select(v => (long)v).ToArray());
            var counts = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                string at = Ones(a[t]);
                string bt = Ones(bIn[t]);
                string sum = b.Node("Add", new[]
                {
                    b.Node("Add", new[] { b.Node("MatMul", new[] { at, bt }), b.Node("MatMul", new[] { at, Ones(bBar[t]) }) }),
                    b.Node("MatMul", new[] { Ones(aBar[t]), bt }),
                });
                counts[t] = b.Node("ReduceSum", new[] { sum, axes }, null, Attr("keepdims", 0L));
            }
            b.Node("Identity", new[] { ctx.Concat(counts) }, output);
        }

        /// <summary>Differential read-out (§2.2): r[t] = r[t−1] + (x_out[t] − x_out[0])/t from r[0] = x_out[0]; emits r at every step.</summary>
        public static string Decoder(ChunkContext ctx, string output, bool varying, float[] outputBias, int[] shape)
        {
            OnnxGraphBuilder b = ctx.Builder;
            string[] d = ctx.Differences(output, varying, outputBias, shape, "out");
            string r = ctx.BeginState("readout", shape, (float[])outputBias.Clone());
            string start = r;
            var estimates = new string[ctx.Steps];
            for (int t = 0; t < ctx.Steps; t++)
            {
                r = b.Node("Add", new[] { r, b.Node("Mul", new[] { d[t], ctx.InverseStep(t) }) });
                estimates[t] = r;
            }
            ctx.EndState(start, r);
            return ctx.Concat(estimates);
        }

        /// <summary>
        /// Spikes per sample and step [K·B] of a neuron layer's output [K·B, ...]. Each non-zero value is one event,
        /// binary or graded. IF outputs hold 0 or θ of their channel, so Σ out/θ counts them with one read.
        /// </summary>
        public static void SpikeCount(ChunkContext ctx, SpikingNeuronLayer neuron, int[] shape, string all, string countName)
        {
            OnnxGraphBuilder b = ctx.Builder;
            if (neuron is IfNeuronLayer)
            {
                string thetaVector = neuron.Threshold.Length == 1 ? b.Scalar(neuron.Threshold[0]) : b.Initializer("theta_c", new[] { neuron.Threshold.Length }, neuron.Threshold);
                string perChannel = shape.Length > 1
                    ? b.Node("ReduceSum", new[] { all, b.Ints(Enumerable.Range(2, shape.Length - 1).Select(a => (long)a).ToArray()) }, null, Attr("keepdims", 0L))
                    : all;
                b.Node("ReduceSum", new[] { b.Node("Div", new[] { perChannel, thetaVector }), b.Ints(1) }, countName, Attr("keepdims", 0L));
            }
            else
            {
                string nonZero = b.Node("Not", new[] { b.Node("Equal", new[] { all, b.Scalar(0f) }) });
                string events = b.Node("Cast", new[] { nonZero }, null, Attr("to", 1L));
                string axes = b.Ints(Enumerable.Range(1, Math.Max(1, shape.Length)).Select(a => (long)a).ToArray());
                b.Node("ReduceSum", new[] { events, axes }, countName, Attr("keepdims", 0L));
            }
            b.AddOutput(countName, new[] { "KB" });
        }
    }
}
