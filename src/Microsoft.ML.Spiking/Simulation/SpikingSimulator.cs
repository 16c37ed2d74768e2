// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>How a spiking network is simulated.</summary>
    public sealed class SimulationOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public SimulationOptions()
        {
            TimeSteps = 32;
            MemoryBudgetBytes = 512L << 20;
            Execution = new ExecutionOptions();
            CountSynapticOperations = true;
            UseNativeKernels = true;
            PackSpikes = true;
        }

        /// <summary>T, the number of time steps (default 32).</summary>
        public int TimeSteps { get; set; }

        /// <summary>
        /// Steps simulated per ONNX Runtime call; 0 (default) picks the most that fit <see cref="MemoryBudgetBytes"/>, at most
        /// <see cref="SpikingSimulator.MaxAutomaticChunkSteps"/>. Bit-serial and parallel networks always run their whole block of T
        /// steps in one call (<see cref="Conversion.SpikingNetwork.SimulatesWholeBlock"/>); a batch whose block would not fit
        /// <see cref="MemoryBudgetBytes"/> is simulated in parts of fewer samples instead.
        /// </summary>
        public int ChunkSteps { get; set; }

        /// <summary>Activation memory one chunk may use, for the automatic chunk length (default 512 MiB; on ResNet-20 at batch 64 that is 16 steps, and T = 1024 peaks at 2.5 GiB and runs faster than with 1 GiB).</summary>
        public long MemoryBudgetBytes { get; set; }

        /// <summary>Where ONNX Runtime runs.</summary>
        public ExecutionOptions Execution { get; set; }

        /// <summary>
        /// Count the synaptic operations of every convolution and dense layer at every step (algorithms.md §2.12;
        /// see <see cref="SimulationResult.GetSynapticOperations"/>). Default true. A convolution reading spikes is
        /// counted with one read-only pass over its input (on the CPU); other layers, and every layer on a GPU, with
        /// three (compare with zero, select the fan-out, sum). Turn it off when only accuracy is wanted.
        /// </summary>
        public bool CountSynapticOperations { get; set; }

        /// <summary>
        /// Run IF and multi-threshold neurons with the fused kernels (a C++ ONNX Runtime custom-op library the build
        /// compiles on Linux x64 where g++ is installed) when they are available and the simulation runs on the CPU.
        /// Default true. The neuron kernels give results identical to the standard-op lowering, which is used otherwise
        /// (and always for ONNX export); with <see cref="PackSpikes"/> the convolutions of spikes run packed and agree
        /// with it to float rounding. False, or the environment variable <c>SPIKING_NATIVE_KERNELS=0</c>, forces the standard ops.
        /// <see cref="SpikingSimulator.UsesNativeKernels"/> says which one runs and
        /// <see cref="SpikingSimulator.NativeKernelStatus"/> why.
        /// </summary>
        public bool UseNativeKernels { get; set; }

        /// <summary>
        /// With <see cref="UseNativeKernels"/>: pass spikes between layers packed and run every convolution of spikes fused with
        /// the neuron it drives (residual additions included). Rate coding: IF spikes as bits, the convolution as a table of
        /// partial sums per tap and group of four input channels. Differential coding: multi-threshold spikes (at most 7
        /// levels) as 4-bit codes, the convolution visiting only the non-zero codes. Default true. The fused convolutions add
        /// their terms in another order than ONNX Runtime's dense ones, so membrane potentials agree with the standard lowering
        /// to float rounding and a neuron whose potential lands within rounding of a threshold may fire one step earlier or
        /// later; false keeps the dense convolutions (and the standard lowering's exact float results).
        /// <see cref="SpikingSimulator.PacksSpikes"/> says whether it applies.
        /// </summary>
        public bool PackSpikes { get; set; }

        /// <summary>Keep a copy of the final membranes in every result (<see cref="SimulationResult.FinalMembranes"/>; tests read them).</summary>
        internal bool KeepFinalMembranes { get; set; }

        /// <summary>With <see cref="PackSpikes"/>: run the portable builds of the fused-convolution and multi-threshold neuron kernels even where AVX-512 is available (tests compare the two).</summary>
        internal bool PortableBitKernels { get; set; }

        /// <summary>With <see cref="PackSpikes"/>: the budget of a differential node's scaled row tables (<see cref="BitPackedPlan.MaxScaledTableBytes"/>; tests set 0 or more to run either form).</summary>
        internal long ScaledTableBytes { get; set; } = BitPackedPlan.MaxScaledTableBytes;

        /// <summary>Count every layer with the generic indicator graph, as on a GPU (tests compare it with the CPU's MatMul counting).</summary>
        internal bool IndicatorCountingOnly { get; set; }

        /// <summary>
        /// With <see cref="UseNativeKernels"/>: run IF neurons with the fused kernel too. Off by default: in the benchmark the IF
        /// kernel was no faster than the standard ops (ResNet-20, T = 8: 0.33 against 0.35 efficiency; the demo CNN 0.15 against
        /// 0.25), since ONNX Runtime converts each neuron's input and output out of and back into its blocked convolution layout,
        /// while the multi-threshold kernel was 3× faster. Tests turn it on to check the kernel against the standard ops.
        /// </summary>
        internal bool FuseIfNeurons { get; set; }
    }

    /// <summary>
    /// Simulates a spiking network with ONNX Runtime. Long runs are cut into chunks of steps that carry
    /// the neuron membranes from one call to the next, so memory is bounded whatever T is. One simulator
    /// serves any number of batches; it is not safe to call from several threads at once.
    /// </summary>
    public sealed partial class SpikingSimulator : IDisposable
    {
        /// <summary>Working tensors alive per sample-step, relative to the largest activation (measured on ResNet-20, rounded up).</summary>
        private const int LiveTensorFactor = 8;

        /// <summary>
        /// Longest automatic chunk. The chunk graph unrolls the neuron dynamics, so its size (and ONNX Runtime's
        /// session-creation time) grows with the chunk; past a few dozen steps a longer chunk gains nothing.
        /// </summary>
        public const int MaxAutomaticChunkSteps = 32;

        /// <summary>
        /// Most nodes an automatic chunk graph may have. ONNX Runtime's allocation planner takes time quadratic in the
        /// node count (a ViT's 8-step chunk of 6,500 nodes took 38 s to plan, its 2-step chunk 3 s, at the same speed
        /// per image), so networks with many neurons per step get shorter chunks.
        /// </summary>
        public const int MaxAutomaticChunkNodes = 2500;

        private readonly SpikingNetwork _network;
        private readonly SimulationOptions _options;
        private readonly Dictionary<(int Steps, bool Varying, bool Count, bool Whole), (OnnxSession Session, SnnChunkGraph Graph)> _sessions;
        private readonly bool _inputPerStep;
        private readonly IReadOnlyList<SynapticLayerPlan> _synapticLayers;
        private readonly int _inputSize;
        private readonly int _outputSize;
        private readonly bool _fused;
        private readonly BitPacking _packing;
        private readonly bool _trainCounts;
        private (int Fixed, int PerStep)? _chunkNodes;
        private (int BatchSize, StateBuffers Buffers)? _stateBuffers;
        private readonly bool _allocatedOutputs;
        private bool _disposed;

        /// <summary>Creates a simulator.</summary>
        /// <param name="network">The converted network.</param>
        /// <param name="options">Simulation options.</param>
        public SpikingSimulator(SpikingNetwork network, SimulationOptions options)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            if (options.TimeSteps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.TimeSteps, "TimeSteps must be at least 1.");
            }
            if (options.ChunkSteps < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.ChunkSteps, "ChunkSteps must be 0 (automatic) or positive.");
            }
            if (network.FixedTimeSteps is int fixedSteps && options.TimeSteps != fixedSteps)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.TimeSteps, $"The {network.Method} network sends {fixedSteps} bits per activation; simulate it with TimeSteps = {fixedSteps}.");
            }
            _network = network;
            _options = options;
            _sessions = new Dictionary<(int, bool, bool, bool), (OnnxSession, SnnChunkGraph)>();
            _inputPerStep = SnnGraphBuilder.RequiresInputPerStep(network);
            _synapticLayers = SynapticCounting.Plan(network.Network, spikeModes: options.Execution?.GpuDeviceId == null && !options.IndicatorCountingOnly);
            _inputSize = ShapeUtil.Size(network.Network.InputShape);
            _outputSize = ShapeUtil.Size(network.Network.OutputShape);
            _fused = options.UseNativeKernels && options.Execution?.GpuDeviceId == null && !network.SimulatesWholeBlock
                && network.Network.Layers.Any(l => FusedNeuronEmitters.Supports(l, network.IsDifferential, options.FuseIfNeurons)) && NativeKernels.IsAvailable;
            bool packs = options.UseNativeKernels && options.PackSpikes && options.Execution?.GpuDeviceId == null && !network.SimulatesWholeBlock
                && !options.IndicatorCountingOnly && NativeKernels.IsAvailable && BitPackedPlan.Create(network.Network, network.IsDifferential) != null;
            _packing = !packs ? BitPacking.None : options.PortableBitKernels ? BitPacking.Portable : BitPacking.Native;
            // A parallel network counts its spikes and synaptic operations from its neurons' counts N (TrainCounts), not
            // from T spike planes per layer.
            _trainCounts = options.UseNativeKernels && options.Execution?.GpuDeviceId == null && network.Method == ConversionMethod.Parallel
                && !options.IndicatorCountingOnly && NativeKernels.IsAvailable;
            _allocatedOutputs = network.Network.Layers.Any(l => l is PoolLayer { CeilMode: true });
        }

        /// <summary>The network being simulated.</summary>
        public SpikingNetwork Network => _network;

        /// <summary>True when this simulator runs its IF or multi-threshold neurons with the fused kernels, false when with standard ONNX ops.</summary>
        public bool UsesNativeKernels => _fused || _packing != BitPacking.None;

        /// <summary>True when this simulator passes spikes packed and fuses convolutions with the neurons they drive (<see cref="SimulationOptions.PackSpikes"/>).</summary>
        public bool PacksSpikes => _packing != BitPacking.None;

        /// <summary>Whether the fused neuron kernels are available in this process: where they were loaded from, or why not.</summary>
        public static string NativeKernelStatus => NativeKernels.Status;

        /// <summary>What every result of this simulator shares: T, the neuron layers and the counted synaptic layers.</summary>
        internal Evaluation.SimulationLayout Layout => new Evaluation.SimulationLayout(
            _options.TimeSteps,
            _network.NeuronLayers.Select(n => n.Name).ToArray(),
            _network.NeuronCounts.ToArray(),
            _synapticLayers.Select(p => p.Name).ToArray(),
            _synapticLayers.Select(p => p.DenseMacs).ToArray(),
            _options.CountSynapticOperations);

        /// <summary>Steps per ONNX Runtime call for a batch of the given size.</summary>
        /// <param name="batchSize">Samples per batch.</param>
        public int GetChunkSteps(int batchSize)
        {
            if (_network.SimulatesWholeBlock)
            {
                return _options.TimeSteps;
            }
            if (_options.ChunkSteps > 0)
            {
                return Math.Min(_options.ChunkSteps, _options.TimeSteps);
            }
            long largest = _network.Network.Layers.Max(l => ShapeUtil.Product(_network.Network.GetShape(l.Output)));
            long perStep = Math.Max(1, largest * sizeof(float) * LiveTensorFactor * batchSize);
            int steps = (int)Math.Clamp(_options.MemoryBudgetBytes / perStep, 1, Math.Min(MaxAutomaticChunkSteps, _options.TimeSteps));
            if (steps > 1)
            {
                (int fixedNodes, int perStepNodes) = ChunkNodes();
                steps = Math.Clamp((MaxAutomaticChunkNodes - fixedNodes) / Math.Max(1, perStepNodes), 1, steps);
            }
            return steps;
        }

        /// <summary>Nodes of a chunk graph: those built once, and those unrolled per step (from the 1- and 2-step graphs).</summary>
        private (int Fixed, int PerStep) ChunkNodes()
        {
            if (_chunkNodes == null)
            {
                IReadOnlyList<SynapticLayerPlan>? counted = _options.CountSynapticOperations ? _synapticLayers : null;
                int one = SnnGraphBuilder.Build(_network, 1, _inputPerStep, counted, _fused, _options.FuseIfNeurons, _packing, _options.ScaledTableBytes).NodeCount;
                int two = SnnGraphBuilder.Build(_network, 2, _inputPerStep, counted, _fused, _options.FuseIfNeurons, _packing, _options.ScaledTableBytes).NodeCount;
                _chunkNodes = (Math.Max(0, 2 * one - two), Math.Max(1, two - one));
            }
            return _chunkNodes.Value;
        }

        /// <summary>Simulates T steps with the input presented as a constant current at every step (direct encoding).</summary>
        /// <param name="inputs">Samples, each of the network's input size, back to back.</param>
        /// <param name="batchSize">Number of samples.</param>
        /// <returns>Step outputs, running estimates and spike counts.</returns>
        public SimulationResult Run(float[] inputs, int batchSize)
        {
            CheckInput(inputs, batchSize, 1);
            return Simulate(inputs, batchSize, varying: false);
        }

        /// <summary>Simulates with a different input at every step (event data, or tests of the neuron dynamics).</summary>
        /// <param name="inputsPerStep">Inputs laid out [T, B, input...]: step-major.</param>
        /// <param name="batchSize">Number of samples B.</param>
        /// <returns>Step outputs, running estimates and spike counts.</returns>
        public SimulationResult RunSequence(float[] inputsPerStep, int batchSize)
        {
            CheckInput(inputsPerStep, batchSize, _options.TimeSteps);
            return Simulate(inputsPerStep, batchSize, varying: true);
        }

        private void CheckInput(float[] inputs, int batchSize, int steps)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentNullException.ThrowIfNull(inputs, nameof(inputs));
            if (batchSize < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch needs at least one sample.");
            }
            long expected = (long)steps * batchSize * _inputSize;
            if (inputs.Length != expected)
            {
                throw new ArgumentException($"Expected {expected} input values ({steps} step(s) x {batchSize} samples x {_inputSize} per sample [{string.Join(",", _network.Network.InputShape)}]); got {inputs.Length}.", nameof(inputs));
            }
        }

        private SimulationResult Simulate(float[] inputs, int batchSize, bool varying)
        {
            int rows = BlockRows(batchSize);
            Raw raw = rows >= batchSize ? SimulateRaw(inputs, batchSize, varying) : SimulateInParts(inputs, batchSize, varying, rows);
            return new SimulationResult(_options.TimeSteps, batchSize, _outputSize, raw.StepOutputs, raw.Spikes, _network.NeuronLayers.Select(n => n.Name).ToList(), _network.NeuronCounts, raw.States,
                _synapticLayers.Select(p => p.Name).ToList(), _synapticLayers.Select(p => p.DenseMacs).ToList(), raw.SynapticOperations, raw.OutputsAreEstimates);
        }

        /// <summary>What one simulation call leaves, laid out step-major as <see cref="SimulationResult"/> expects.</summary>
        private sealed record Raw(float[] StepOutputs, long[] Spikes, long[]? SynapticOperations, Func<float[][]> States, bool OutputsAreEstimates);

        /// <summary>
        /// Samples per call for a network that runs its whole T-step block in one call: the most whose block fits
        /// <see cref="SimulationOptions.MemoryBudgetBytes"/> (at least 1). Other networks bound memory by their chunk length instead.
        /// </summary>
        private int BlockRows(int batchSize)
        {
            if (!_network.SimulatesWholeBlock)
            {
                return batchSize;
            }
            long largest = _network.Network.Layers.Max(l => ShapeUtil.Product(_network.Network.GetShape(l.Output)));
            long perSample = Math.Max(1, largest * sizeof(float) * LiveTensorFactor * _options.TimeSteps);
            return (int)Math.Clamp(_options.MemoryBudgetBytes / perSample, 1, batchSize);
        }

        /// <summary>Simulates a whole-block network in parts of <paramref name="rows"/> samples and puts the results back together.</summary>
        private Raw SimulateInParts(float[] inputs, int batchSize, bool varying, int rows)
        {
            int total = _options.TimeSteps;
            int layers = _network.NeuronLayers.Count;
            var stepOutputs = new float[(long)total * batchSize * _outputSize];
            var spikes = new long[(long)layers * total * batchSize];
            long[]? synapticOperations = _options.CountSynapticOperations ? new long[(long)_synapticLayers.Count * total * batchSize] : null;
            bool estimates = false;
            for (int start = 0; start < batchSize; start += rows)
            {
                int n = Math.Min(rows, batchSize - start);
                float[] part;
                if (varying)
                {
                    // [T, B, input...] → [T, n, input...]
                    part = new float[(long)total * n * _inputSize];
                    for (int t = 0; t < total; t++)
                    {
                        Array.Copy(inputs, ((long)t * batchSize + start) * _inputSize, part, (long)t * n * _inputSize, (long)n * _inputSize);
                    }
                }
                else
                {
                    part = inputs.AsSpan(start * _inputSize, n * _inputSize).ToArray();
                }
                Raw raw = SimulateRaw(part, n, varying);
                estimates = raw.OutputsAreEstimates;
                for (int t = 0; t < total; t++)
                {
                    Array.Copy(raw.StepOutputs, (long)t * n * _outputSize, stepOutputs, ((long)t * batchSize + start) * _outputSize, (long)n * _outputSize);
                    for (int l = 0; l < layers; l++)
                    {
                        Array.Copy(raw.Spikes, ((long)l * total + t) * n, spikes, ((long)l * total + t) * batchSize + start, n);
                    }
                    for (int l = 0; synapticOperations != null && l < _synapticLayers.Count; l++)
                    {
                        Array.Copy(raw.SynapticOperations!, ((long)l * total + t) * n, synapticOperations, ((long)l * total + t) * batchSize + start, n);
                    }
                }
            }
            return new Raw(stepOutputs, spikes, synapticOperations, Array.Empty<float[]>, estimates);
        }

        private Raw SimulateRaw(float[] inputs, int batchSize, bool varying)
        {
            int total = _options.TimeSteps;
            int chunk = GetChunkSteps(batchSize);
            bool count = _options.CountSynapticOperations;
            // A differential network presents the image once; when part of it must see the input at every step,
            // the input becomes the sequence [image, 0, 0, ...].
            bool perStep = varying || _inputPerStep;
            var neurons = _network.NeuronLayers;
            // A run of one chunk starts from the initial state and, unless the caller keeps the final membranes, nobody
            // reads its final state: its graph leaves the states that kernels hold out of its inputs and outputs.
            bool whole = total <= chunk;
            SnnChunkGraph first = GetSession(Math.Min(chunk, total), perStep, count, whole).Graph;
            IReadOnlyList<StateSpec> specs = first.States;
            // The states live in two sets of buffers that the chunks write in turn (ONNX Runtime writes each chunk's final
            // state straight into the set the next chunk reads), kept from run to run: nothing of the size of the state is
            // allocated or copied per call but the initial values.
            StateBuffers buffers = GetStateBuffers(specs, batchSize);
            float[][] states = buffers.Current;
            float[][] next = buffers.Next;
            for (int i = 0; i < specs.Count; i++)
            {
                if (specs[i].Fed)
                {
                    Fill(states[i], specs[i].Initial, batchSize);
                }
            }
            var stepOutputs = new float[(long)total * batchSize * _outputSize];
            var spikes = new long[(long)neurons.Count * total * batchSize];
            long[]? synapticOperations = count ? new long[(long)_synapticLayers.Count * total * batchSize] : null;
            long[] sampleShape = _network.Network.InputShape.Select(d => (long)d).ToArray();
            for (int start = 0; start < total; start += chunk)
            {
                int steps = Math.Min(chunk, total - start);
                // A T that is not a multiple of the chunk ends with a shorter chunk, in a session of its own whose threads
                // must not spin: two thread pools spinning in turn took the cores from each other (shapes-cnn, T = 10 in
                // chunks of 8 + 2: 8.7 k image-steps/s with a spinning second session, 12.4 k without, 13.5 k for T = 8).
                (OnnxSession session, SnnChunkGraph graph) = GetSession(steps, perStep, count, whole, spinning: steps == chunk);
                var feeds = new List<(string Name, float[] Data, long[] Shape)>();
                if (varying)
                {
                    var slice = new float[(long)steps * batchSize * _inputSize];
                    Array.Copy(inputs, (long)start * batchSize * _inputSize, slice, 0, slice.Length);
                    feeds.Add((SnnGraphBuilder.InputName, slice, new long[] { (long)steps * batchSize }.Concat(sampleShape).ToArray()));
                }
                else if (perStep)
                {
                    var slice = new float[(long)steps * batchSize * _inputSize];
                    if (start == 0)
                    {
                        Array.Copy(inputs, 0, slice, 0, (long)batchSize * _inputSize);
                    }
                    feeds.Add((SnnGraphBuilder.InputName, slice, new long[] { (long)steps * batchSize }.Concat(sampleShape).ToArray()));
                }
                else
                {
                    feeds.Add((SnnGraphBuilder.InputName, inputs, new long[] { batchSize }.Concat(sampleShape).ToArray()));
                }
                if (graph.Differential)
                {
                    feeds.Add((ChunkContext.StepOffsetName, new float[] { start }, new long[] { 1 }));
                }
                for (int i = 0; i < specs.Count; i++)
                {
                    if (graph.States[i].Fed)
                    {
                        feeds.Add((specs[i].Input, states[i], StateShape(specs[i], batchSize)));
                    }
                }
                Dictionary<string, float[]> results = RunInto(session, graph, feeds, steps, batchSize, next);
                float[] output = results[SnnGraphBuilder.OutputName];
                Array.Copy(output, 0, stepOutputs, (long)start * batchSize * _outputSize, output.Length);
                (states, next) = (next, states);
                for (int i = 0; i < neurons.Count; i++)
                {
                    float[] counts = results[SnnGraphBuilder.SpikeOutput(i)];
                    for (int j = 0; j < counts.Length; j++)
                    {
                        spikes[((long)i * total + start) * batchSize + j] = (long)Math.Round(counts[j]);
                    }
                }
                if (synapticOperations != null)
                {
                    for (int i = 0; i < _synapticLayers.Count; i++)
                    {
                        ReadSynapticOperations(_synapticLayers[i], results[SnnGraphBuilder.SynapticOutput(i)], synapticOperations, ((long)i * total + start) * batchSize);
                    }
                }
            }
            buffers.Current = states;
            buffers.Next = next;
            float[][]? kept = _options.KeepFinalMembranes ? states.Select(a => (float[])a.Clone()).ToArray() : null;
            return new Raw(stepOutputs, spikes, synapticOperations,
                () => kept == null ? Array.Empty<float[]>() : specs.Select((spec, i) => spec.HwcChannels > 0 ? ChannelMajor(kept[i], spec, batchSize) : kept[i]).ToArray(),
                first.OutputsAreEstimates);
        }

        /// <summary>Sums the per-row partial counts the graph left (each an exact integer in float) and applies the host factor.</summary>
        private static void ReadSynapticOperations(SynapticLayerPlan plan, float[] partial, long[] target, long offset)
        {
            int rows = partial.Length / plan.KeptSize;
            for (int r = 0; r < rows; r++)
            {
                long sum = 0;
                for (int k = r * plan.KeptSize, end = k + plan.KeptSize; k < end; k++)
                {
                    sum += (long)Math.Round(partial[k]);
                }
                target[offset + r] = sum * plan.HostScale;
            }
        }

        /// <summary>
        /// The session for chunks of <paramref name="steps"/> steps, created on first use (spinning or not, as then asked);
        /// <paramref name="whole"/>: the chunk is the whole run (it starts from the initial state, and only with
        /// <see cref="SimulationOptions.KeepFinalMembranes"/> is its final state read).
        /// </summary>
        private (OnnxSession Session, SnnChunkGraph Graph) GetSession(int steps, bool varying, bool count, bool whole, bool spinning = true)
        {
            if (!_sessions.TryGetValue((steps, varying, count, whole), out var entry))
            {
                SnnChunkGraph graph = SnnGraphBuilder.Build(_network, steps, varying, count ? _synapticLayers : null, _fused, _options.FuseIfNeurons, _packing, _options.ScaledTableBytes, _trainCounts,
                    startsRun: whole, finalStateRead: !whole || _options.KeepFinalMembranes);
                entry = (new OnnxSession(graph.Model, _options.Execution, _fused || _packing != BitPacking.None || _trainCounts, spinning), graph);
                _sessions[(steps, varying, count, whole)] = entry;
            }
            return entry;
        }

        /// <summary>Releases the ONNX Runtime sessions. Safe to call more than once.</summary>
        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach ((OnnxSession session, _) in _sessions.Values)
            {
                session.Dispose();
            }
            _sessions.Clear();
        }
    }
}
