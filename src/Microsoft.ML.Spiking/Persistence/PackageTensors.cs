// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// Writes float arrays as zip entries <c>tensors/NNNN.bin</c> (raw little-endian IEEE 754 binary32, so every
    /// value, NaN payloads included, comes back bit for bit) and returns the JSON reference
    /// <c>{"data": "tensors/0003.bin", "shape": [4, 2, 3, 3]}</c>. An array shared by several layers (the spiking
    /// network reuses the ANN's weights) is written once.
    /// </summary>
    internal sealed class TensorWriter
    {
        public const string Folder = "tensors/";

        private readonly ZipArchive _archive;
        private readonly Dictionary<float[], string> _entries;

        public TensorWriter(ZipArchive archive)
        {
            _archive = archive;
            _entries = new Dictionary<float[], string>(ReferenceEqualityComparer.Instance);
        }

        public JsonObject Add(FloatTensor tensor) => Reference(Entry(tensor.Data), tensor.Shape);

        public JsonObject Add(float[] vector) => Reference(Entry(vector), new[] { vector.Length });

        public JsonNode? AddOptional(float[]? vector) => vector == null ? null : Add(vector);

        private static JsonObject Reference(string entry, int[] shape) =>
            new JsonObject { ["data"] = entry, ["shape"] = JsonScope.IntsNode(shape) };

        private string Entry(float[] data)
        {
            if (_entries.TryGetValue(data, out string? name))
            {
                return name;
            }
            name = Folder + _entries.Count.ToString("D4", CultureInfo.InvariantCulture) + ".bin";
            _entries[data] = name;
            ZipArchiveEntry entry = _archive.CreateEntry(name, CompressionLevel.Fastest);
            using Stream stream = entry.Open();
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            }
            else
            {
                var bytes = new byte[data.Length * sizeof(float)];
                for (int i = 0; i < data.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), data[i]);
                }
                stream.Write(bytes);
            }
            return name;
        }
    }

    /// <summary>Reads the tensors <see cref="TensorWriter"/> wrote; an entry referenced twice is read once and shared.</summary>
    internal sealed class TensorReader
    {
        private readonly PackageArchive _archive;
        private readonly Dictionary<string, float[]> _cache;

        public TensorReader(PackageArchive archive)
        {
            _archive = archive;
            _cache = new Dictionary<string, float[]>(StringComparer.Ordinal);
        }

        public FloatTensor Tensor(JsonScope scope, string name)
        {
            JsonScope reference = scope.Object(name);
            int[] shape = reference.Ints("shape");
            long count = 1;
            foreach (int d in shape)
            {
                if (d < 0)
                {
                    throw reference.Error($"'shape' [{string.Join(",", shape)}] has a negative dimension.");
                }
                count *= d;
                if (count > Array.MaxLength)
                {
                    throw reference.Error($"'shape' [{string.Join(",", shape)}] is too large.");
                }
            }
            float[] data = Data(reference, reference.String("data"));
            if (data.Length != count)
            {
                throw new FormatException($"Spiking package entry '{reference.String("data")}' holds {data.Length} values, but {reference.Entry}, {reference.Path} gives it the shape [{string.Join(",", shape)}] ({count} values): the entry is corrupt or truncated.");
            }
            return new FloatTensor(shape, data);
        }

        public float[] Vector(JsonScope scope, string name)
        {
            FloatTensor tensor = Tensor(scope, name);
            if (tensor.Shape.Length != 1)
            {
                throw scope.Error($"'{name}' must be a vector; its shape is [{string.Join(",", tensor.Shape)}].");
            }
            return tensor.Data;
        }

        public float[]? OptionalVector(JsonScope scope, string name) => scope.Has(name) ? Vector(scope, name) : null;

        private float[] Data(JsonScope reference, string entry)
        {
            if (!entry.StartsWith(TensorWriter.Folder, StringComparison.Ordinal))
            {
                throw reference.Error($"'data' names '{entry}', which is not under '{TensorWriter.Folder}'.");
            }
            if (_cache.TryGetValue(entry, out float[]? cached))
            {
                return cached;
            }
            byte[] bytes = _archive.ReadBytes(entry);
            if (bytes.Length % sizeof(float) != 0)
            {
                throw new FormatException($"Spiking package entry '{entry}' has {bytes.Length} bytes, not a whole number of 4-byte floats: the entry is corrupt or truncated.");
            }
            var data = new float[bytes.Length / sizeof(float)];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            }
            _cache[entry] = data;
            return data;
        }
    }
}
