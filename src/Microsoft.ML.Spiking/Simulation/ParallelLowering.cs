// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// The parallel neuron in <see cref="BlockLowering"/> (algorithms.md §3.2): each layer's block of T steps is computed at
    /// once, with no sequential loop over t. The next layer integrates Σ_t (W·s[t]·A + b) = T·(W·r + b) with r = A·N/T, so
    /// values are the mean rates; N = clip(floor((T·z + ψ)/θ), 0, T) is computed as floor(z/θ·T + ψ/θ), which for
    /// ψ = θ/2 is exactly the QCFS activation's op order (x/λ·L + ½), so T = L reproduces a QCFS ANN bit for bit. The
    /// spike at step t is N ≥ t (first steps) or N ≥ T − t + 1 (last steps); max-pooling of sorted trains is the train of
    /// the largest N. The image is presented at every step; the read-out is the output layer's value at each step.
    /// </summary>
    internal sealed class ParallelLowering : IBlockNeuronEmitter
    {
        private readonly bool _nativeCounts;

        private ParallelLowering(bool nativeCounts)
        {
            _nativeCounts = nativeCounts;
        }

        public bool AnalogInputEveryStep => true;

        public bool ReadoutIsCumulative => false;

        public bool CountsFromLevels => _nativeCounts;

        /// <summary>The graph of a parallel network's T steps (<see cref="BlockLowering"/>).</summary>
        /// <param name="snn">The network.</param>
        /// <param name="steps">T.</param>
        /// <param name="synapticLayers">The synaptic-operation plans, or null to count none.</param>
        /// <param name="timeVaryingInput">The input is [T·B, ...], a different one at every step.</param>
        /// <param name="nativeCounts">Count spikes and synaptic operations from the counts N with the native <c>TrainCounts</c> operator (registered in the session) instead of building T spike planes.</param>
        public static SnnChunkGraph Build(SpikingNetwork snn, int steps, IReadOnlyList<SynapticLayerPlan>? synapticLayers, bool timeVaryingInput, bool nativeCounts = false) =>
            BlockLowering.Build(snn, steps, synapticLayers, new ParallelLowering(nativeCounts), timeVaryingInput);

        public bool Handles(Layer layer) => layer is ParallelNeuronLayer;

        public BlockNeuronOutput Emit(OnnxGraphBuilder b, Network network, SpikingNeuronLayer layer, int[] shape, string input, int steps, int index)
        {
            var neuron = (ParallelNeuronLayer)layer;
            string Vector(string hint, float[] values) => values.Length == 1
                ? b.Scalar(values[0])
                : b.Initializer(hint, LayerEmitter.ChannelShape(values.Length, shape.Length), values);
            string theta = Vector("theta", neuron.Threshold);
            string amplitude = Vector("amplitude", neuron.Amplitude);
            // ψ/θ = ½ + T·ψ_DA/θ: exactly ½ without calibration.
            float[] shift = neuron.Threshold.Select((t, c) => (float)(0.5 + steps * (double)neuron.StepShift[c] / t)).ToArray();
            string u = b.Node("Add", new[] { b.Node("Mul", new[] { b.Node("Div", new[] { input, theta }), b.Scalar(steps) }), Vector("shift", shift) });
            string count = b.Node("Clip", new[] { b.Node("Floor", new[] { u }), b.Scalar(0f), b.Scalar(steps) });
            string value = b.Node("Mul", new[] { b.Node("Div", new[] { count, b.Scalar(steps) }), amplitude });
            string? planes = null;
            string Planes() => planes ??= Trains(b, count, shape, steps, neuron.Order);
            return new BlockNeuronOutput(value, Planes, () => b.Node("Mul", new[] { Planes(), amplitude }), count);
        }

        /// <summary>Max over sorted trains: the train of the largest count, which is the max-pool of the trains.</summary>
        public string PooledPlanes(OnnxGraphBuilder b, string pooledLevel, Func<string> pooledInputPlanes, int steps) => pooledInputPlanes();

        /// <summary>
        /// With native counts: <c>TrainCounts</c> over the counts N [B, C, ...] (one pass per sample and channel, a histogram
        /// of N weighted by f_h·f_w). A max-pool's level is the count of the pooled trains (the train of the largest N).
        /// </summary>
        public string? TrainCounts(OnnxGraphBuilder b, SpikingNeuronLayer neuron, string level, int steps, float[]? rowFanOut, float[]? columnFanOut, string? output)
        {
            if (!_nativeCounts || neuron is not ParallelNeuronLayer parallel)
            {
                return null;
            }
            string result = output ?? b.Fresh("train_counts");
            var inputs = new List<string> { level };
            if (rowFanOut != null && columnFanOut != null)
            {
                inputs.Add(b.Initializer("fan_h", new[] { rowFanOut.Length }, rowFanOut));
                inputs.Add(b.Initializer("fan_w", new[] { columnFanOut.Length }, columnFanOut));
            }
            b.CustomNode(NativeKernels.Domain, "TrainCounts", inputs, new[] { result }, Attr("steps", (long)steps), Attr("last", parallel.Order == SpikeOrder.LastSteps ? 1L : 0L));
            return result;
        }

        /// <summary>
        /// The spike trains [T·B, ...] of counts N [B, ...]: step t (1-based) fires iff N ≥ t (first steps) or N ≥ T − t + 1
        /// (last steps). One comparison of the counts with the steps' thresholds [T, 1, …] broadcast to [T, B, ...], then a
        /// reshape: no node per step and no concatenation copy.
        /// </summary>
        private static string Trains(OnnxGraphBuilder b, string count, int[] shape, int steps, SpikeOrder order)
        {
            float[] needed = Enumerable.Range(1, steps).Select(t => (float)(order == SpikeOrder.FirstSteps ? t : steps - t + 1)).ToArray();
            if (steps == 1)
            {
                return b.Node("Cast", new[] { b.Node("GreaterOrEqual", new[] { count, b.Scalar(needed[0]) }) }, null, Attr("to", 1L));
            }
            string thresholds = b.Initializer("train_steps", new[] { steps }.Concat(Enumerable.Repeat(1, shape.Length + 1)).ToArray(), needed);
            string trains = b.Node("Cast", new[] { b.Node("GreaterOrEqual", new[] { count, thresholds }) }, null, Attr("to", 1L));
            return b.Node("Reshape", new[] { trains, b.Ints(new long[] { -1 }.Concat(shape.Select(d => (long)d)).ToArray()) });
        }
    }
}
