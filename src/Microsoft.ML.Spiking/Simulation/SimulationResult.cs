// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// What one simulation of a batch produced: the output layer's value at every step, the running
    /// estimate after every step t ≤ T (the mean of the first t step outputs, whose arg-max is the
    /// prediction at t; for differential coding the decoded r[t], with the equivalent rate-coded outputs
    /// O[t] = t·r[t] − (t−1)·r[t−1] as step outputs), the number of spikes of every neuron layer at every step for every sample, and (when
    /// <see cref="SimulationOptions.CountSynapticOperations"/> is on) the synaptic operations of every convolution
    /// and dense layer at every step for every sample.
    /// </summary>
    public sealed class SimulationResult
    {
        private readonly float[] _stepOutputs;
        private readonly float[] _estimates;
        private readonly long[] _spikes;
        private readonly long[]? _synapticOperations;
        private readonly IReadOnlyList<long> _denseMacs;
        private readonly Lazy<float[][]> _finalMembranes;

        internal SimulationResult(int timeSteps, int batchSize, int outputSize, float[] stepOutputs, long[] spikes, IReadOnlyList<string> neuronLayers,
            IReadOnlyList<long> neuronCounts, Func<float[][]> finalMembranes, IReadOnlyList<string> synapticLayers, IReadOnlyList<long> denseMacs, long[]? synapticOperations,
            bool outputsAreEstimates = false)
        {
            NeuronCounts = neuronCounts;
            SynapticLayers = synapticLayers;
            _denseMacs = denseMacs;
            _synapticOperations = synapticOperations;
            long total = 0;
            foreach (long macs in denseMacs)
            {
                total += macs;
            }
            TotalDenseMacs = total;
            _finalMembranes = new Lazy<float[][]>(finalMembranes);
            TimeSteps = timeSteps;
            BatchSize = batchSize;
            OutputSize = outputSize;
            _spikes = spikes;
            NeuronLayers = neuronLayers;
            if (outputsAreEstimates)
            {
                // Differential coding decodes r[t] in the graph; the equivalent rate-coded output is O[t] = t·r[t] − (t−1)·r[t−1].
                _estimates = stepOutputs;
                _stepOutputs = new float[stepOutputs.Length];
                int row = batchSize * outputSize;
                for (int t = 0; t < timeSteps; t++)
                {
                    for (int i = 0; i < row; i++)
                    {
                        double previous = t == 0 ? 0 : (double)t * stepOutputs[(t - 1) * row + i];
                        _stepOutputs[t * row + i] = (float)((t + 1) * (double)stepOutputs[t * row + i] - previous);
                    }
                }
                return;
            }
            _stepOutputs = stepOutputs;
            _estimates = new float[stepOutputs.Length];
            var sum = new double[batchSize * outputSize];
            for (int t = 0; t < timeSteps; t++)
            {
                int offset = t * batchSize * outputSize;
                for (int i = 0; i < sum.Length; i++)
                {
                    sum[i] += stepOutputs[offset + i];
                    _estimates[offset + i] = (float)(sum[i] / (t + 1));
                }
            }
        }

        /// <summary>T, the number of simulated steps.</summary>
        public int TimeSteps { get; }

        /// <summary>Samples in the batch.</summary>
        public int BatchSize { get; }

        /// <summary>Values per sample in the output (the classes).</summary>
        public int OutputSize { get; }

        /// <summary>Membrane potentials after the last step, per neuron layer, laid out [B, ...].</summary>
        /// <remarks>Formed on first use (fused convolutions keep theirs [B, H, W, padded C] and are reordered then).</remarks>
        internal float[][] FinalMembranes => _finalMembranes.Value;

        /// <summary>Names of the neuron layers, in the order of <see cref="GetSpikeCount"/>'s layer index.</summary>
        public IReadOnlyList<string> NeuronLayers { get; }

        /// <summary>Neurons per sample in each neuron layer, in the order of <see cref="NeuronLayers"/>.</summary>
        public IReadOnlyList<long> NeuronCounts { get; }

        /// <summary>
        /// Names of the convolution and dense layers, in network order: the layers whose synaptic operations are
        /// counted, in the order of <see cref="GetSynapticOperations"/>'s and <see cref="GetDenseMacs"/>'s layer index.
        /// </summary>
        public IReadOnlyList<string> SynapticLayers { get; }

        /// <summary>True when synaptic operations were counted (<see cref="SimulationOptions.CountSynapticOperations"/>).</summary>
        public bool HasSynapticOperations => _synapticOperations != null;

        /// <summary>The ANN's multiply-accumulates per sample: Σ of <see cref="GetDenseMacs"/> over the layers (TOT of one step).</summary>
        public long TotalDenseMacs { get; }

        /// <summary>The output layer's value at step <paramref name="step"/> (1-based).</summary>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        public ReadOnlySpan<float> GetStepOutput(int step, int sample) => _stepOutputs.AsSpan(Offset(step, sample), OutputSize);

        /// <summary>The running estimate after <paramref name="step"/> steps: the mean of the step outputs 1..t.</summary>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        public ReadOnlySpan<float> GetEstimate(int step, int sample) => _estimates.AsSpan(Offset(step, sample), OutputSize);

        /// <summary>The predicted class after <paramref name="step"/> steps: arg-max of the estimate, ties to the lowest index.</summary>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        public int Predict(int step, int sample) => ArgMax(GetEstimate(step, sample));

        /// <summary>Spikes emitted by neuron layer <paramref name="layer"/> at step <paramref name="step"/> for one sample.</summary>
        /// <param name="layer">Index into <see cref="NeuronLayers"/>.</param>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        public long GetSpikeCount(int layer, int step, int sample)
        {
            if ((uint)layer >= (uint)NeuronLayers.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"There are {NeuronLayers.Count} neuron layers.");
            }
            CheckStep(step, sample);
            return _spikes[((long)layer * TimeSteps + step - 1) * BatchSize + sample];
        }

        /// <summary>
        /// Synaptic operations (accumulates) of convolution or dense layer <paramref name="layer"/> at step
        /// <paramref name="step"/> for one sample (algorithms.md §2.12): Σ over the layer's input elements of
        /// 1[x_t ≠ 0] × the element's fan-out. Any non-zero input counts, graded or binary, including an analog
        /// image presented at every step.
        /// </summary>
        /// <param name="layer">Index into <see cref="SynapticLayers"/>.</param>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        /// <exception cref="InvalidOperationException">The simulation ran with <see cref="SimulationOptions.CountSynapticOperations"/> off.</exception>
        public long GetSynapticOperations(int layer, int step, int sample)
        {
            CheckSynapticLayer(layer);
            CheckStep(step, sample);
            if (_synapticOperations == null)
            {
                throw new InvalidOperationException("Synaptic operations were not counted: the simulation ran with SimulationOptions.CountSynapticOperations off.");
            }
            return _synapticOperations[((long)layer * TimeSteps + step - 1) * BatchSize + sample];
        }

        /// <summary>Synaptic operations of all convolution and dense layers at step <paramref name="step"/> for one sample.</summary>
        /// <param name="step">Step t, 1 ≤ t ≤ T.</param>
        /// <param name="sample">Sample index in the batch.</param>
        /// <exception cref="InvalidOperationException">The simulation ran with <see cref="SimulationOptions.CountSynapticOperations"/> off.</exception>
        public long GetTotalSynapticOperations(int step, int sample)
        {
            long sum = 0;
            for (int l = 0; l < SynapticLayers.Count; l++)
            {
                sum += GetSynapticOperations(l, step, sample);
            }
            return sum;
        }

        /// <summary>
        /// Dense multiply-accumulates of convolution or dense layer <paramref name="layer"/> per sample: TOT_t of
        /// §2.12 at every step, the layer's synaptic operations if every input were non-zero, and its MACs in the
        /// ANN. Kernel taps that fall on a convolution's zero padding are not counted (for a padded convolution
        /// this is less than <see cref="Graph.ConvLayer.MacsPerSample"/>, which counts them).
        /// </summary>
        /// <param name="layer">Index into <see cref="SynapticLayers"/>.</param>
        public long GetDenseMacs(int layer)
        {
            CheckSynapticLayer(layer);
            return _denseMacs[layer];
        }

        /// <summary>Arg-max with ties going to the lowest index (ML.NET's multiclass evaluator rule).</summary>
        /// <param name="values">Scores.</param>
        public static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++)
            {
                if (values[i] > values[best])
                {
                    best = i;
                }
            }
            return best;
        }

        private int Offset(int step, int sample)
        {
            CheckStep(step, sample);
            return ((step - 1) * BatchSize + sample) * OutputSize;
        }

        private void CheckSynapticLayer(int layer)
        {
            if ((uint)layer >= (uint)SynapticLayers.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"There are {SynapticLayers.Count} convolution and dense layers.");
            }
        }

        private void CheckStep(int step, int sample)
        {
            if (step < 1 || step > TimeSteps)
            {
                throw new ArgumentOutOfRangeException(nameof(step), step, $"Steps run from 1 to {TimeSteps}.");
            }
            if ((uint)sample >= (uint)BatchSize)
            {
                throw new ArgumentOutOfRangeException(nameof(sample), sample, $"The batch has {BatchSize} samples.");
            }
        }
    }
}
