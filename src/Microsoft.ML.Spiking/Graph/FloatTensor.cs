// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>
    /// A dense, row-major tensor of 32-bit floats: the weights and constants of the network IR.
    /// </summary>
    public sealed class FloatTensor
    {
        /// <summary>Creates a tensor from its shape and data; the data length must equal the shape's product.</summary>
        /// <param name="shape">Dimensions, outermost first. An empty shape is a scalar.</param>
        /// <param name="data">Values in row-major order. The tensor keeps this array.</param>
        public FloatTensor(int[] shape, float[] data)
        {
            ArgumentNullException.ThrowIfNull(shape, nameof(shape));
            ArgumentNullException.ThrowIfNull(data, nameof(data));
            long count = ShapeUtil.Product(shape);
            if (count != data.Length)
            {
                throw new ArgumentException(
                    $"Tensor data has {data.Length} values but shape [{string.Join(",", shape)}] needs {count}.", nameof(data));
            }
            Shape = shape;
            Data = data;
        }

        /// <summary>Dimensions, outermost first.</summary>
        public int[] Shape { get; }

        /// <summary>Values in row-major order.</summary>
        public float[] Data { get; }

        /// <summary>Number of values.</summary>
        public int Length => Data.Length;

        /// <summary>Creates a scalar tensor.</summary>
        /// <param name="value">The value.</param>
        public static FloatTensor Scalar(float value) => new FloatTensor(Array.Empty<int>(), new[] { value });

        /// <summary>Creates a 1-D tensor from values.</summary>
        /// <param name="values">The values.</param>
        public static FloatTensor Vector(params float[] values) => new FloatTensor(new[] { values.Length }, values);

        /// <summary>Returns a deep copy.</summary>
        public FloatTensor Clone() => new FloatTensor((int[])Shape.Clone(), (float[])Data.Clone());

        /// <summary>Returns a tensor with the same data and another shape of equal size.</summary>
        /// <param name="shape">The new shape.</param>
        public FloatTensor Reshape(int[] shape) => new FloatTensor(shape, Data);

        /// <summary>True when every value is the same (the tensor acts as a scalar).</summary>
        public bool IsUniform => Data.Length > 0 && Data.All(v => v.Equals(Data[0]));

        /// <inheritdoc/>
        public override string ToString() => $"FloatTensor[{string.Join(",", Shape)}]";
    }

    /// <summary>Shape helpers shared by the IR, import and lowering.</summary>
    internal static class ShapeUtil
    {
        public static long Product(int[] shape)
        {
            long p = 1;
            foreach (int d in shape)
            {
                p *= d;
            }
            return p;
        }

        public static int Size(int[] shape) => checked((int)Product(shape));

        public static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";

        public static bool SameShape(int[] a, int[] b) => a.Length == b.Length && a.AsSpan().SequenceEqual(b);

        /// <summary>Numpy-style broadcast of two shapes, or null when they do not broadcast.</summary>
        public static int[]? Broadcast(int[] a, int[] b)
        {
            int rank = Math.Max(a.Length, b.Length);
            var result = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
                int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
                if (da != db && da != 1 && db != 1)
                {
                    return null;
                }
                result[i] = Math.Max(da, db);
            }
            return result;
        }
    }
}
