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
    /// </summary>
    internal static class SnnGraphBuilder
    {
        public const string InputName = "input";
        public const string OutputName = "output_steps";

        public static string StateInput(int neuron) => $"state_in_{neuron}";

        public static string StateOutput(int neuron) => $"state_out_{neuron}";

        public static string SpikeOutput(int neuron) => $"spikes_{neuron}";

        /// <summary>Builds the chunk graph.</summary>
        /// <param name="network">The spiking network (IR with neuron layers).</param>
        /// <param name="steps">K, the steps in one chunk.</param>
        /// <param name="timeVaryingInput">True when the input is given per step as [K·B, ...]; false for a constant input [B, ...].</param>
        public static byte[] Build(Network network, int steps, bool timeVaryingInput)
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
                    b.AddInput(StateInput(neuronIndex), Batched("B", shape));
                    (string name, bool varying) = values[neuron.Inputs[0]];
                    string output = EmitIfNeuron(b, neuron, shape, name, varying, steps, neuronIndex);
                    values[neuron.Output] = (output, true);
                    neuronIndex++;
                    continue;
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
            b.AddOutput(StateOutput(index), Batched("B", shape));
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
