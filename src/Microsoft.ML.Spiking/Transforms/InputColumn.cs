// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking
{
    /// <summary>The input-column check shared by the estimator (Fit) and the transformer (schema, Transform, row mapper).</summary>
    internal static class InputColumn
    {
        /// <summary>Finds the column and checks it is a vector of Single of the network's input size, with ML.NET's message shapes.</summary>
        /// <exception cref="ArgumentOutOfRangeException">The column is missing or has another type or size.</exception>
        public static DataViewSchema.Column Check(DataViewSchema schema, string name, int[] inputShape)
        {
            int size = ShapeUtil.Size(inputShape);
            DataViewSchema.Column column = schema.GetColumnOrNull(name)
                ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Could not find input column '{name}'");
            if (column.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single || vector.Size != size)
            {
                throw new ArgumentOutOfRangeException(nameof(schema), $"Schema mismatch for input column '{name}': expected vector of Single with {size} values ([{string.Join(",", inputShape)}]), got {column.Type}");
            }
            return column;
        }
    }
}
