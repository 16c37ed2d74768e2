// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Evaluation
{
    /// <summary>
    /// Accuracy, spiking activity and the energy estimate of a spiking network over a data set, accumulated batch
    /// by batch from <see cref="SimulationResult"/>s so a whole test set can stream through. Every figure is given
    /// for a step prefix τ (the first τ steps of the T simulated), so one T-step run gives the curve for every
    /// shorter latency. Synaptic operations and the energy ratio follow algorithms.md §2.12:
    /// η(τ) = Σ_{t≤τ} SOP_t / Σ_{t≤τ} TOT_t and E_SNN/E_ANN(τ) = τ · (E_AC/E_MAC) · η(τ).
    /// Not safe to use from several threads at once.
    /// </summary>
    public sealed class SpikingMetrics
    {
        private readonly EnergyModel _energyModel;
        private long _images;
        private long _annCorrect;
        private bool _hasAnn;
        private bool _hasSynapticOperations;
        private int _timeSteps;
        private IReadOnlyList<string> _neuronLayers;
        private IReadOnlyList<long> _neuronCounts;
        private IReadOnlyList<string> _synapticLayers;
        private long[] _denseMacs;
        private long[] _correct;
        private long[] _spikes;
        private long[] _synapticOperations;

        /// <summary>Creates empty metrics priced with <see cref="EnergyModel.Horowitz45nm"/>.</summary>
        public SpikingMetrics()
            : this(EnergyModel.Horowitz45nm)
        {
        }

        /// <summary>Creates empty metrics.</summary>
        /// <param name="energyModel">The cost table for the energy estimate.</param>
        public SpikingMetrics(EnergyModel energyModel)
        {
            ArgumentNullException.ThrowIfNull(energyModel, nameof(energyModel));
            _energyModel = energyModel;
            _neuronLayers = Array.Empty<string>();
            _neuronCounts = Array.Empty<long>();
            _synapticLayers = Array.Empty<string>();
            _denseMacs = Array.Empty<long>();
            _correct = Array.Empty<long>();
            _spikes = Array.Empty<long>();
            _synapticOperations = Array.Empty<long>();
        }

        /// <summary>The cost table of the energy estimate.</summary>
        public EnergyModel EnergyModel => _energyModel;

        /// <summary>Images accumulated so far.</summary>
        public long Images => _images;

        /// <summary>T, the steps of every accumulated simulation (0 before the first batch).</summary>
        public int TimeSteps => _timeSteps;

        /// <summary>Names of the neuron layers, in the order of <see cref="GetFiringRate(int)"/>'s layer index.</summary>
        public IReadOnlyList<string> NeuronLayers => _neuronLayers;

        /// <summary>Names of the convolution and dense layers, in the order of the per-layer synaptic-operation figures.</summary>
        public IReadOnlyList<string> SynapticLayers => _synapticLayers;

        /// <summary>True when ANN predictions were given with every batch.</summary>
        public bool HasAnnAccuracy => _images > 0 && _hasAnn;

        /// <summary>True when the simulations counted synaptic operations (<see cref="SimulationOptions.CountSynapticOperations"/>).</summary>
        public bool HasSynapticOperations => _images > 0 && _hasSynapticOperations;

        /// <summary>Accuracy of the ANN on the same images, or null when no ANN predictions were given.</summary>
        public double? AnnAccuracy => HasAnnAccuracy ? (double)_annCorrect / _images : null;

        /// <summary>The ANN's multiply-accumulates per image: Σ over the convolution and dense layers of their dense MACs.</summary>
        public long AnnMacsPerImage
        {
            get
            {
                CheckNotEmpty();
                return _denseMacs.Sum();
            }
        }

        /// <summary>The ANN's energy per image, in picojoules: <see cref="AnnMacsPerImage"/> × E_MAC.</summary>
        public double AnnEnergyPerImage => AnnMacsPerImage * _energyModel.EnergyPerMac;

        /// <summary>Spikes per image over all T steps.</summary>
        public double SpikesPerImage => GetSpikesPerImage(_timeSteps);

        /// <summary>Adds one simulated batch.</summary>
        /// <param name="result">The batch's simulation.</param>
        /// <param name="labels">The true class of each sample, one per sample.</param>
        /// <param name="annPredictions">The ANN's predicted class of each sample, or null. Give them with every batch or with none.</param>
        public void Add(SimulationResult result, IReadOnlyList<int> labels, IReadOnlyList<int>? annPredictions = null)
        {
            ArgumentNullException.ThrowIfNull(result, nameof(result));
            ArgumentNullException.ThrowIfNull(labels, nameof(labels));
            if (labels.Count != result.BatchSize)
            {
                throw new ArgumentException($"Got {labels.Count} labels for a batch of {result.BatchSize} samples.", nameof(labels));
            }
            for (int i = 0; i < labels.Count; i++)
            {
                if ((uint)labels[i] >= (uint)result.OutputSize)
                {
                    throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {i} is not a class index below {result.OutputSize}.");
                }
            }
            if (annPredictions != null && annPredictions.Count != result.BatchSize)
            {
                throw new ArgumentException($"Got {annPredictions.Count} ANN predictions for a batch of {result.BatchSize} samples.", nameof(annPredictions));
            }
            if (_images == 0)
            {
                Initialize(result, annPredictions != null);
            }
            else
            {
                CheckConsistent(result, annPredictions != null);
            }

            int t = _timeSteps;
            for (int b = 0; b < result.BatchSize; b++)
            {
                for (int step = 1; step <= t; step++)
                {
                    if (result.Predict(step, b) == labels[b])
                    {
                        _correct[step - 1]++;
                    }
                }
                if (annPredictions != null && annPredictions[b] == labels[b])
                {
                    _annCorrect++;
                }
                for (int l = 0; l < _neuronLayers.Count; l++)
                {
                    for (int step = 1; step <= t; step++)
                    {
                        _spikes[l * t + step - 1] += result.GetSpikeCount(l, step, b);
                    }
                }
                if (_hasSynapticOperations)
                {
                    for (int l = 0; l < _synapticLayers.Count; l++)
                    {
                        for (int step = 1; step <= t; step++)
                        {
                            _synapticOperations[l * t + step - 1] += result.GetSynapticOperations(l, step, b);
                        }
                    }
                }
            }
            _images += result.BatchSize;
        }

        /// <summary>
        /// Adds one image from its scored columns: running estimates [T, K], spikes [T, L] and synaptic operations
        /// [T, S] (step-major, as the transformer's ScorePerStep, SpikesPerStep and SynapticOpsPerStep columns hold them).
        /// </summary>
        internal void AddRow(int label, int classes, ReadOnlySpan<float> scorePerStep, int? annPrediction, ReadOnlySpan<double> spikesPerStep, ReadOnlySpan<double> synapticOperationsPerStep)
        {
            int t = _timeSteps;
            for (int step = 1; step <= t; step++)
            {
                if (SimulationResult.ArgMax(scorePerStep.Slice((step - 1) * classes, classes)) == label)
                {
                    _correct[step - 1]++;
                }
                for (int l = 0; l < _neuronLayers.Count; l++)
                {
                    _spikes[l * t + step - 1] += (long)Math.Round(spikesPerStep[(step - 1) * _neuronLayers.Count + l]);
                }
                if (_hasSynapticOperations)
                {
                    for (int l = 0; l < _synapticLayers.Count; l++)
                    {
                        _synapticOperations[l * t + step - 1] += (long)Math.Round(synapticOperationsPerStep[(step - 1) * _synapticLayers.Count + l]);
                    }
                }
            }
            if (annPrediction == label)
            {
                _annCorrect++;
            }
            _images++;
        }

        /// <summary>Adds one simulated batch with the ANN's logits (arg-max, ties to the lowest index, as <see cref="SimulationResult.Predict"/>).</summary>
        /// <param name="result">The batch's simulation.</param>
        /// <param name="labels">The true class of each sample, one per sample.</param>
        /// <param name="annLogits">The ANN's outputs [B, classes], back to back, with as many classes as the simulation's output.</param>
        public void AddWithAnnLogits(SimulationResult result, IReadOnlyList<int> labels, ReadOnlySpan<float> annLogits)
        {
            ArgumentNullException.ThrowIfNull(result, nameof(result));
            if (annLogits.Length != (long)result.BatchSize * result.OutputSize)
            {
                throw new ArgumentException($"Expected {result.BatchSize} x {result.OutputSize} ANN logits; got {annLogits.Length}.", nameof(annLogits));
            }
            var predictions = new int[result.BatchSize];
            for (int b = 0; b < predictions.Length; b++)
            {
                predictions[b] = SimulationResult.ArgMax(annLogits.Slice(b * result.OutputSize, result.OutputSize));
            }
            Add(result, labels, predictions);
        }

        /// <summary>Accuracy of the spiking network after <paramref name="steps"/> steps (arg-max of the running estimate).</summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        public double GetAccuracy(int steps)
        {
            CheckSteps(steps);
            return (double)_correct[steps - 1] / _images;
        }

        /// <summary>Spikes per image over the first <paramref name="steps"/> steps, all neuron layers.</summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        public double GetSpikesPerImage(int steps)
        {
            CheckSteps(steps);
            long sum = 0;
            for (int l = 0; l < _neuronLayers.Count; l++)
            {
                sum += PrefixSum(_spikes, l, steps);
            }
            return (double)sum / _images;
        }

        /// <summary>Firing rate of a neuron layer over all T steps: spikes / (neurons × T × images).</summary>
        /// <param name="layer">Index into <see cref="NeuronLayers"/>.</param>
        public double GetFiringRate(int layer) => GetFiringRate(layer, _timeSteps);

        /// <summary>Firing rate of a neuron layer over the first <paramref name="steps"/> steps: spikes / (neurons × τ × images).</summary>
        /// <param name="layer">Index into <see cref="NeuronLayers"/>.</param>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        public double GetFiringRate(int layer, int steps)
        {
            CheckSteps(steps);
            if ((uint)layer >= (uint)_neuronLayers.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"There are {_neuronLayers.Count} neuron layers.");
            }
            return PrefixSum(_spikes, layer, steps) / ((double)_neuronCounts[layer] * steps * _images);
        }

        /// <summary>Dense MACs per image of one convolution or dense layer (its TOT at every step).</summary>
        /// <param name="layer">Index into <see cref="SynapticLayers"/>.</param>
        public long GetDenseMacs(int layer)
        {
            CheckNotEmpty();
            CheckSynapticLayer(layer);
            return _denseMacs[layer];
        }

        /// <summary>Synaptic operations per image over the first <paramref name="steps"/> steps, all convolution and dense layers.</summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        /// <exception cref="InvalidOperationException">The simulations did not count synaptic operations.</exception>
        public double GetSynapticOperationsPerImage(int steps)
        {
            CheckSynapticOperations(steps);
            return (double)TotalSynapticOperations(steps) / _images;
        }

        /// <summary>Synaptic operations per image of one convolution or dense layer over the first <paramref name="steps"/> steps.</summary>
        /// <param name="layer">Index into <see cref="SynapticLayers"/>.</param>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        /// <exception cref="InvalidOperationException">The simulations did not count synaptic operations.</exception>
        public double GetSynapticOperationsPerImage(int layer, int steps)
        {
            CheckSynapticOperations(steps);
            CheckSynapticLayer(layer);
            return (double)PrefixSum(_synapticOperations, layer, steps) / _images;
        }

        /// <summary>
        /// η(τ) = Σ_{t≤τ} SOP_t / Σ_{t≤τ} TOT_t over all convolution and dense layers and all images: the fraction
        /// of the dense operations the spiking network actually performs. NaN when the network has no such layer.
        /// </summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        /// <exception cref="InvalidOperationException">The simulations did not count synaptic operations.</exception>
        public double GetSynapticOperationRatio(int steps)
        {
            CheckSynapticOperations(steps);
            return TotalSynapticOperations(steps) / ((double)_denseMacs.Sum() * steps * _images);
        }

        /// <summary>
        /// E_SNN / E_ANN after τ steps = τ · (E_AC / E_MAC) · η(τ) = (SOPs · E_AC) / (ANN MACs · E_MAC): the spiking
        /// network's energy for τ steps relative to one ANN inference, with SNN MACs taken as zero.
        /// </summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        /// <exception cref="InvalidOperationException">The simulations did not count synaptic operations.</exception>
        public double GetEnergyRatio(int steps) => steps * _energyModel.AcToMacRatio * GetSynapticOperationRatio(steps);

        /// <summary>The spiking network's energy per image over the first <paramref name="steps"/> steps, in picojoules: SOPs × E_AC.</summary>
        /// <param name="steps">The prefix τ, 1 ≤ τ ≤ T.</param>
        /// <exception cref="InvalidOperationException">The simulations did not count synaptic operations.</exception>
        public double GetSnnEnergyPerImage(int steps) => GetSynapticOperationsPerImage(steps) * _energyModel.EnergyPerAc;

        /// <summary>A readable report with rows t = 1, 2, 4, … and T.</summary>
        public string FormatTable()
        {
            CheckNotEmpty();
            var steps = new List<int>();
            for (int t = 1; t < _timeSteps; t *= 2)
            {
                steps.Add(t);
            }
            steps.Add(_timeSteps);
            return FormatTable(steps);
        }

        /// <summary>A readable report with one row per given step prefix.</summary>
        /// <param name="steps">The prefixes τ to print, each 1 ≤ τ ≤ T.</param>
        public string FormatTable(IEnumerable<int> steps)
        {
            ArgumentNullException.ThrowIfNull(steps, nameof(steps));
            CheckNotEmpty();
            List<int> rows = steps.ToList();
            foreach (int t in rows)
            {
                CheckSteps(t);
            }
            CultureInfo ci = CultureInfo.InvariantCulture;
            var s = new StringBuilder();
            s.AppendLine(string.Format(ci, "Spiking evaluation: {0} images, T = {1}", _images, _timeSteps));
            if (AnnAccuracy is double ann)
            {
                s.AppendLine(string.Format(ci, "ANN accuracy: {0:F2} %", 100 * ann));
            }
            s.AppendLine(string.Format(ci, "ANN MACs per image: {0}", FormatCount(_denseMacs.Sum())));
            if (_hasSynapticOperations)
            {
                s.AppendLine("Energy model: " + _energyModel);
            }
            s.AppendLine();
            s.AppendLine(_hasSynapticOperations
                ? string.Format(ci, "{0,6} {1,10} {2,12} {3,12} {4,10} {5,12}", "t", "SNN acc %", "spikes/img", "SOPs/img", "eta", "E_SNN/E_ANN")
                : string.Format(ci, "{0,6} {1,10} {2,12}", "t", "SNN acc %", "spikes/img"));
            foreach (int t in rows)
            {
                string line = string.Format(ci, "{0,6} {1,10:F2} {2,12}", t, 100 * GetAccuracy(t), FormatCount(GetSpikesPerImage(t)));
                if (_hasSynapticOperations)
                {
                    line += string.Format(ci, " {0,12} {1,10:F4} {2,12:F4}", FormatCount(GetSynapticOperationsPerImage(t)), GetSynapticOperationRatio(t), GetEnergyRatio(t));
                }
                s.AppendLine(line);
            }
            if (_neuronLayers.Count > 0)
            {
                s.AppendLine();
                s.AppendLine(string.Format(ci, "Firing rates over T = {0} (spikes per neuron per step):", _timeSteps));
                int width = Math.Max(5, _neuronLayers.Max(n => n.Length));
                for (int l = 0; l < _neuronLayers.Count; l++)
                {
                    s.AppendLine(string.Format(ci, "  {0} {1,10} neurons {2,8:F4}", _neuronLayers[l].PadRight(width), _neuronCounts[l], GetFiringRate(l)));
                }
            }
            if (_hasSynapticOperations && _synapticLayers.Count > 0)
            {
                s.AppendLine();
                s.AppendLine(string.Format(ci, "Synaptic operations per image over T = {0}:", _timeSteps));
                int width = Math.Max(5, _synapticLayers.Max(n => n.Length));
                s.AppendLine(string.Format(ci, "  {0} {1,12} {2,12} {3,8}", "layer".PadRight(width), "MACs/img", "SOPs/img", "eta"));
                for (int l = 0; l < _synapticLayers.Count; l++)
                {
                    double sops = GetSynapticOperationsPerImage(l, _timeSteps);
                    s.AppendLine(string.Format(ci, "  {0} {1,12} {2,12} {3,8:F4}", _synapticLayers[l].PadRight(width), FormatCount(_denseMacs[l]), FormatCount(sops),
                        sops / ((double)_denseMacs[l] * _timeSteps)));
                }
            }
            return s.ToString();
        }

        /// <inheritdoc/>
        public override string ToString() => _images == 0 ? "Spiking evaluation: no images" : FormatTable();

        private static string FormatCount(double value)
        {
            CultureInfo ci = CultureInfo.InvariantCulture;
            double a = Math.Abs(value);
            return a >= 1e9 ? (value / 1e9).ToString("F3", ci) + " G"
                : a >= 1e6 ? (value / 1e6).ToString("F3", ci) + " M"
                : a >= 1e4 ? (value / 1e3).ToString("F2", ci) + " k"
                : value.ToString(value == Math.Floor(value) ? "F0" : "F2", ci);
        }

        private void Initialize(SimulationResult result, bool hasAnn) =>
            Initialize(SimulationLayout.From(result), hasAnn);

        /// <summary>Prepares empty accumulators for a network's layout (used by row-wise accumulation from scored data).</summary>
        internal void Initialize(SimulationLayout layout, bool hasAnn)
        {
            _timeSteps = layout.TimeSteps;
            _hasAnn = hasAnn;
            _hasSynapticOperations = layout.HasSynapticOperations;
            _neuronLayers = layout.NeuronLayers;
            _neuronCounts = layout.NeuronCounts;
            _synapticLayers = layout.SynapticLayers;
            _denseMacs = layout.DenseMacs;
            _correct = new long[_timeSteps];
            _spikes = new long[_neuronLayers.Count * _timeSteps];
            _synapticOperations = new long[_hasSynapticOperations ? _synapticLayers.Count * _timeSteps : 0];
        }

        private void CheckConsistent(SimulationResult result, bool hasAnn)
        {
            if (result.TimeSteps != _timeSteps)
            {
                throw new ArgumentException($"The batch was simulated for {result.TimeSteps} steps; earlier batches for {_timeSteps}.", nameof(result));
            }
            if (!result.NeuronLayers.SequenceEqual(_neuronLayers) || !result.SynapticLayers.SequenceEqual(_synapticLayers))
            {
                throw new ArgumentException("The batch comes from a different network than earlier batches.", nameof(result));
            }
            if (result.HasSynapticOperations != _hasSynapticOperations)
            {
                throw new ArgumentException("Synaptic operations were counted for some batches and not others.", nameof(result));
            }
            if (hasAnn != _hasAnn)
            {
                throw new ArgumentException("ANN predictions must be given with every batch or with none.", hasAnn ? "annPredictions" : nameof(result));
            }
        }

        private long PrefixSum(long[] perLayerStep, int layer, int steps)
        {
            long sum = 0;
            for (int t = 0; t < steps; t++)
            {
                sum += perLayerStep[layer * _timeSteps + t];
            }
            return sum;
        }

        private long TotalSynapticOperations(int steps)
        {
            long sum = 0;
            for (int l = 0; l < _synapticLayers.Count; l++)
            {
                sum += PrefixSum(_synapticOperations, l, steps);
            }
            return sum;
        }

        private void CheckNotEmpty()
        {
            if (_images == 0)
            {
                throw new InvalidOperationException("No results have been added.");
            }
        }

        private void CheckSteps(int steps)
        {
            CheckNotEmpty();
            if (steps < 1 || steps > _timeSteps)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), steps, $"Step prefixes run from 1 to {_timeSteps}.");
            }
        }

        private void CheckSynapticLayer(int layer)
        {
            if ((uint)layer >= (uint)_synapticLayers.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(layer), layer, $"There are {_synapticLayers.Count} convolution and dense layers.");
            }
        }

        private void CheckSynapticOperations(int steps)
        {
            CheckSteps(steps);
            if (!_hasSynapticOperations)
            {
                throw new InvalidOperationException("Synaptic operations were not counted: the simulations ran with SimulationOptions.CountSynapticOperations off.");
            }
        }
    }
}
