// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System.Linq;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Evaluation
{
    /// <summary>What every simulation of one network shares: T, the neuron layers and the counted synaptic layers.</summary>
    internal sealed class SimulationLayout
    {
        public SimulationLayout(int timeSteps, string[] neuronLayers, long[] neuronCounts, string[] synapticLayers, long[] denseMacs, bool hasSynapticOperations)
        {
            TimeSteps = timeSteps;
            NeuronLayers = neuronLayers;
            NeuronCounts = neuronCounts;
            SynapticLayers = synapticLayers;
            DenseMacs = denseMacs;
            HasSynapticOperations = hasSynapticOperations;
        }

        public int TimeSteps { get; }

        public string[] NeuronLayers { get; }

        public long[] NeuronCounts { get; }

        public string[] SynapticLayers { get; }

        public long[] DenseMacs { get; }

        public bool HasSynapticOperations { get; }

        public static SimulationLayout From(SimulationResult result) => new SimulationLayout(
            result.TimeSteps,
            result.NeuronLayers.ToArray(),
            result.NeuronCounts.ToArray(),
            result.SynapticLayers.ToArray(),
            Enumerable.Range(0, result.SynapticLayers.Count).Select(result.GetDenseMacs).ToArray(),
            result.HasSynapticOperations);
    }
}
