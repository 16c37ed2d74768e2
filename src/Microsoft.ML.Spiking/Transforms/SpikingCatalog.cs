// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using Microsoft.ML.Runtime;
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

        private void Log(string message)
        {
            using IChannel channel = _host.Start("Spiking");
            channel.Info(MessageSensitivity.None, message);
        }
    }
}
