// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Graph.Passes
{
    /// <summary>What preparation does to an imported network before calibration.</summary>
    public sealed class PreparationOptions
    {
        /// <summary>Per-channel mean to fold into the network (null: the input is already normalized).</summary>
        public float[]? InputMean { get; set; }

        /// <summary>Per-channel standard deviation to fold into the network (null: none).</summary>
        public float[]? InputStd { get; set; }

        /// <summary>Swap ReLU → MaxPool into MaxPool → ReLU (methods that pool currents, not spikes, want this).</summary>
        public bool SwapReluMaxPool { get; set; }

        /// <summary>
        /// Mark the neuron sites of a transformer (<see cref="TransformerNeuronSites"/>): differential coding places an
        /// identity multi-threshold neuron on the input of every linear layer and product. Ignored for networks
        /// without transformer layers.
        /// </summary>
        public bool MarkTransformerNeuronSites { get; set; }
    }

    /// <summary>The standard pass order between import and calibration.</summary>
    public static class NetworkPreparation
    {
        /// <summary>
        /// Detects QCFS chains (before anything folds their constants), folds batch normalization and bias
        /// additions, optionally swaps ReLU/MaxPool, then folds input normalization.
        /// </summary>
        /// <param name="network">The imported network.</param>
        /// <param name="options">Options, or null for none.</param>
        /// <returns>The prepared network; it computes the same function (up to float rounding).</returns>
        public static Network Prepare(Network network, PreparationOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            options ??= new PreparationOptions();
            Network result = QcfsDetection.Apply(network);
            result = BatchNormFolding.Apply(result);
            result = BiasFusion.Apply(result);
            if (options.SwapReluMaxPool)
            {
                result = ReluMaxPoolSwap.Apply(result);
            }
            if (options.InputMean != null || options.InputStd != null)
            {
                int c = result.InputShape[0];
                result = InputNormalization.Apply(result, options.InputMean ?? new float[c], options.InputStd ?? Ones(c));
            }
            if (options.MarkTransformerNeuronSites && TransformerNeuronSites.IsTransformer(result))
            {
                result = TransformerNeuronSites.Apply(result);
            }
            return result;
        }

        private static float[] Ones(int count)
        {
            var ones = new float[count];
            Array.Fill(ones, 1f);
            return ones;
        }
    }
}
