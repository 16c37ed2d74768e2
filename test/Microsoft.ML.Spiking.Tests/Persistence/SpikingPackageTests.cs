// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Persistence;
using Microsoft.ML.Spiking.Tests.Transforms;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Persistence
{
    /// <summary>SpikingTransformer.Save/Load: bit-identical outputs after a round trip, and clear failures on bad packages.</summary>
    [TestClass]
    public sealed class SpikingPackageTests
    {
        private static readonly Lazy<byte[]> s_package = new Lazy<byte[]>(() =>
        {
            var ml = new MLContext(seed: 1);
            using SpikingTransformer transformer = ml.Transforms.ConvertToSpiking(Options(7)).Fit(ml.Data.LoadFromEnumerable(SpikingEstimatorTests.Rows(20)));
            var buffer = new MemoryStream();
            transformer.Save(buffer);
            return buffer.ToArray();
        });

        /// <summary>The estimator tests' fixture, with input normalization (a padded first conv keeps it as a ChannelAffine layer).</summary>
        internal static SpikingConversionOptions Options(int batchSize, ConversionMethod method = ConversionMethod.RateCoding) => new SpikingConversionOptions
        {
            Method = method,
            Thresholds = method == ConversionMethod.DifferentialCoding ? ThresholdMethod.Iteration : ThresholdMethod.Percentile,
            DistributionAwareCalibration = method == ConversionMethod.Parallel,
            ModelBytes = SpikingEstimatorTests.FixtureModel(),
            TimeSteps = 8,
            BatchSize = batchSize,
            ClassNames = Enumerable.Range(0, 4).Select(i => "class" + i).ToArray(),
            InputMean = new[] { 0.5f, 0.4f },
            InputStd = new[] { 0.25f, 0.3f },
        };

        [TestMethod]
        [DataRow(ConversionMethod.RateCoding)]
        [DataRow(ConversionMethod.DifferentialCoding)]
        [DataRow(ConversionMethod.BitSerial)]
        [DataRow(ConversionMethod.Parallel)]
        public void ReloadedTransformerGivesBitIdenticalOutputs(ConversionMethod method)
        {
            var ml = new MLContext(seed: 1);
            IDataView data = ml.Data.LoadFromEnumerable(SpikingEstimatorTests.Rows(50));
            string path = Path.Combine(Path.GetTempPath(), $"spiking-{Guid.NewGuid():N}.zip");
            try
            {
                using SpikingTransformer original = ml.Transforms.ConvertToSpiking(Options(7, method)).Fit(data);
                Assert.AreEqual(method == ConversionMethod.DifferentialCoding, original.Network.IsDifferential);
                original.Save(path);
                using SpikingTransformer fromFile = SpikingTransformer.Load(ml, path);
                var buffer = new MemoryStream();
                original.Save(buffer);
                using SpikingTransformer fromStream = SpikingTransformer.Load(ml, new NonSeekableStream(buffer.ToArray()));

                Dictionary<string, long[][]> expected = Outputs(original.Transform(data));
                foreach (SpikingTransformer loaded in new[] { fromFile, fromStream })
                {
                    Assert.AreEqual(8, loaded.TimeSteps);
                    CollectionAssert.AreEqual(original.ClassNames.ToArray(), loaded.ClassNames.ToArray());
                    CollectionAssert.AreEqual(original.Network.Notes.ToArray(), loaded.Network.Notes.ToArray());
                    Assert.AreEqual(original.Network.Method, loaded.Network.Method);
                    CollectionAssert.AreEqual(original.Network.OutputBias, loaded.Network.OutputBias);
                    Assert.AreEqual(7, loaded.Options.BatchSize);
                    CollectionAssert.AreEqual(original.Options.InputStd, loaded.Options.InputStd);
                    AssertSameNetwork(original.Network.Network, loaded.Network.Network);
                    AssertSameNetwork(original.Ann, loaded.Ann);

                    IDataView scored = loaded.Transform(data);
                    CollectionAssert.AreEqual(original.GetOutputSchema(data.Schema).Select(c => $"{c.Name}:{c.Type}").ToArray(), scored.Schema.Select(c => $"{c.Name}:{c.Type}").ToArray());
                    Dictionary<string, long[][]> actual = Outputs(scored);
                    foreach (string column in expected.Keys)
                    {
                        Assert.AreEqual(50, actual[column].Length, column);
                        for (int row = 0; row < 50; row++)
                        {
                            CollectionAssert.AreEqual(expected[column][row], actual[column][row], $"{column}, row {row}: values differ in their bits");
                        }
                    }
                }
            }
            finally
            {
                File.Delete(path);
            }
        }

        [TestMethod]
        public void ManifestRecordsVersionsOptionsAndNotes()
        {
            using var zip = new ZipArchive(new MemoryStream(s_package.Value), ZipArchiveMode.Read);
            CollectionAssert.IsSubsetOf(new[] { "manifest.json", "snn/network.json", "ann/network.json", "snn.onnx", "tensors/0000.bin" }, zip.Entries.Select(e => e.FullName).ToArray());
            JsonObject manifest = ReadManifest(s_package.Value);
            Assert.AreEqual(SpikingPackage.FormatVersion, (int)manifest["formatVersion"]!);
            Assert.AreEqual(SpikingPackage.MinReaderVersion, (int)manifest["minReaderVersion"]!);
            Assert.AreEqual(typeof(SpikingTransformer).Assembly.GetName().Version!.ToString(), (string)manifest["libraryVersion"]!);
            Assert.IsTrue(DateTimeOffset.UtcNow - DateTimeOffset.Parse((string)manifest["createdUtc"]!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromHours(1));
            Assert.AreEqual("RateCoding", (string)manifest["conversionMethod"]!);
            Assert.AreEqual(8, (int)manifest["timeSteps"]!);
            Assert.AreEqual("class3", (string)manifest["classNames"]![3]!);
            Assert.IsInstanceOfType<JsonArray>(manifest["notes"]);
            JsonObject options = manifest["options"]!.AsObject();
            Assert.AreEqual("Pixels", (string)options["inputColumnName"]!);
            Assert.AreEqual(7, (int)options["batchSize"]!);
            Assert.AreEqual("Percentile", (string)options["thresholds"]!);
            Assert.AreEqual(99.9, (double)options["percentile"]!);
            Assert.AreEqual(0.3f, (float)options["inputStd"]![1]!);
        }

        [TestMethod]
        public void EveryOptionIsStoredOrDeliberatelyLeftOut()
        {
            string[] all = typeof(SpikingConversionOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).OrderBy(n => n).ToArray();
            string[] handled = PackageManifest.PersistedOptions.Concat(PackageManifest.NotPersistedOptions).OrderBy(n => n).ToArray();
            CollectionAssert.AreEqual(all, handled, "A new SpikingConversionOptions property must be stored in the package manifest (Persistence/PackageManifest.cs) or listed as not persisted.");
        }

        [TestMethod]
        public void VersionTooNewIsRejected()
        {
            byte[] newer = EditManifest(s_package.Value, m =>
            {
                m["formatVersion"] = 99;
                m["minReaderVersion"] = 99;
            });
            var e = Assert.ThrowsExactly<FormatException>(() => Load(newer));
            StringAssert.Contains(e.Message, "format version 99");
            StringAssert.Contains(e.Message, $"reads format versions {SpikingPackage.OldestReadableVersion} to {SpikingPackage.FormatVersion}");

            // A newer writer that declares older readers able to read it (only additions) is read.
            byte[] compatible = EditManifest(s_package.Value, m =>
            {
                m["formatVersion"] = SpikingPackage.FormatVersion + 1;
                m["minReaderVersion"] = SpikingPackage.FormatVersion;
                m["someFutureMember"] = "ignored";
            });
            using (SpikingTransformer loaded = Load(compatible))
            {
                Assert.AreEqual(8, loaded.TimeSteps);
            }

            byte[] older = EditManifest(s_package.Value, m => m["formatVersion"] = SpikingPackage.OldestReadableVersion - 1);
            e = Assert.ThrowsExactly<FormatException>(() => Load(older));
            StringAssert.Contains(e.Message, $"format version {SpikingPackage.OldestReadableVersion - 1}");
        }

        [TestMethod]
        public void TruncatedOrCorruptPackagesAreRejected()
        {
            byte[] package = s_package.Value;
            var e = Assert.ThrowsExactly<FormatException>(() => Load(package.AsSpan(0, package.Length / 2).ToArray()));
            StringAssert.Contains(e.Message, "not a readable zip archive");
            e = Assert.ThrowsExactly<FormatException>(() => Load(Encoding.UTF8.GetBytes("not a zip at all")));
            StringAssert.Contains(e.Message, "not a readable zip archive");

            // Flipped bits inside an entry's stored data: caught by inflating or by the CRC-32.
            foreach (string entry in new[] { "tensors/0002.bin", "snn/network.json", "manifest.json" })
            {
                byte[] corrupt = CorruptEntryData(package, entry);
                e = Assert.ThrowsExactly<FormatException>(() => Load(corrupt), entry);
                StringAssert.Contains(e.Message, $"'{entry}'");
            }

            // A consistent zip whose tensor is too short for the shape the network gives it.
            byte[] shortTensor = Edit(package, zip => Replace(zip, "tensors/0002.bin", new byte[8]));
            e = Assert.ThrowsExactly<FormatException>(() => Load(shortTensor));
            StringAssert.Contains(e.Message, "'tensors/0002.bin' holds 2 values");

            byte[] badJson = Edit(package, zip => Replace(zip, "ann/network.json", Encoding.UTF8.GetBytes("{ \"inputName\": ")));
            e = Assert.ThrowsExactly<FormatException>(() => Load(badJson));
            StringAssert.Contains(e.Message, "'ann/network.json' is not valid JSON");

            byte[] noBatch = EditManifest(package, m => m["options"]!.AsObject().Remove("batchSize"));
            e = Assert.ThrowsExactly<FormatException>(() => Load(noBatch));
            StringAssert.Contains(e.Message, "'manifest.json', $.options: 'batchSize' is missing");

            byte[] badEnum = EditManifest(package, m => m["options"]!["reset"] = "Sometimes");
            e = Assert.ThrowsExactly<FormatException>(() => Load(badEnum));
            StringAssert.Contains(e.Message, "\"Sometimes\"");
        }

        [TestMethod]
        public void MissingEntriesAreNamed()
        {
            foreach (string entry in new[] { "manifest.json", "snn/network.json", "ann/network.json", "tensors/0000.bin" })
            {
                byte[] missing = Edit(s_package.Value, zip => zip.GetEntry(entry)!.Delete());
                var e = Assert.ThrowsExactly<FormatException>(() => Load(missing), entry);
                StringAssert.Contains(e.Message, $"'{entry}' is missing");
            }

            // snn.onnx is for other tools; loading does not need it.
            byte[] noOnnx = Edit(s_package.Value, zip => zip.GetEntry("snn.onnx")!.Delete());
            using SpikingTransformer loaded = Load(noOnnx);
            Assert.AreEqual(4, loaded.ClassNames.Count);
        }

        [TestMethod]
        public void ArgumentsAreChecked()
        {
            var ml = new MLContext();
            Assert.ThrowsExactly<ArgumentNullException>(() => SpikingTransformer.Load(null!, new MemoryStream()));
            Assert.ThrowsExactly<ArgumentNullException>(() => SpikingTransformer.Load(ml, (Stream)null!));
            Assert.ThrowsExactly<FileNotFoundException>(() => SpikingTransformer.Load(ml, Path.Combine(Path.GetTempPath(), "no-such-package.zip")));
            using SpikingTransformer transformer = Load(s_package.Value);
            Assert.ThrowsExactly<ArgumentNullException>(() => transformer.Save((Stream)null!));
            Assert.ThrowsExactly<ArgumentException>(() => transformer.Save(" "));
        }

        internal static SpikingTransformer Load(byte[] package) => SpikingTransformer.Load(new MLContext(), new MemoryStream(package));

        private static Dictionary<string, long[][]> Outputs(IDataView scored)
        {
            long[][] Floats(string column) => scored.GetColumn<float[]>(column).Select(v => v.Select(f => (long)BitConverter.SingleToInt32Bits(f)).ToArray()).ToArray();
            long[][] Doubles(string column) => scored.GetColumn<double[]>(column).Select(v => v.Select(BitConverter.DoubleToInt64Bits).ToArray()).ToArray();
            return new Dictionary<string, long[][]>
            {
                ["Score"] = Floats("Score"),
                ["PredictedLabel"] = scored.GetColumn<uint>("PredictedLabel").Select(k => new long[] { k }).ToArray(),
                ["ScorePerStep"] = Floats("ScorePerStep"),
                ["SpikeCount"] = Doubles("SpikeCount"),
                ["AnnScore"] = Floats("AnnScore"),
                ["SpikesPerStep"] = Doubles("SpikesPerStep"),
                ["SynapticOpsPerStep"] = Doubles("SynapticOpsPerStep"),
            };
        }

        private static void AssertSameNetwork(Network expected, Network actual)
        {
            Assert.AreEqual(expected.Describe(), actual.Describe());
            Assert.AreEqual(expected.Source, actual.Source);
            for (int i = 0; i < expected.Layers.Count; i++)
            {
                NetworkRoundTripTests.AssertSameLayer(expected.Layers[i], actual.Layers[i]);
            }
        }

        private static JsonObject ReadManifest(byte[] package)
        {
            using var zip = new ZipArchive(new MemoryStream(package), ZipArchiveMode.Read);
            using var reader = new StreamReader(zip.GetEntry("manifest.json")!.Open());
            return JsonNode.Parse(reader.ReadToEnd())!.AsObject();
        }

        private static byte[] EditManifest(byte[] package, Action<JsonObject> edit)
        {
            JsonObject manifest = ReadManifest(package);
            edit(manifest);
            return Edit(package, zip => Replace(zip, "manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString())));
        }

        private static byte[] Edit(byte[] package, Action<ZipArchive> edit)
        {
            var buffer = new MemoryStream();
            buffer.Write(package);
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Update, leaveOpen: true))
            {
                edit(zip);
            }
            return buffer.ToArray();
        }

        private static void Replace(ZipArchive zip, string name, byte[] content)
        {
            zip.GetEntry(name)!.Delete();
            using Stream stream = zip.CreateEntry(name).Open();
            stream.Write(content);
        }

        /// <summary>Flips the bits of one byte in the middle of an entry's stored (compressed) data, leaving the zip's directory intact.</summary>
        private static byte[] CorruptEntryData(byte[] package, string name)
        {
            byte[] bytes = (byte[])package.Clone();
            byte[] nameBytes = Encoding.ASCII.GetBytes(name);
            for (int i = 0; i + 30 < bytes.Length; i++)
            {
                if (BitConverter.ToUInt32(bytes, i) == 0x04034b50 && BitConverter.ToUInt16(bytes, i + 26) == nameBytes.Length
                    && bytes.AsSpan(i + 30, nameBytes.Length).SequenceEqual(nameBytes))
                {
                    int compressed = BitConverter.ToInt32(bytes, i + 18);
                    int start = i + 30 + nameBytes.Length + BitConverter.ToUInt16(bytes, i + 28);
                    Assert.IsTrue(compressed > 2, $"{name}: the local header records its size");
                    bytes[start + compressed / 2] ^= 0x5A;
                    return bytes;
                }
            }
            throw new AssertFailedException($"No local header for {name}.");
        }

        /// <summary>A read-only stream that cannot seek, like a network stream.</summary>
        private sealed class NonSeekableStream : MemoryStream
        {
            public NonSeekableStream(byte[] data)
                : base(data, writable: false)
            {
            }

            public override bool CanSeek => false;

            public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
        }
    }
}
