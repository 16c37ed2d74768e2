// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

namespace Microsoft.ML.Spiking.Conversion.BitSerial
{
    /// <summary>Options of bit-serial (error-free) conversion (algorithms.md §4).</summary>
    public sealed class BitSerialOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public BitSerialOptions()
        {
            Quantization = ThresholdMethod.Percentile;
            Percentile = 99.9;
            Shift = true;
        }

        /// <summary>
        /// T, the bits (steps) per activation; L = 2^T − 1 levels. 0 (default) takes T from the model's QCFS
        /// activations (their L must then be 2^T − 1 for one T); a ReLU network needs T.
        /// </summary>
        public int Bits { get; set; }

        /// <summary>
        /// How λ of a ReLU is chosen when it is quantized after training to QCFS with L = 2^T − 1:
        /// the <see cref="ThresholdMethod.Percentile"/> of the ReLU output (default, 99.9), its <see cref="ThresholdMethod.Max"/>,
        /// or <see cref="ThresholdMethod.Iteration"/>: the λ that minimises the expected quantization error of a Gaussian
        /// fitted to the ReLU input's mean and variance (algorithms.md §2.11 with N = L). On ResNet-20 the percentile
        /// keeps 4–10 points more accuracy at 3–5 bits: the Gaussian fit under-weights the activations' long tail.
        /// </summary>
        public ThresholdMethod Quantization { get; set; }

        /// <summary>p for <see cref="ThresholdMethod.Percentile"/> (99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>
        /// For a QCFS model whose L is not 2^T − 1 for the requested T: re-quantize its activations to L = 2^T − 1,
        /// keeping λ (false, the default, makes such a model an error).
        /// </summary>
        public bool Requantize { get; set; }

        /// <summary>
        /// Apply the bias shift λ/(2L) (§4.3; default true). Without it the neurons compute floor(V·L/λ) instead of
        /// QCFS's rounding and the network no longer equals the quantized ANN (algorithms.md §6, case 29).
        /// </summary>
        public bool Shift { get; set; }
    }
}
