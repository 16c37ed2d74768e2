// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// Lowers IF and multi-threshold neurons to one node of the fused kernels (<see cref="NativeKernels"/>) each: the
    /// node reads the neuron's whole input ([K·B, ...], or [B, ...] when constant), runs the K steps per element and
    /// writes the outputs [K·B, ...], the final state and the spike count of every step and sample. It computes
    /// exactly what <see cref="NeuronEmitters"/> unrolls into standard ops (the same float operations in the same
    /// order, so the results are bit-identical), without the per-step Split/Concat and intermediate tensors.
    /// </summary>
    internal static class FusedNeuronEmitters
    {
        /// <summary>True when the layer has a fused kernel in a network of this coding.</summary>
        public static bool Supports(Layer layer, bool differential, bool ifNeurons = true) => layer switch
        {
            IfNeuronLayer => !differential && ifNeurons,
            MultiThresholdNeuronLayer n => n.Differential == differential,
            _ => false,
        };

        /// <summary>Emits the neuron; returns its output [K·B, ...] and writes its spike counts [K·B] to <paramref name="countName"/>.</summary>
        /// <param name="ctx">The chunk being built.</param>
        /// <param name="neuron">The neuron.</param>
        /// <param name="shape">Its per-sample shape.</param>
        /// <param name="input">Its input.</param>
        /// <param name="varying">True when the input is [K·B, ...].</param>
        /// <param name="countName">The graph output of its spike counts.</param>
        /// <param name="portable">A multi-threshold neuron runs the baseline build of its kernel even where the CPU has AVX-512.</param>
        public static string Emit(ChunkContext ctx, SpikingNeuronLayer neuron, int[] shape, string input, bool varying, string countName, bool portable = false)
        {
            string output = neuron switch
            {
                IfNeuronLayer n => IfNeuron(ctx, n, shape, input, varying, countName),
                MultiThresholdNeuronLayer n => MultiThresholdNeuron(ctx, n, shape, input, varying, countName, "MtScan", portable),
                _ => throw new InvalidOperationException($"Layer '{neuron.Name}' ({neuron.GetType().Name}) has no fused kernel."),
            };
            ctx.Builder.AddOutput(countName, new[] { "KB" });
            return output;
        }

        /// <summary>
        /// MtEncode: the multi-threshold neuron of <see cref="MultiThresholdNeuron"/> writing its spikes as codes [K·B, H, W,
        /// words] (those SpikeEncode would make of its float spikes) for the fused neurons that read it; its spike counts go to
        /// <paramref name="countName"/>.
        /// </summary>
        public static string EmitCodes(ChunkContext ctx, MultiThresholdNeuronLayer neuron, int[] shape, string input, bool varying, string countName, bool portable)
        {
            string codes = MultiThresholdNeuron(ctx, neuron, shape, input, varying, countName, "MtEncode", portable);
            ctx.Builder.AddOutput(countName, new[] { "KB" });
            return codes;
        }

        /// <summary>
        /// MaxPoolScan: the max-pool neuron of <see cref="NeuronEmitters.MaxPoolNeuron"/> over the chunk in one node (its states v,
        /// r_in and r_out in the same order), instead of about a dozen nodes per step.
        /// </summary>
        /// <param name="ctx">The chunk being built.</param>
        /// <param name="neuron">The neuron.</param>
        /// <param name="input">Its input.</param>
        /// <param name="varying">True when the input is [K·B, ...].</param>
        /// <param name="portable">Run the baseline build of the kernel even where the CPU has AVX-512.</param>
        /// <returns>Its output [K·B, C, H / kh, W / kw].</returns>
        public static string MaxPoolNeuron(ChunkContext ctx, MaxPoolNeuronLayer neuron, string input, bool varying, bool portable)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int[] inShape = ctx.Network.GetShape(neuron.Inputs[0]);
            int[] outShape = ctx.Network.GetShape(neuron.Output);
            int inSize = ShapeUtil.Size(inShape);
            string bias = neuron.Bias != null ? b.Initializer("mp_bias", inShape, neuron.Bias) : string.Empty;
            // The kernel's initial state when a chunk starts the run: v = r_out = 0, r_in = its bias input.
            KernelStateSlot v = ctx.KernelState("v", inShape, new float[inSize]);
            KernelStateSlot rIn = ctx.KernelState("r_in", inShape, neuron.Bias != null ? (float[])neuron.Bias.Clone() : new float[inSize]);
            KernelStateSlot rOut = ctx.KernelState("r_out", outShape, new float[ShapeUtil.Size(outShape)]);
            string output = b.Fresh("mp_out");
            b.CustomNode(NativeKernels.Domain, "MaxPoolScan", new[] { input, bias, ChunkContext.StepOffsetName, v.Input, rIn.Input, rOut.Input },
                new[] { output, v.Output, rIn.Output, rOut.Output },
                Attr("steps", (long)ctx.Steps), Attr("varying", varying ? 1L : 0L), Attr("kernel_shape", neuron.Pool.Kernel),
                Attr("portable", portable ? 1L : 0L));
            return output;
        }

        /// <summary>IfScan: the IF neuron of <see cref="NeuronEmitters.IfNeuron"/> with its spike count.</summary>
        private static string IfNeuron(ChunkContext ctx, IfNeuronLayer neuron, int[] shape, string input, bool varying, string countName)
        {
            OnnxGraphBuilder b = ctx.Builder;
            string theta = ctx.Broadcastable("theta", neuron.Threshold, shape);
            string v = ctx.BeginState("membrane", shape, ChunkContext.Expand(neuron.Threshold, shape, neuron.InitialMembrane));
            string output = b.Fresh("if_out");
            b.CustomNode(NativeKernels.Domain, "IfScan", new[] { input, theta, v }, new[] { output, ctx.StateOutput(v), countName },
                Attr("steps", (long)ctx.Steps), Attr("varying", varying ? 1L : 0L), Attr("reset_to_zero", neuron.Reset == ResetMode.Zero ? 1L : 0L));
            return output;
        }

        /// <summary>MtScan (or MtEncode): the neuron of <see cref="NeuronEmitters.MultiThresholdNeuron"/>, its state in the same order (m, c, C, r_out).</summary>
        private static string MultiThresholdNeuron(ChunkContext ctx, MultiThresholdNeuronLayer neuron, int[] shape, string input, bool varying, string countName, string op, bool portable)
        {
            OnnxGraphBuilder b = ctx.Builder;
            int size = ShapeUtil.Size(shape);
            bool differential = neuron.Differential;
            string theta = ctx.Broadcastable("theta", neuron.Threshold, shape);
            string bias = differential && neuron.Bias != null ? b.Initializer("mt_bias", shape, neuron.Bias) : string.Empty;
            // The kernel's initial state when a chunk starts the run: m = C = r_out = 0, c = its bias input.
            KernelStateSlot m = ctx.KernelState("m", shape, new float[size]);
            KernelStateSlot c = differential ? ctx.KernelState("c", shape, neuron.Bias != null ? (float[])neuron.Bias.Clone() : new float[size]) : KernelStateSlot.None;
            KernelStateSlot cumulative = neuron.Gated ? ctx.KernelState("C", shape, new float[size]) : KernelStateSlot.None;
            KernelStateSlot rOut = neuron.Gated && differential ? ctx.KernelState("r_out", shape, new float[size]) : KernelStateSlot.None;
            string output = b.Fresh(op == "MtScan" ? "mt_out" : "mt_codes");
            string[] inputs = { input, theta, bias, differential ? ChunkContext.StepOffsetName : string.Empty, m.Input, c.Input, cumulative.Input, rOut.Input };
            string[] outputs = { output, countName, m.Output, c.Output, cumulative.Output, rOut.Output };
            (float[] scales, float[] fractions) = NeuronEmitters.ThresholdFactors(neuron);
            b.CustomNode(NativeKernels.Domain, op, inputs, outputs,
                Attr("steps", (long)ctx.Steps), Attr("varying", varying ? 1L : 0L), Attr("levels", (long)neuron.Levels),
                Attr("gated", neuron.Gated ? 1L : 0L), Attr("differential", differential ? 1L : 0L),
                Attr("scales", scales), Attr("fractions", fractions), Attr("portable", portable ? 1L : 0L));
            return output;
        }
    }
}
