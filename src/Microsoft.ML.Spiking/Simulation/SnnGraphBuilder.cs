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
    /// Lowers a spiking network to an ONNX graph that simulates a chunk of K time steps in one call.
    /// Values that change over time are laid out [K·B, ...] with time folded into the batch axis (step-major:
    /// row t·B + b), so each stateless layer runs once per chunk as one large batch. Values that do not change
    /// over time (the part of the network before the first neuron, under direct input encoding) stay [B, ...]
    /// and are computed once. Neuron dynamics are unrolled over the K steps as element-wise ops. Membrane
    /// state enters as graph inputs and leaves as outputs, so consecutive chunks continue one simulation.
    /// When asked, every convolution and dense layer also gets an output <c>sops_j</c> [K·B, ...] with its
    /// synaptic operations per step and sample (see <see cref="SynapticLayerPlan"/>).
    /// </summary>
    internal static class SnnGraphBuilder
    {
        public const string InputName = "input";
        public const string OutputName = "output_steps";

        public static string StateInput(int neuron) => $"state_in_{neuron}";

        public static string StateOutput(int neuron) => $"state_out_{neuron}";

        public static string SpikeOutput(int neuron) => $"spikes_{neuron}";

        private static IEnumerable<string?> SymbolicState(int neuron, int rank) =>
            new[] { "B" }.Concat(Enumerable.Range(0, rank).Select(d => (string?)$"s{neuron}_d{d}"));

        public static string SynapticOutput(int layer) => $"sops_{layer}";

        /// <summary>Builds the chunk graph.</summary>
        /// <param name="network">The spiking network (IR with neuron layers).</param>
        /// <param name="steps">K, the steps in one chunk.</param>
        /// <param name="timeVaryingInput">True when the input is given per step as [K·B, ...]; false for a constant input [B, ...].</param>
        /// <param name="synapticLayers">Plans of the convolution and dense layers, in network order, to count synaptic operations; null for none.</param>
        public static byte[] Build(Network network, int steps, bool timeVaryingInput, IReadOnlyList<SynapticLayerPlan>? synapticLayers = null)
        {
            if (steps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), steps, "A chunk needs at least one step.");
            }
            var b = new OnnxGraphBuilder($"snn_chunk_{steps}");
            b.AddInput(InputName, Batched(timeVaryingInput ? "KB" : "B", network.InputShape));
            var values = new Dictionary<string, (string Name, bool Varying)> { [network.InputName] = (InputName, timeVaryingInput) };
            var tiled = new Dictionary<string, string>();
            int neuronIndex = 0;
            int synapticIndex = 0;

            string Tiled(string irValue)
            {
                (string name, bool varying) = values[irValue];
                if (varying)
                {
                    return name;
                }
                if (!tiled.TryGetValue(irValue, out string? t))
                {
                    t = steps == 1 ? name : b.Node("Concat", Enumerable.Repeat(name, steps), null, Attr("axis", 0L));
                    tiled[irValue] = t;
                }
                return t;
            }

            foreach (Layer layer in network.Layers)
            {
                if (layer is IfNeuronLayer neuron)
                {
                    int[] shape = network.GetShape(neuron.Output);
                    // Per-sample dims stay symbolic: ONNX's static shape inference and ONNX Runtime's kernels disagree
                    // on some ceil_mode pooling sizes, and a fixed declaration here would make the session refuse to load.
                    b.AddInput(StateInput(neuronIndex), SymbolicState(neuronIndex, shape.Length));
                    (string name, bool varying) = values[neuron.Inputs[0]];
                    string output = EmitIfNeuron(b, neuron, shape, name, varying, steps, neuronIndex);
                    values[neuron.Output] = (output, true);
                    neuronIndex++;
                    continue;
                }
                if (synapticLayers != null && layer is ConvLayer or DenseLayer)
                {
                    SynapticLayerPlan plan = synapticLayers[synapticIndex];
                    if (plan.Name != layer.Name)
                    {
                        throw new InvalidOperationException($"Synaptic plan {synapticIndex} is for '{plan.Name}', not '{layer.Name}'.");
                    }
                    (string name, bool varying) = values[layer.Inputs[0]];
                    EmitSynapticCount(b, plan, name, varying, steps, synapticIndex);
                    synapticIndex++;
                }
                bool anyVarying = layer.Inputs.Any(i => values[i].Varying);
                var inputs = layer.Inputs.Select(i => anyVarying ? Tiled(i) : values[i].Name).ToList();
                values[layer.Output] = (LayerEmitter.Emit(b, network, layer, inputs), anyVarying);
            }
            b.Node("Identity", new[] { Tiled(network.OutputName) }, OutputName);
            b.AddOutput(OutputName, Batched("KB", network.OutputShape));
            return b.ToModelBytes("Microsoft.ML.Spiking");
        }

        /// <summary>
        /// SOPs of one layer per step and sample, as exact integer partial sums [K·B, kept...] (see
        /// <see cref="SynapticCountMode"/>). A static input [B, ...] is counted once and tiled K times: it is
        /// presented, and counted, at every step.
        /// </summary>
        private static void EmitSynapticCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, bool varying, int steps, int index)
        {
            string output = SynapticOutput(index);
            bool tile = !varying && steps > 1;
            string? target = tile ? null : output;
            string sums = plan.Mode switch
            {
                SynapticCountMode.SpikeChannels => EmitSpikeChannelCount(b, plan, input, target),
                SynapticCountMode.SpikeRows => EmitSpikeRowCount(b, plan, input, target),
                _ => EmitIndicatorCount(b, plan, input, target),
            };
            if (tile)
            {
                b.Node("Concat", Enumerable.Repeat(sums, steps), output, Attr("axis", 0L));
            }
            b.AddOutput(output, Batched("KB", plan.KeptShape));
        }

        /// <summary>Where(x = 0, 0, F) summed over the trailing axes: three passes over the input, valid for any values.</summary>
        private static string EmitIndicatorCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            string zero = b.Scalar(0f);
            string isZero = b.Node("Equal", new[] { input, zero });
            string fanOut = plan.FanOut == null ? b.Scalar(1f) : b.Initializer("fanout", plan.InputShape, plan.FanOut);
            string events = b.Node("Where", new[] { isZero, zero, fanOut });
            int rank = plan.InputShape.Length;
            long[] axes = Enumerable.Range(rank - plan.ReducedAxes + 1, plan.ReducedAxes).Select(a => (long)a).ToArray();
            return b.Node("ReduceSum", new[] { events, b.Ints(axes) }, output, Attr("keepdims", 0L));
        }

        /// <summary>
        /// Spikes x ∈ {0, θ_c}: per channel Round(Σ_hw (f_h ⊗ f_w)·x / θ_c) = Σ_hw F/g over the spiking elements,
        /// by one read-only MatMul over each channel's H·W values; [K·B, C], times g (out channels per group) on the host.
        /// </summary>
        private static string EmitSpikeChannelCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            int channels = plan.InputShape[0];
            int height = plan.InputShape[1];
            int width = plan.InputShape[2];
            float[] fh = plan.RowFanOut!;
            float[] fw = plan.ColumnFanOut!;
            var weights = new float[height * width];
            for (int h = 0; h < height; h++)
            {
                for (int w = 0; w < width; w++)
                {
                    weights[h * width + w] = fh[h] * fw[w];
                }
            }
            string flat = b.Node("Reshape", new[] { input, b.Ints(-1, (long)height * width) });
            string sums = b.Node("MatMul", new[] { flat, b.Initializer("fanout_hw", new[] { height * width, 1 }, weights) });
            string perChannel = b.Node("Reshape", new[] { sums, b.Ints(-1, channels) });
            string counts = b.Node("Div", new[] { perChannel, b.Initializer("theta_c", new[] { channels }, plan.Thresholds!) });
            return b.Node("Round", new[] { counts }, output);
        }

        /// <summary>
        /// Spikes x ∈ {0, θ_c} on maps too large for <see cref="EmitSpikeChannelCount"/>: per row
        /// Round(Σ_w f_w·x / θ_c), then Σ_h f_h·(row count) by a MatMul on the small [K·B, C, H] result.
        /// </summary>
        private static string EmitSpikeRowCount(OnnxGraphBuilder b, SynapticLayerPlan plan, string input, string? output)
        {
            int channels = plan.InputShape[0];
            int height = plan.InputShape[1];
            int width = plan.InputShape[2];
            string flat = b.Node("Reshape", new[] { input, b.Ints(-1, width) });
            string rowSums = b.Node("MatMul", new[] { flat, b.Initializer("fanout_w", new[] { width, 1 }, plan.ColumnFanOut!) });
            string rows = b.Node("Reshape", new[] { rowSums, b.Ints(-1, channels, height) });
            string counts = b.Node("Div", new[] { rows, b.Initializer("theta_c", new[] { channels, 1 }, plan.Thresholds!) });
            string rounded = b.Node("Round", new[] { counts });
            string perChannel = b.Node("MatMul", new[] { rounded, b.Initializer("fanout_h", new[] { height, 1 }, plan.RowFanOut!) });
            return b.Node("Reshape", new[] { perChannel, b.Ints(-1, channels) }, output);
        }

        /// <summary>
        /// IF neuron over K steps (algorithms.md §1.1 step 4): m = v + I[t]; s = m ≥ θ; x[t] = s·θ;
        /// v = m − s·θ (or v = m·(1 − s) for reset to zero). Also emits the spike count per sample and step.
        /// </summary>
        private static string EmitIfNeuron(OnnxGraphBuilder b, IfNeuronLayer neuron, int[] shape, string input, bool varying, int steps, int index)
        {
            string theta = neuron.Threshold.Length == 1
                ? b.Scalar(neuron.Threshold[0])
                : b.Initializer("theta", LayerEmitter.ChannelShape(neuron.Threshold.Length, shape.Length), neuron.Threshold);
            string zero = b.Scalar(0f);
            string[] currents = varying && steps > 1
                ? b.NodeMulti("Split", new[] { input }, Enumerable.Range(0, steps).Select(t => b.Fresh($"i{index}_t{t}")).ToArray(), Attr("num_outputs", (long)steps))
                : Enumerable.Repeat(input, steps).ToArray();
            string v = StateInput(index);
            var outputs = new string[steps];
            for (int t = 0; t < steps; t++)
            {
                string m = b.Node("Add", new[] { v, currents[t] });
                string fire = b.Node("GreaterOrEqual", new[] { m, theta });
                outputs[t] = b.Node("Where", new[] { fire, theta, zero });
                v = neuron.Reset == ResetMode.Subtract
                    ? b.Node("Sub", new[] { m, outputs[t] })
                    : b.Node("Where", new[] { fire, zero, m });
            }
            b.Node("Identity", new[] { v }, StateOutput(index));
            b.AddOutput(StateOutput(index), SymbolicState(index, shape.Length));
            string all = steps == 1 ? outputs[0] : b.Node("Concat", outputs, null, Attr("axis", 0L));

            // Spike counts once per chunk: every emitted value is θ of its channel, so the count is
            // Σ_c (Σ_spatial out[c]) / θ[c]. The host rounds the result to the nearest integer.
            string countName = SpikeOutput(index);
            if (shape.Length > 1)
            {
                string spatialAxes = b.Ints(Enumerable.Range(2, shape.Length - 1).Select(a => (long)a).ToArray());
                string perChannel = b.Node("ReduceSum", new[] { all, spatialAxes }, null, Attr("keepdims", 0L));
                string thetaVector = neuron.Threshold.Length == 1 ? theta : b.Initializer("theta_c", new[] { neuron.Threshold.Length }, neuron.Threshold);
                string spikes = b.Node("Div", new[] { perChannel, thetaVector });
                b.Node("ReduceSum", new[] { spikes, b.Ints(1) }, countName, Attr("keepdims", 0L));
            }
            else
            {
                string thetaVector = neuron.Threshold.Length == 1 ? theta : b.Initializer("theta_c", new[] { neuron.Threshold.Length }, neuron.Threshold);
                string spikes = b.Node("Div", new[] { all, thetaVector });
                b.Node("ReduceSum", new[] { spikes, b.Ints(1) }, countName, Attr("keepdims", 0L));
            }
            b.AddOutput(countName, new[] { "KB" });
            return all;
        }
    }
}
