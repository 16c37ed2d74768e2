// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <content>How one chunk runs: the state buffers the chunks share, and ONNX Runtime writing into caller-owned arrays.</content>
    public sealed partial class SpikingSimulator
    {
        /// <summary>Two sets of state buffers for one batch size, swapped after every chunk.</summary>
        private sealed class StateBuffers
        {
            public StateBuffers(float[][] current, float[][] next)
            {
                Current = current;
                Next = next;
            }

            public float[][] Current { get; set; }

            public float[][] Next { get; set; }
        }

        private StateBuffers GetStateBuffers(IReadOnlyList<StateSpec> specs, int batchSize)
        {
            if (_stateBuffers == null || _stateBuffers.Value.BatchSize != batchSize)
            {
                float[][] Allocate() => specs.Select(s => new float[(long)s.Initial.Length * batchSize]).ToArray();
                _stateBuffers = (batchSize, new StateBuffers(Allocate(), Allocate()));
            }
            return _stateBuffers.Value.Buffers;
        }

        private static long[] StateShape(StateSpec spec, int batchSize) => new long[] { batchSize }.Concat(spec.Shape.Select(d => (long)d)).ToArray();

        /// <summary>
        /// Runs one chunk with ONNX Runtime writing into caller-owned arrays: the state outputs into <paramref name="stateOutputs"/>
        /// (the buffers of the next chunk), every other output into a fresh array of its known shape.
        /// </summary>
        private Dictionary<string, float[]> RunInto(OnnxSession session, SnnChunkGraph graph, List<(string Name, float[] Data, long[] Shape)> feeds, int steps, int batchSize, float[][] stateOutputs)
        {
            if (_allocatedOutputs)
            {
                // ONNX Runtime checks caller-owned outputs against its own static shape inference, which disagrees with its
                // kernels on some ceil_mode pools (ChunkContext.BeginState): let it allocate, and copy the states over.
                Dictionary<string, TensorBuffer> allocated = session.Run(feeds.ToDictionary(f => f.Name, f => new TensorBuffer(f.Data, f.Shape)));
                for (int i = 0; i < graph.States.Count; i++)
                {
                    if (graph.States[i].Written)
                    {
                        Array.Copy(allocated[graph.States[i].Output].Data, stateOutputs[i], stateOutputs[i].Length);
                    }
                }
                return allocated.ToDictionary(p => p.Key, p => p.Value.Data);
            }
            var stateIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < graph.States.Count; i++)
            {
                stateIndex[graph.States[i].Output] = i;
            }
            var results = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var outputShapes = new List<long[]>();
            foreach (string name in session.OutputNames)
            {
                if (stateIndex.TryGetValue(name, out int state))
                {
                    results[name] = stateOutputs[state];
                    outputShapes.Add(StateShape(graph.States[state], batchSize));
                }
                else
                {
                    long[] shape = OutputShape(name, steps, batchSize);
                    results[name] = new float[shape.Aggregate(1L, (p, d) => p * d)];
                    outputShapes.Add(shape);
                }
            }
            var inputValues = new List<OrtValue>(feeds.Count);
            var outputValues = new List<OrtValue>(results.Count);
            try
            {
                foreach ((_, float[] data, long[] shape) in feeds)
                {
                    inputValues.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
                }
                int k = 0;
                foreach (string name in session.OutputNames)
                {
                    outputValues.Add(OrtValue.CreateTensorValueFromMemory(results[name], outputShapes[k++]));
                }
                session.RunInto(feeds.Select(f => f.Name).ToList(), inputValues, session.OutputNames.ToList(), outputValues);
            }
            finally
            {
                foreach (OrtValue value in inputValues.Concat(outputValues))
                {
                    value.Dispose();
                }
            }
            return results;
        }

        /// <summary>The shape of a chunk graph's non-state output: step outputs, spike counts or synaptic-operation partial sums.</summary>
        private long[] OutputShape(string name, int steps, int batchSize)
        {
            long rows = (long)steps * batchSize;
            if (name == SnnGraphBuilder.OutputName)
            {
                return new[] { rows }.Concat(_network.Network.OutputShape.Select(d => (long)d)).ToArray();
            }
            for (int i = 0; i < _network.NeuronLayers.Count; i++)
            {
                if (name == SnnGraphBuilder.SpikeOutput(i))
                {
                    return new[] { rows };
                }
            }
            for (int i = 0; i < _synapticLayers.Count; i++)
            {
                if (name == SnnGraphBuilder.SynapticOutput(i))
                {
                    return new[] { rows }.Concat(_synapticLayers[i].KeptShape.Select(d => (long)d)).ToArray();
                }
            }
            throw new InvalidOperationException($"The chunk graph has an output '{name}' the simulator does not know.");
        }

        /// <summary>A fused convolution's state [B, H, W, padded C] as [B, C, H, W], the layout of every other state.</summary>
        private static float[] ChannelMajor(float[] state, StateSpec spec, int batchSize)
        {
            int pixels = spec.Shape[0] * spec.Shape[1];
            int padded = spec.Shape[2];
            int channels = spec.HwcChannels;
            var result = new float[(long)batchSize * channels * pixels];
            for (int b = 0; b < batchSize; b++)
            {
                for (int p = 0; p < pixels; p++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        result[((long)b * channels + c) * pixels + p] = state[((long)b * pixels + p) * padded + c];
                    }
                }
            }
            return result;
        }

        private static void Fill(float[] target, float[] perSample, int batchSize)
        {
            for (int b = 0; b < batchSize; b++)
            {
                Array.Copy(perSample, 0, target, (long)b * perSample.Length, perSample.Length);
            }
        }
    }
}
