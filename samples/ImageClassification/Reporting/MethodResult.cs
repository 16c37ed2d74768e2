// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Evaluation;

namespace Microsoft.ML.Spiking.Samples.Reporting
{
    /// <summary>The figures of one method at one T: one entry of the report's "results" (names as in the JSON, camel-cased).</summary>
    internal sealed class MethodResult
    {
        /// <summary>The --method name.</summary>
        public string Method { get; init; } = string.Empty;

        /// <summary>T, the simulated steps.</summary>
        public int TimeSteps { get; init; }

        /// <summary>Evaluated images.</summary>
        public long Images { get; init; }

        /// <summary>The ANN's accuracy on the same images (the transformer's AnnScore column).</summary>
        public double? AnnAccuracy { get; init; }

        /// <summary>The SNN's accuracy after T steps.</summary>
        public double SnnAccuracy { get; init; }

        /// <summary>The SNN's accuracy after t steps, t = 1..T (the running estimate of one T-step simulation).</summary>
        public IReadOnlyList<double> AccuracyPerStep { get; init; } = Array.Empty<double>();

        /// <summary>Spikes per image over the T steps, all neuron layers.</summary>
        public double SpikesPerImage { get; init; }

        /// <summary>Synaptic operations per image over the T steps (null when not counted).</summary>
        public double? SynapticOpsPerImage { get; init; }

        /// <summary>The ANN's multiply-accumulates per image.</summary>
        public long AnnMacsPerImage { get; init; }

        /// <summary>E_SNN / E_ANN after T steps under the energy model (null when synaptic operations were not counted).</summary>
        public double? EnergyRatio { get; init; }

        /// <summary>E_SNN / E_ANN after t steps, t = 1..T.</summary>
        public IReadOnlyList<double>? EnergyRatioPerStep { get; init; }

        /// <summary>ANN images per second (prepared ANN, ONNX Runtime, batches of --batch, on the evaluated images' pixels).</summary>
        public double AnnImagesPerSecond { get; init; }

        /// <summary>SNN images per second (the transformer's scoring pass with T steps, read by Spiking().Evaluate).</summary>
        public double SnnImagesPerSecond { get; init; }

        /// <summary>Seconds of pipeline.Fit: decoding the calibration images, importing the model, calibrating and converting.</summary>
        public double CalibrationSeconds { get; init; }

        /// <summary>The energy model the ratios were priced with.</summary>
        public string EnergyModel { get; init; } = string.Empty;

        /// <summary>Firing rate of each neuron layer over the T steps (spikes per neuron per step).</summary>
        public IReadOnlyList<LayerFiringRate> FiringRates { get; init; } = Array.Empty<LayerFiringRate>();

        /// <summary>Bit-serial only: the accuracy of the quantized ANN the bit-serial network reproduces.</summary>
        public double? QuantizedAnnAccuracy { get; init; }

        /// <summary>Bit-serial only: the fraction of images on which the SNN and the quantized ANN agree.</summary>
        public double? QuantizedAgreement { get; init; }

        /// <summary>Collects the figures of one evaluation.</summary>
        /// <param name="method">The method name.</param>
        /// <param name="metrics">What Spiking().Evaluate returned.</param>
        /// <param name="timing">The measured times.</param>
        /// <returns>The result.</returns>
        /// <param name="quantized">Bit-serial only: the quantized ANN's accuracy and its agreement with the SNN.</param>
        public static MethodResult From(string method, SpikingMetrics metrics, Timing timing, (double Accuracy, double Agreement)? quantized = null)
        {
            ArgumentNullException.ThrowIfNull(metrics, nameof(metrics));
            int t = metrics.TimeSteps;
            IEnumerable<int> steps = Enumerable.Range(1, t);
            bool sops = metrics.HasSynapticOperations;
            return new MethodResult
            {
                Method = method,
                TimeSteps = t,
                Images = metrics.Images,
                AnnAccuracy = metrics.AnnAccuracy,
                SnnAccuracy = metrics.GetAccuracy(t),
                AccuracyPerStep = steps.Select(metrics.GetAccuracy).ToArray(),
                SpikesPerImage = metrics.SpikesPerImage,
                SynapticOpsPerImage = sops ? metrics.GetSynapticOperationsPerImage(t) : null,
                AnnMacsPerImage = metrics.AnnMacsPerImage,
                EnergyRatio = sops ? Finite(metrics.GetEnergyRatio(t)) : null,
                EnergyRatioPerStep = sops && double.IsFinite(metrics.GetEnergyRatio(t)) ? steps.Select(metrics.GetEnergyRatio).ToArray() : null,
                AnnImagesPerSecond = timing.AnnImagesPerSecond,
                SnnImagesPerSecond = metrics.Images / timing.SnnSeconds,
                CalibrationSeconds = timing.CalibrationSeconds,
                EnergyModel = metrics.EnergyModel.ToString(),
                FiringRates = metrics.NeuronLayers.Select((name, l) => new LayerFiringRate(name, metrics.GetFiringRate(l))).ToArray(),
                QuantizedAnnAccuracy = quantized?.Accuracy,
                QuantizedAgreement = quantized?.Agreement,
            };
        }

        private static double? Finite(double value) => double.IsFinite(value) ? value : null;
    }

    /// <summary>A neuron layer's firing rate.</summary>
    /// <param name="Layer">The layer's name (the ONNX node it replaced).</param>
    /// <param name="FiringRate">Spikes per neuron per step over the T steps.</param>
    internal sealed record LayerFiringRate(string Layer, double FiringRate);

    /// <summary>The times measured around one conversion and evaluation.</summary>
    /// <param name="CalibrationSeconds">pipeline.Fit.</param>
    /// <param name="SnnSeconds">The scoring pass (Transform read by Spiking().Evaluate).</param>
    /// <param name="AnnImagesPerSecond">The ANN timing pass.</param>
    internal sealed record Timing(double CalibrationSeconds, double SnnSeconds, double AnnImagesPerSecond);
}
