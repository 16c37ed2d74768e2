// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Buffers.Binary;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// A constant known at import time (an initializer, a Constant node, or a folded expression),
    /// with its full ONNX shape. Values are held as doubles, exact for float32 and for integers below 2^53.
    /// </summary>
    internal sealed class ConstValue
    {
        /// <summary>Stands for the batch size in a folded Shape when the model leaves the batch axis free.</summary>
        public const double DynamicBatch = -987654321.0;

        public ConstValue(int[] shape, double[] data, bool isInteger)
        {
            if (ShapeUtil.Product(shape) != data.Length)
            {
                throw new ArgumentException($"Constant of shape {ShapeUtil.Format(shape)} has {data.Length} values.");
            }
            Shape = shape;
            Data = data;
            IsInteger = isInteger;
        }

        public int[] Shape { get; }

        public double[] Data { get; }

        public bool IsInteger { get; }

        public float[] ToFloats() => Data.Select(d => (float)d).ToArray();

        /// <summary>The values as integers; ±2^63 (how INT64_MAX/MIN read back as doubles, e.g. Slice's "to the end") saturate.</summary>
        public long[] ToLongs() => Data.Select(d => d >= 9.2e18 ? long.MaxValue : d <= -9.2e18 ? long.MinValue : (long)d).ToArray();

        public FloatTensor ToTensor() => new FloatTensor((int[])Shape.Clone(), ToFloats());

        public static ConstValue FromTensor(TensorProto tensor, string source)
        {
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            {
                throw new OnnxImportException($"{source}: tensor '{tensor.Name}' stores its data in an external file; save the model with its weights embedded (onnx.save_model(..., save_as_external_data=False)).");
            }
            var shape = new int[tensor.Dims.Count];
            long count = 1;
            for (int i = 0; i < shape.Length; i++)
            {
                long d = tensor.Dims[i];
                if (d < 0 || d > int.MaxValue)
                {
                    throw new OnnxImportException($"{source}: tensor '{tensor.Name}' has an invalid dimension {d} (dims [{string.Join(",", tensor.Dims)}]).");
                }
                if (d != 0 && count > Array.MaxLength / d)
                {
                    throw new OnnxImportException($"{source}: tensor '{tensor.Name}' of dims [{string.Join(",", tensor.Dims)}] has more than {Array.MaxLength} elements.");
                }
                shape[i] = (int)d;
                count *= d;
            }
            var type = (TensorProto.Types.DataType)tensor.DataType;
            byte[]? raw = tensor.RawData.Length > 0 ? tensor.RawData.ToByteArray() : null;
            double[] data;
            bool isInteger = type != TensorProto.Types.DataType.Float && type != TensorProto.Types.DataType.Double && type != TensorProto.Types.DataType.Float16;
            int elementSize = type switch
            {
                TensorProto.Types.DataType.Float => 4,
                TensorProto.Types.DataType.Double => 8,
                TensorProto.Types.DataType.Int64 => 8,
                TensorProto.Types.DataType.Uint64 => 8,
                TensorProto.Types.DataType.Int32 => 4,
                TensorProto.Types.DataType.Uint32 => 4,
                TensorProto.Types.DataType.Int16 => 2,
                TensorProto.Types.DataType.Uint16 => 2,
                TensorProto.Types.DataType.Float16 => 2,
                TensorProto.Types.DataType.Int8 => 1,
                TensorProto.Types.DataType.Uint8 => 1,
                TensorProto.Types.DataType.Bool => 1,
                _ => throw new OnnxImportException($"{source}: tensor '{tensor.Name}' has data type {type}, which the importer does not read (float, double, float16 and integer types are supported)."),
            };
            if (raw != null)
            {
                if (raw.Length != count * elementSize)
                {
                    throw new OnnxImportException($"{source}: tensor '{tensor.Name}' of shape {ShapeUtil.Format(shape)} and type {type} has {raw.Length} bytes of raw data; expected {count * elementSize}.");
                }
                data = new double[count];
                ReadOnlySpan<byte> span = raw;
                for (long i = 0; i < count; i++)
                {
                    ReadOnlySpan<byte> e = span.Slice((int)(i * elementSize), elementSize);
                    data[i] = type switch
                    {
                        TensorProto.Types.DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(e),
                        TensorProto.Types.DataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(e),
                        TensorProto.Types.DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(e),
                        TensorProto.Types.DataType.Uint64 => BinaryPrimitives.ReadUInt64LittleEndian(e),
                        TensorProto.Types.DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(e),
                        TensorProto.Types.DataType.Uint32 => BinaryPrimitives.ReadUInt32LittleEndian(e),
                        TensorProto.Types.DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(e),
                        TensorProto.Types.DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(e),
                        TensorProto.Types.DataType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(e),
                        TensorProto.Types.DataType.Int8 => (sbyte)e[0],
                        _ => e[0],
                    };
                }
            }
            else
            {
                double[] typed = type switch
                {
                    TensorProto.Types.DataType.Float => tensor.FloatData.Select(v => (double)v).ToArray(),
                    TensorProto.Types.DataType.Double => tensor.DoubleData.ToArray(),
                    TensorProto.Types.DataType.Int64 => tensor.Int64Data.Select(v => (double)v).ToArray(),
                    TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Uint32 => tensor.Uint64Data.Select(v => (double)v).ToArray(),
                    TensorProto.Types.DataType.Float16 => tensor.Int32Data.Select(v => (double)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
                    _ => tensor.Int32Data.Select(v => (double)v).ToArray(),
                };
                if (typed.Length != count)
                {
                    throw new OnnxImportException($"{source}: tensor '{tensor.Name}' of shape {ShapeUtil.Format(shape)} holds {typed.Length} values; expected {count}.");
                }
                data = typed;
            }
            return new ConstValue(shape, data, isInteger);
        }

        /// <summary>Writes a float tensor as an initializer.</summary>
        public static TensorProto ToProto(string name, int[] shape, float[] data)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(shape.Select(d => (long)d));
            var bytes = new byte[data.Length * 4];
            for (int i = 0; i < data.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
            }
            t.RawData = ByteString.CopyFrom(bytes);
            return t;
        }

        /// <summary>Writes an int64 tensor as an initializer.</summary>
        public static TensorProto ToProto(string name, int[] shape, long[] data)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.AddRange(shape.Select(d => (long)d));
            t.Int64Data.AddRange(data);
            return t;
        }
    }
}
