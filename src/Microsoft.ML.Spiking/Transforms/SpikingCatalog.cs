// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Spiking.Evaluation;
using Microsoft.ML.Spiking;

namespace Microsoft.ML
{
    /// <summary>Entry points of Microsoft.ML.Spiking on ML.NET's catalogs.</summary>
    public static class SpikingCatalog
    {
        /// <summary>Converts an ONNX classifier into a spiking network, calibrated on the data given to Fit.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="options">The model, columns, method and its settings.</param>
        /// <returns>The estimator.</returns>
        public static SpikingConversionEstimator ConvertToSpiking(this TransformsCatalog catalog, SpikingConversionOptions options)
        {
            ArgumentNullException.ThrowIfNull(catalog, nameof(catalog));
            return new SpikingConversionEstimator(options, log: null);
        }

        /// <summary>Rate-coding conversion with the default settings.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="modelFile">The ONNX model.</param>
        /// <param name="inputColumnName">The input column (vector of Single of the model's input size).</param>
        /// <param name="timeSteps">T, the simulated steps.</param>
        /// <returns>The estimator.</returns>
        public static SpikingConversionEstimator ConvertToSpiking(this TransformsCatalog catalog, string modelFile, string inputColumnName = "Pixels", int timeSteps = 32) =>
            catalog.ConvertToSpiking(new SpikingConversionOptions { ModelFile = modelFile, InputColumnName = inputColumnName, TimeSteps = timeSteps });

        /// <summary>The spiking entry points that honour the context's GPU settings and log to <see cref="MLContext.Log"/>.</summary>
        /// <param name="mlContext">The ML.NET context.</param>
        public static SpikingContext Spiking(this MLContext mlContext)
        {
            ArgumentNullException.ThrowIfNull(mlContext, nameof(mlContext));
            return new SpikingContext(mlContext);
        }
    }

    /// <summary>Spiking operations bound to one <see cref="MLContext"/>.</summary>
    public sealed class SpikingContext
    {
        private readonly MLContext _mlContext;
        private readonly IHost _host;

        internal SpikingContext(MLContext mlContext)
        {
            _mlContext = mlContext;
            _host = ((IHostEnvironment)mlContext).Register("Microsoft.ML.Spiking");
        }

        /// <summary>
        /// Like <see cref="SpikingCatalog.ConvertToSpiking(TransformsCatalog, SpikingConversionOptions)"/>, with
        /// <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> used when the options leave the
        /// device unset, and progress messages sent to <see cref="MLContext.Log"/>.
        /// </summary>
        /// <param name="options">The model, columns, method and its settings.</param>
        /// <returns>The estimator.</returns>
        public SpikingConversionEstimator ConvertToSpiking(SpikingConversionOptions options)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            if (options.GpuDeviceId == null && _mlContext.GpuDeviceId != null)
            {
                options.GpuDeviceId = _mlContext.GpuDeviceId;
                options.FallbackToCpu = _mlContext.FallbackToCpu;
            }
            return new SpikingConversionEstimator(options, Log);
        }

        /// <summary>
        /// Spiking metrics of scored data: accuracy after every step prefix t = 1..T (arg-max of the running estimate,
        /// ties to the lowest index, the rule of ML.NET's multiclass evaluator), the ANN's accuracy on the same rows,
        /// spikes per image, firing rate per layer, synaptic operations against the ANN's MACs and the energy ratio
        /// under <paramref name="energyModel"/> (algorithms.md §2.12; Horowitz 45 nm by default).
        /// </summary>
        /// <param name="scored">Output of <paramref name="transformer"/> (possibly through later transforms that keep its columns).</param>
        /// <param name="transformer">The transformer that scored the data (gives the layer layout).</param>
        /// <param name="labelColumnName">Label column: a key (missing keys are skipped) or a number holding the class index.</param>
        /// <param name="energyModel">Cost table, or null for <see cref="EnergyModel.Horowitz45nm"/>.</param>
        /// <param name="progress">Receives the number of rows read so far, every 256 rows and at the end.</param>
        /// <returns>The metrics.</returns>
        public SpikingMetrics Evaluate(IDataView scored, SpikingTransformer transformer, string labelColumnName = "Label", EnergyModel? energyModel = null, IProgress<long>? progress = null)
        {
            ArgumentNullException.ThrowIfNull(scored, nameof(scored));
            ArgumentNullException.ThrowIfNull(transformer, nameof(transformer));
            SpikingMetrics metrics = SpikingEvaluation.Evaluate(scored, transformer, labelColumnName, energyModel ?? EnergyModel.Horowitz45nm, progress);
            Log($"Evaluated {metrics.Images} rows: accuracy after T = {metrics.TimeSteps} steps {metrics.GetAccuracy(metrics.TimeSteps):P2}" +
                (metrics.AnnAccuracy is double ann ? $", ANN {ann:P2}" : string.Empty) + ".");
            return metrics;
        }

        private void Log(string message)
        {
            using IChannel channel = _host.Start("Spiking");
            channel.Info(MessageSensitivity.None, message);
        }
    }
}
