// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking
{
    /// <summary>The values a spiking transformer adds to one row.</summary>
    internal sealed class RowScores
    {
        public RowScores(float[] score, uint predictedKey, float[] scorePerStep, double[] spikeCounts, float[]? annScore, double[] spikesPerStep, double[] synapticOperationsPerStep)
        {
            SpikesPerStep = spikesPerStep;
            SynapticOperationsPerStep = synapticOperationsPerStep;
            Score = score;
            PredictedKey = predictedKey;
            ScorePerStep = scorePerStep;
            SpikeCounts = spikeCounts;
            AnnScore = annScore;
        }

        public float[] Score { get; }

        public uint PredictedKey { get; }

        public float[] ScorePerStep { get; }

        public double[] SpikeCounts { get; }

        public float[]? AnnScore { get; }

        /// <summary>Spikes per step and neuron layer, [T, L] step-major.</summary>
        public double[] SpikesPerStep { get; }

        /// <summary>Synaptic operations per step and counted layer, [T, S] step-major.</summary>
        public double[] SynapticOperationsPerStep { get; }
    }

    /// <summary>
    /// Runs the simulation (and, when asked, the ANN) for a batch of rows and turns the results into
    /// per-row values. Calls are serialized, so cursors on several threads can share one scorer.
    /// </summary>
    internal sealed class SpikingScorer : IDisposable
    {
        private readonly object _lock;
        private readonly SpikingSimulator _simulator;
        private readonly AnnRunner? _ann;
        private bool _disposed;

        public SpikingScorer(SpikingNetwork network, Network ann, SimulationOptions simulation, bool runAnn)
        {
            _lock = new object();
            _simulator = new SpikingSimulator(network, simulation);
            // The ANN takes turns with the simulation on the same cores, batch by batch: its threads must not spin.
            _ann = runAnn ? new AnnRunner(ann, simulation.Execution, spinning: false) : null;
            InputSize = ShapeUtil.Size(network.Network.InputShape);
            Classes = ShapeUtil.Size(network.Network.OutputShape);
            TimeSteps = simulation.TimeSteps;
            NeuronLayers = network.NeuronLayers.Count;
            Layout = _simulator.Layout;
        }

        public SimulationLayout Layout { get; }

        public int InputSize { get; }

        public int Classes { get; }

        public int TimeSteps { get; }

        public int NeuronLayers { get; }

        public RowScores[] Score(float[] inputs, int count)
        {
            SimulationResult result;
            float[]? logits = null;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                result = _simulator.Run(inputs, count);
                if (_ann != null)
                {
                    logits = _ann.Run(inputs, count);
                }
            }
            var rows = new RowScores[count];
            for (int i = 0; i < count; i++)
            {
                var perStep = new float[TimeSteps * Classes];
                for (int t = 1; t <= TimeSteps; t++)
                {
                    result.GetEstimate(t, i).CopyTo(perStep.AsSpan((t - 1) * Classes, Classes));
                }
                ReadOnlySpan<float> final = result.GetEstimate(TimeSteps, i);
                var spikes = new double[NeuronLayers];
                int synaptic = Layout.HasSynapticOperations ? Layout.SynapticLayers.Length : 0;
                var spikesPerStep = new double[TimeSteps * NeuronLayers];
                var sopsPerStep = new double[TimeSteps * synaptic];
                for (int t = 1; t <= TimeSteps; t++)
                {
                    for (int l = 0; l < NeuronLayers; l++)
                    {
                        long fired = result.GetSpikeCount(l, t, i);
                        spikesPerStep[(t - 1) * NeuronLayers + l] = fired;
                        spikes[l] += fired;
                    }
                    for (int l = 0; l < synaptic; l++)
                    {
                        sopsPerStep[(t - 1) * synaptic + l] = result.GetSynapticOperations(l, t, i);
                    }
                }
                float[] score = Softmax(final);
                rows[i] = new RowScores(score, (uint)SimulationResult.ArgMax(score) + 1, perStep, spikes,
                    logits?.AsSpan(i * Classes, Classes).ToArray(), spikesPerStep, sopsPerStep);
            }
            return rows;
        }

        /// <summary>Softmax of the logit estimate; monotone, so its arg-max (ties to the lowest index) is the prediction.</summary>
        internal static float[] Softmax(ReadOnlySpan<float> logits)
        {
            float max = float.NegativeInfinity;
            foreach (float v in logits)
            {
                max = Math.Max(max, v);
            }
            var result = new float[logits.Length];
            double sum = 0;
            for (int i = 0; i < logits.Length; i++)
            {
                double e = Math.Exp(logits[i] - max);
                result[i] = (float)e;
                sum += e;
            }
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = (float)(result[i] / sum);
            }
            return result;
        }

        public void Dispose()
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                _simulator.Dispose();
                _ann?.Dispose();
            }
        }
    }
}
