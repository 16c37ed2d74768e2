// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests
{
    /// <summary>
    /// Locates the real public models and test sets kept beside the repository (../shared/data) and
    /// reads them. Tests that need them report Inconclusive when the folder is absent.
    /// </summary>
    internal static class SharedData
    {
        private static readonly Lazy<string?> s_root = new Lazy<string?>(FindRoot);

        /// <summary>Per-channel mean the CIFAR-10 ResNet-20 expects (data README).</summary>
        public static readonly float[] CifarMean = { 0.4914f, 0.4822f, 0.4465f };

        /// <summary>Per-channel standard deviation the CIFAR-10 ResNet-20 expects.</summary>
        public static readonly float[] CifarStd = { 0.2023f, 0.1994f, 0.2010f };

        /// <summary>resnet20.onnx imported and prepared with its normalization folded in (takes pixels in [0, 1]).</summary>
        public static Microsoft.ML.Spiking.Graph.Network PreparedResNet20() =>
            Microsoft.ML.Spiking.Graph.Passes.NetworkPreparation.Prepare(
                Microsoft.ML.Spiking.Onnx.OnnxImporter.Load(Require("cifar10", "resnet20.onnx")),
                new Microsoft.ML.Spiking.Graph.Passes.PreparationOptions { InputMean = CifarMean, InputStd = CifarStd });

        /// <summary>CHW images in [0, 1] normalized as the original ResNet-20 file expects.</summary>
        public static float[][] NormalizeCifar(float[][] images) =>
            images.Select(img => img.Select((v, i) => (v - CifarMean[i / 1024]) / CifarStd[i / 1024]).ToArray()).ToArray();

        public static string? Root => s_root.Value;

        public static string Require(params string[] relative)
        {
            if (Root == null)
            {
                Assert.Inconclusive("../shared/data is not present next to the repository (set SPIKING_SHARED_DATA to point at it).");
            }
            string path = Path.Combine(new[] { Root! }.Concat(relative).ToArray());
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                Assert.Inconclusive($"{path} is missing.");
            }
            return path;
        }

        private static string? FindRoot()
        {
            // SPIKING_SHARED_DATA overrides the search; pointing it at a missing folder simulates a fresh clone.
            string? fromEnv = Environment.GetEnvironmentVariable("SPIKING_SHARED_DATA");
            if (!string.IsNullOrEmpty(fromEnv))
            {
                return Directory.Exists(fromEnv) ? fromEnv : null;
            }
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Spiking.sln")))
                {
                    string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                    return Directory.Exists(candidate) ? candidate : null;
                }
            }
            return null;
        }

        /// <summary>CIFAR-10 lossless sample: labels and images as CHW floats in [0, 1].</summary>
        public static (int[] Labels, float[][] Images) ReadCifarCsv(string path, int limit)
        {
            var labels = new List<int>();
            var images = new List<float[]>();
            foreach (string line in File.ReadLines(path).Take(limit))
            {
                int[] v = line.Split(',').Select(int.Parse).ToArray();
                labels.Add(v[0]);
                var chw = new float[3 * 32 * 32];
                for (int p = 0; p < 1024; p++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        chw[c * 1024 + p] = v[1 + p * 3 + c] / 255f;
                    }
                }
                images.Add(chw);
            }
            return (labels.ToArray(), images.ToArray());
        }

        /// <summary>MNIST IDX test images as [1,28,28] floats in [0, 1] and labels.</summary>
        public static (int[] Labels, float[][] Images) ReadMnist(string imagesGz, string labelsGz, int limit)
        {
            byte[] images = Gunzip(imagesGz);
            byte[] labels = Gunzip(labelsGz);
            int count = Math.Min(limit, (images[4] << 24) | (images[5] << 16) | (images[6] << 8) | images[7]);
            var result = new float[count][];
            var labelArray = new int[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = new float[784];
                for (int p = 0; p < 784; p++)
                {
                    result[i][p] = images[16 + i * 784 + p] / 255f;
                }
                labelArray[i] = labels[8 + i];
            }
            return (labelArray, result);
        }

        private static byte[] Gunzip(string path)
        {
            using var file = File.OpenRead(path);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var memory = new MemoryStream();
            gz.CopyTo(memory);
            return memory.ToArray();
        }
    }
}
