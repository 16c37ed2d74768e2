// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// The versioned package a fitted <see cref="SpikingTransformer"/> is saved as: a zip holding
    /// <list type="bullet">
    /// <item><c>manifest.json</c>: format version, reader version needed, library version, creation time, method, T,
    /// class names, conversion notes and options (<see cref="PackageManifest"/>);</item>
    /// <item><c>snn/network.json</c> and <c>ann/network.json</c>: the IR of the spiking network and of the prepared ANN
    /// (<see cref="NetworkCodec"/>), whose tensors are <c>tensors/NNNN.bin</c> (raw little-endian float32);</item>
    /// <item><c>snn.onnx</c>: the whole T-step simulation as one standalone ONNX model (<see cref="SnnOnnxExporter"/>),
    /// for use outside this library. Loading does not read it: the transformer is rebuilt from the IR.</item>
    /// </list>
    /// </summary>
    internal static class SpikingPackage
    {
        /// <summary>Written into the manifest's <c>format</c> member.</summary>
        public const string FormatName = "Microsoft.ML.Spiking transformer package";

        /// <summary>
        /// The format version this code writes. History (add a line, and bump, whenever what is written changes):
        /// 1: first version: manifest, spiking and ANN IR as JSON with binary tensors, snn.onnx.
        /// </summary>
        public const int FormatVersion = 1;

        /// <summary>
        /// The oldest reader version that can read what this code writes (the manifest's <c>minReaderVersion</c>).
        /// Stays below <see cref="FormatVersion"/> when a new version only adds members an older reader may ignore.
        /// </summary>
        public const int MinReaderVersion = 1;

        /// <summary>The oldest format version this code can read back.</summary>
        public const int OldestReadableVersion = 1;

        public const string ManifestEntry = "manifest.json";
        public const string SpikingNetworkEntry = "snn/network.json";
        public const string AnnEntry = "ann/network.json";
        public const string OnnxEntry = "snn.onnx";

        private static readonly JsonSerializerOptions s_jsonOptions = new JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };

        /// <summary>Writes the package. It is built in memory first, so a failure leaves nothing half-written in <paramref name="stream"/>.</summary>
        public static void Save(SpikingTransformer transformer, Stream stream)
        {
            ArgumentNullException.ThrowIfNull(transformer, nameof(transformer));
            ArgumentNullException.ThrowIfNull(stream, nameof(stream));
            byte[] onnx = SnnOnnxExporter.Export(transformer);
            using var buffer = new MemoryStream();
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            {
                WriteJson(zip, ManifestEntry, PackageManifest.Write(transformer, DateTimeOffset.UtcNow));
                var tensors = new TensorWriter(zip);
                JsonObject snn = NetworkCodec.Write(transformer.Network.Network, tensors);
                JsonObject ann = NetworkCodec.Write(transformer.Ann, tensors);
                WriteJson(zip, SpikingNetworkEntry, snn);
                WriteJson(zip, AnnEntry, ann);
                ZipArchiveEntry entry = zip.CreateEntry(OnnxEntry, CompressionLevel.Fastest);
                using Stream onnxStream = entry.Open();
                onnxStream.Write(onnx);
            }
            buffer.Position = 0;
            buffer.CopyTo(stream);
        }

        /// <summary>Reads a package and rebuilds the transformer, with GPU settings from <paramref name="mlContext"/>.</summary>
        /// <param name="mlContext">Supplies <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/>.</param>
        /// <param name="stream">The package.</param>
        /// <param name="source">Where it came from, for messages.</param>
        public static SpikingTransformer Load(MLContext mlContext, Stream stream, string source)
        {
            ArgumentNullException.ThrowIfNull(mlContext, nameof(mlContext));
            ArgumentNullException.ThrowIfNull(stream, nameof(stream));
            if (!stream.CanSeek)
            {
                // ZipArchive reads the central directory at the end first, so it needs a seekable stream.
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                copy.Position = 0;
                return Load(mlContext, copy, source);
            }
            using var archive = new PackageArchive(stream, source);
            JsonScope manifestJson = JsonScope.Parse(ManifestEntry, archive.ReadText(ManifestEntry));
            CheckVersion(manifestJson, source);
            PackageManifest manifest = PackageManifest.Read(manifestJson);
            var tensors = new TensorReader(archive);
            Network snn = NetworkCodec.Read(JsonScope.Parse(SpikingNetworkEntry, archive.ReadText(SpikingNetworkEntry)), tensors);
            Network ann = NetworkCodec.Read(JsonScope.Parse(AnnEntry, archive.ReadText(AnnEntry)), tensors);
            CheckConsistent(snn, ann, manifest, source);
            SpikingConversionOptions options = manifest.Options;
            options.GpuDeviceId = mlContext.GpuDeviceId;
            options.FallbackToCpu = mlContext.FallbackToCpu;
            return new SpikingTransformer(new SpikingNetwork(snn, manifest.Method, manifest.Notes, manifest.OutputBias), ann, options, manifest.ClassNames);
        }

        /// <summary>
        /// Accepts a package whose <c>minReaderVersion</c> is at most <see cref="FormatVersion"/> and whose
        /// <c>formatVersion</c> is at least <see cref="OldestReadableVersion"/>; returns its format version.
        /// </summary>
        internal static int CheckVersion(JsonScope manifest, string source)
        {
            int version = manifest.Int("formatVersion");
            int needs = manifest.Has("minReaderVersion") ? manifest.Int("minReaderVersion") : version;
            if (needs > FormatVersion)
            {
                throw new FormatException(
                    $"{source} is a spiking package of format version {version}, which needs a reader of format version {needs} or later; " +
                    $"this version of Microsoft.ML.Spiking reads format versions {OldestReadableVersion} to {FormatVersion}. Update Microsoft.ML.Spiking to load it.");
            }
            if (version < OldestReadableVersion)
            {
                throw new FormatException(
                    $"{source} is a spiking package of format version {version}; this version of Microsoft.ML.Spiking reads format versions " +
                    $"{OldestReadableVersion} to {FormatVersion}. Load it with an older Microsoft.ML.Spiking and save it again, or convert the model again.");
            }
            return version;
        }

        private static void CheckConsistent(Network snn, Network ann, PackageManifest manifest, string source)
        {
            string? problem = null;
            int classes = ShapeUtil.Size(snn.OutputShape);
            if (!ShapeUtil.SameShape(snn.InputShape, ann.InputShape))
            {
                problem = $"the spiking network's input {ShapeUtil.Format(snn.InputShape)} differs from the ANN's {ShapeUtil.Format(ann.InputShape)}";
            }
            else if (ShapeUtil.Size(ann.OutputShape) != classes)
            {
                problem = $"the spiking network has {classes} outputs and the ANN {ShapeUtil.Size(ann.OutputShape)}";
            }
            else if (manifest.ClassNames.Length != classes)
            {
                problem = $"{ManifestEntry} names {manifest.ClassNames.Length} classes for {classes} network outputs";
            }
            if (problem != null)
            {
                throw new FormatException($"{source} is not a consistent spiking package: {problem}.");
            }
        }

        private static void WriteJson(ZipArchive zip, string name, JsonObject value)
        {
            ZipArchiveEntry entry = zip.CreateEntry(name, CompressionLevel.Optimal);
            using Stream stream = entry.Open();
            byte[] bytes = Encoding.UTF8.GetBytes(value.ToJsonString(s_jsonOptions));
            stream.Write(bytes);
        }
    }
}
