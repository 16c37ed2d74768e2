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
    /// One state tensor the chunk graph carries from call to call: its graph input and output names, its
    /// per-sample shape and its value before step 1 (per sample; the simulator repeats it for every sample).
    /// <paramref name="HwcChannels"/> &gt; 0 marks a state laid out [H, W, padded channels] (the fused spiking
    /// convolution's) that holds that many channels; the simulator reports it as [C, H, W] like the others.
    /// <paramref name="Fed"/> is false where the chunk leaves the input out (it starts the run and its kernel forms the
    /// initial value itself), <paramref name="Written"/> false where it leaves the output out (nothing reads the final state).
    /// </summary>
    internal sealed record StateSpec(string Input, string Output, int[] Shape, float[] Initial, int HwcChannels = 0, bool Fed = true, bool Written = true);

    /// <summary>
    /// The node input and output of a state held by a kernel (<see cref="ChunkContext.KernelState"/>): empty where the
    /// chunk leaves them out. The default is a state the node does not have.
    /// </summary>
    internal readonly record struct KernelStateSlot(string Input, string Output)
    {
        /// <summary>No state: both names empty.</summary>
        public static KernelStateSlot None => new KernelStateSlot(string.Empty, string.Empty);
    }

    /// <summary>
    /// What the emitters of stateful units share while one chunk graph is built: the graph, K, the coding, the
    /// per-step scalars of differential coding (t, 1/t and the step-1 indicator, from the <c>step_offset</c> input)
    /// and the list of state tensors.
    /// </summary>
    internal sealed class ChunkContext
    {
        public const string StepOffsetName = "step_offset";

        private readonly List<StateSpec> _states = new List<StateSpec>();
        private string[]? _step;
        private string[]? _inverseStep;
        private string[]? _isFirst;

        /// <param name="builder">The graph being built.</param>
        /// <param name="network">The network.</param>
        /// <param name="steps">K, the steps of the chunk.</param>
        /// <param name="differential">Differential coding (the chunk gets a step_offset input).</param>
        /// <param name="startsRun">The chunk is the first of its run: kernel-held states start from their initial values without inputs.</param>
        /// <param name="finalStateRead">Something reads the chunk's final states (a later chunk, or the caller): without it kernel-held states have no outputs.</param>
        public ChunkContext(OnnxGraphBuilder builder, Network network, int steps, bool differential, bool startsRun = false, bool finalStateRead = true)
        {
            Builder = builder;
            Network = network;
            Steps = steps;
            Differential = differential;
            StartsRun = startsRun;
            FinalStateRead = finalStateRead;
            if (differential)
            {
                builder.AddInput(StepOffsetName, new string?[] { "1" });
            }
        }

        public OnnxGraphBuilder Builder { get; }

        public Network Network { get; }

        public int Steps { get; }

        public bool Differential { get; }

        /// <summary>The chunk is the first of its run (see <see cref="KernelState"/>).</summary>
        public bool StartsRun { get; }

        /// <summary>Something reads the chunk's final states (see <see cref="KernelState"/>).</summary>
        public bool FinalStateRead { get; }

        public IReadOnlyList<StateSpec> States => _states;

        /// <summary>t of unrolled step k (a [1] tensor): step_offset + k + 1.</summary>
        public string Step(int k)
        {
            EnsureSteps();
            return _step![k];
        }

        /// <summary>1/t of unrolled step k.</summary>
        public string InverseStep(int k)
        {
            EnsureSteps();
            return _inverseStep![k];
        }

        /// <summary>1 when unrolled step k is step 1 of the simulation, else 0.</summary>
        public string IsFirst(int k)
        {
            EnsureSteps();
            return _isFirst![k];
        }

        /// <summary>Declares a state tensor and returns its graph input name; <see cref="EndState"/> names its final value.</summary>
        public string BeginState(string hint, int[] shape, float[] initial, int hwcChannels = 0) => BeginState(hint, shape, initial, hwcChannels, fed: true, written: true);

        private string BeginState(string hint, int[] shape, float[] initial, int hwcChannels, bool fed, bool written)
        {
            int index = _states.Count;
            string input = $"state_in_{index}";
            string output = $"state_out_{index}";
            if (initial.Length != ShapeUtil.Size(shape))
            {
                throw new InvalidOperationException($"State {index} ({hint}) has {initial.Length} initial values for shape {ShapeUtil.Format(shape)}.");
            }
            _states.Add(new StateSpec(input, output, shape, initial, hwcChannels, fed, written));
            // Per-sample dims stay symbolic: ONNX's static shape inference and ONNX Runtime's kernels disagree
            // on some ceil_mode pooling sizes, and a fixed declaration would make the session refuse to load.
            if (fed)
            {
                Builder.AddInput(input, SymbolicState(index, shape.Length));
            }
            return input;
        }

        /// <summary>
        /// Declares a state held by a kernel that takes an absent state input as the state's initial value (which must then
        /// be <paramref name="initial"/>: the kernel forms it from its own inputs) and writes no absent state output. In a chunk
        /// that <see cref="StartsRun"/> the state has no graph input, in one whose final state nobody reads
        /// (<see cref="FinalStateRead"/> false) no graph output: neither the copy of the initial values nor the state's
        /// reads and writes are paid.
        /// </summary>
        public KernelStateSlot KernelState(string hint, int[] shape, float[] initial, int hwcChannels = 0)
        {
            string input = BeginState(hint, shape, initial, hwcChannels, fed: !StartsRun, written: FinalStateRead);
            return new KernelStateSlot(StartsRun ? string.Empty : input, FinalStateRead ? StateOutput(input) : string.Empty);
        }

        public void EndState(string input, string finalValue)
        {
            Builder.Node("Identity", new[] { finalValue }, StateOutput(input));
        }

        /// <summary>Declares the graph output of a state and returns its name, for a node that writes the final value itself.</summary>
        public string StateOutput(string input)
        {
            StateSpec spec = _states.Single(s => s.Input == input);
            int index = _states.IndexOf(spec);
            Builder.AddOutput(spec.Output, SymbolicState(index, spec.Shape.Length));
            return spec.Output;
        }

        /// <summary>Splits a time-varying [K·B, ...] value into its K steps, or repeats a constant [B, ...] one.</summary>
        public string[] PerStep(string value, bool varying, string hint)
        {
            return varying && Steps > 1
                ? Builder.NodeMulti("Split", new[] { value }, Enumerable.Range(0, Steps).Select(t => Builder.Fresh($"{hint}_t{t}")).ToArray(), Attr("num_outputs", (long)Steps))
                : Enumerable.Repeat(value, Steps).ToArray();
        }

        /// <summary>
        /// The differential input d[t] = x[t] − bias of a stateful unit at every step of the chunk. A constant input
        /// [B, ...] is the value at step 1 (the image is presented once); later steps see the step-0 value, so d = 0.
        /// </summary>
        public string[] Differences(string value, bool varying, float[]? bias, int[] shape, string hint)
        {
            string? b = bias == null ? null : Builder.Initializer(hint + "_bias", shape, bias);
            if (varying)
            {
                return PerStep(value, true, hint).Select(x => b == null ? x : Builder.Node("Sub", new[] { x, b })).ToArray();
            }
            string once = b == null ? value : Builder.Node("Sub", new[] { value, b });
            return Enumerable.Range(0, Steps).Select(k => Builder.Node("Mul", new[] { once, IsFirst(k) })).ToArray();
        }

        /// <summary>Concatenates per-step [B, ...] values to [K·B, ...].</summary>
        public string Concat(IReadOnlyList<string> values) =>
            values.Count == 1 ? values[0] : Builder.Node("Concat", values, null, Attr("axis", 0L));

        /// <summary>Per-sample values of a threshold-like vector (one, per channel or per neuron) broadcast to the full shape.</summary>
        public static float[] Expand(float[] values, int[] shape, float scale = 1f)
        {
            int size = ShapeUtil.Size(shape);
            var result = new float[size];
            int perChannel = shape.Length == 0 ? 1 : size / Math.Max(1, shape[0]);
            for (int i = 0; i < size; i++)
            {
                float v = values.Length == 1 ? values[0] : values.Length == size ? values[i] : values[i / perChannel];
                result[i] = v * scale;
            }
            return result;
        }

        /// <summary>An initializer holding a threshold-like vector in a shape that broadcasts against [B, shape...].</summary>
        public string Broadcastable(string hint, float[] values, int[] shape)
        {
            if (values.Length == 1)
            {
                return Builder.Initializer(hint, Array.Empty<int>(), values);
            }
            if (values.Length == ShapeUtil.Size(shape))
            {
                return Builder.Initializer(hint, shape, values);
            }
            return Builder.Initializer(hint, LayerEmitter.ChannelShape(values.Length, shape.Length), values);
        }

        private static IEnumerable<string?> SymbolicState(int index, int rank) =>
            new[] { "B" }.Concat(Enumerable.Range(0, rank).Select(d => (string?)$"s{index}_d{d}"));

        private void EnsureSteps()
        {
            if (_step != null)
            {
                return;
            }
            if (!Differential)
            {
                throw new InvalidOperationException("Per-step scalars exist only in a differential-coding chunk graph.");
            }
            _step = new string[Steps];
            _inverseStep = new string[Steps];
            _isFirst = new string[Steps];
            string one = Builder.Scalar(1f);
            for (int k = 0; k < Steps; k++)
            {
                _step[k] = Builder.Node("Add", new[] { StepOffsetName, Builder.Scalar(k + 1) });
                _inverseStep[k] = Builder.Node("Reciprocal", new[] { _step[k] });
                _isFirst[k] = Builder.Node("Cast", new[] { Builder.Node("Equal", new[] { _step[k], one }) }, null, Attr("to", 1L));
            }
        }
    }
}
