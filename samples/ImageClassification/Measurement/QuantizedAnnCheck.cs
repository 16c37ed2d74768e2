// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Samples.Measurement
{
    /// <summary>Bit-serial runs: the quantized ANN's accuracy on the evaluated images and the share of rows where the SNN predicts what it does.</summary>
    internal static class QuantizedAnnCheck
    {
        /// <summary>Runs the quantized ANN on <paramref name="pixels"/> (the rows of <paramref name="scored"/>, in order).</summary>
        /// <param name="quantizedAnn">The quantized ANN.</param>
        /// <param name="pixels">The evaluated images.</param>
        /// <param name="scored">The transformer's output on the same rows: Label and PredictedLabel keys.</param>
        /// <param name="batchSize">Rows per ANN call.</param>
        public static (double Accuracy, double Agreement) Compare(Network quantizedAnn, PixelMatrix pixels, IDataView scored, int batchSize)
        {
            uint[] labels = scored.GetColumn<uint>("Label").ToArray();
            uint[] predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
            if (labels.Length != pixels.Rows)
            {
                throw new InvalidOperationException($"The scored data has {labels.Length} rows; the pixels have {pixels.Rows}.");
            }
            using var runner = new AnnRunner(quantizedAnn);
            int classes = runner.OutputSize;
            int correct = 0, agree = 0;
            for (int start = 0; start < pixels.Rows; start += batchSize)
            {
                int rows = Math.Min(batchSize, pixels.Rows - start);
                float[] logits = runner.Run(pixels.Values.AsSpan(start * pixels.RowSize, rows * pixels.RowSize).ToArray(), rows);
                for (int i = 0; i < rows; i++)
                {
                    // Keys are 1-based; the arg-max (ties to the lowest index) is the class index.
                    uint key = (uint)SimulationResult.ArgMax(logits.AsSpan(i * classes, classes)) + 1;
                    correct += key == labels[start + i] ? 1 : 0;
                    agree += key == predicted[start + i] ? 1 : 0;
                }
            }
            return ((double)correct / pixels.Rows, (double)agree / pixels.Rows);
        }
    }
}
