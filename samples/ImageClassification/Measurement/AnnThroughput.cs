// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Samples.Measurement
{
    /// <summary>The evaluated images' pixel vectors, back to back, as the ANN timing pass feeds them.</summary>
    internal sealed class PixelMatrix
    {
        private PixelMatrix(float[] values, int rows, int rowSize)
        {
            Values = values;
            Rows = rows;
            RowSize = rowSize;
        }

        /// <summary>All rows back to back.</summary>
        public float[] Values { get; }

        /// <summary>Number of rows.</summary>
        public int Rows { get; }

        /// <summary>Values per row.</summary>
        public int RowSize { get; }

        /// <summary>Reads a known-size vector column of Single into memory (which also fills a cache in front of it).</summary>
        /// <param name="data">The data.</param>
        /// <param name="columnName">The vector column.</param>
        /// <returns>The rows.</returns>
        public static PixelMatrix Read(IDataView data, string columnName)
        {
            ArgumentNullException.ThrowIfNull(data, nameof(data));
            DataViewSchema.Column column = data.Schema[columnName];
            int size = column.Type is VectorDataViewType { Size: > 0 } vector ? vector.Size
                : throw new ArgumentOutOfRangeException(nameof(columnName), $"Column '{columnName}' is not a known-size vector.");
            var rows = new System.Collections.Generic.List<float[]>();
            using (DataViewRowCursor cursor = data.GetRowCursor(data.Schema))
            {
                ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    getter(ref buffer);
                    var row = new float[size];
                    buffer.CopyTo(row);
                    rows.Add(row);
                }
            }
            var values = new float[(long)rows.Count * size];
            for (int i = 0; i < rows.Count; i++)
            {
                rows[i].CopyTo(values, (long)i * size);
            }
            return new PixelMatrix(values, rows.Count, size);
        }
    }

    /// <summary>
    /// ANN throughput: the prepared ANN the spiking network was converted from (the library's <see cref="AnnRunner"/>,
    /// ONNX Runtime on the lowered graph) over the evaluated images' pixels, in batches: the fastest of
    /// <see cref="Passes"/> passes, since one pass over a few hundred images takes milliseconds and a busy machine
    /// disturbs it. Session creation and one warm-up batch are not timed.
    /// </summary>
    internal static class AnnThroughput
    {
        /// <summary>Timed passes; the fastest counts.</summary>
        public const int Passes = 3;

        /// <summary>Images per second of one pass over <paramref name="pixels"/>.</summary>
        /// <param name="ann">The prepared ANN (<see cref="SpikingTransformer.Ann"/>).</param>
        /// <param name="pixels">The inputs.</param>
        /// <param name="batchSize">Rows per ONNX Runtime call.</param>
        public static double ImagesPerSecond(Network ann, PixelMatrix pixels, int batchSize)
        {
            ArgumentNullException.ThrowIfNull(ann, nameof(ann));
            ArgumentNullException.ThrowIfNull(pixels, nameof(pixels));
            using var runner = new AnnRunner(ann);
            int warmUp = Math.Min(batchSize, pixels.Rows);
            runner.Run(pixels.Values.AsSpan(0, warmUp * pixels.RowSize).ToArray(), warmUp);
            var batches = new (float[] Inputs, int Rows)[(pixels.Rows + batchSize - 1) / batchSize];
            for (int b = 0; b < batches.Length; b++)
            {
                int rows = Math.Min(batchSize, pixels.Rows - b * batchSize);
                batches[b] = (pixels.Values.AsSpan(b * batchSize * pixels.RowSize, rows * pixels.RowSize).ToArray(), rows);
            }
            double best = double.PositiveInfinity;
            for (int pass = 0; pass < Passes; pass++)
            {
                var watch = Stopwatch.StartNew();
                foreach ((float[] inputs, int rows) in batches)
                {
                    runner.Run(inputs, rows);
                }
                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }
            return pixels.Rows / best;
        }
    }
}
