// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Samples.Cli;

namespace Microsoft.ML.Spiking.Samples.Data
{
    /// <summary>The ONNX model to convert (a file, or the embedded demo model) and what its input and output need.</summary>
    internal sealed class ModelSource
    {
        /// <summary>Name of the demo model embedded in the sample assembly.</summary>
        public const string EmbeddedModelName = "shapes-cnn.onnx";

        /// <summary>Channels the sample's ExtractPixels produces (RGB).</summary>
        public const int ImageChannels = 3;

        private ModelSource(string? file, byte[]? bytes, string name, int[] inputShape, int classes, bool isTransformer)
        {
            IsTransformer = isTransformer;
            File = file;
            Bytes = bytes;
            Name = name;
            InputShape = inputShape;
            Classes = classes;
        }

        /// <summary>The model file, or null for the embedded model.</summary>
        public string? File { get; }

        /// <summary>The embedded model's bytes, or null for a file.</summary>
        public byte[]? Bytes { get; }

        /// <summary>File name, or "shapes-cnn.onnx (embedded)".</summary>
        public string Name { get; }

        /// <summary>Model input per sample, without the batch axis: [C, H, W] or [F].</summary>
        public IReadOnlyList<int> InputShape { get; }

        /// <summary>Number of classes the model outputs.</summary>
        public int Classes { get; }

        /// <summary>True for a transformer (LayerNorm, GELU, attention): differential coding then takes percentile thresholds by default.</summary>
        public bool IsTransformer { get; }

        /// <summary>Imports the model once to read its input and output shapes (the import also finds unsupported ops before any image is read).</summary>
        /// <param name="file">The ONNX file, or null for the embedded demo model.</param>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="OnnxImportException">The file is not a model the library can import.</exception>
        public static ModelSource Load(string? file)
        {
            byte[]? bytes = file == null ? ReadEmbeddedModel() : null;
            Network network = file != null ? OnnxImporter.Load(file) : OnnxImporter.Load(bytes!, EmbeddedModelName);
            int classes = network.OutputShape.Aggregate(1, (a, d) => a * d);
            return new ModelSource(file, bytes, file != null ? Path.GetFileName(file) : EmbeddedModelName + " (embedded)", network.InputShape.ToArray(), classes,
                Graph.Passes.TransformerNeuronSites.IsTransformer(network));
        }

        /// <summary>Points the conversion options at this model.</summary>
        /// <param name="options">The options to set.</param>
        public void SetModel(SpikingConversionOptions options)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            options.ModelFile = File;
            options.ModelBytes = Bytes;
        }

        /// <summary>Checks that the class names fit the model's output.</summary>
        /// <param name="classes">Class names in model order.</param>
        /// <exception cref="SampleInputException">The count differs from the model's.</exception>
        public void CheckClasses(IReadOnlyList<string> classes)
        {
            if (classes.Count != Classes)
            {
                throw new SampleInputException($"{classes.Count} classes ({Abbreviate(classes)}) but {Name} outputs {Classes}; give the model's classes in output order with --classes");
            }
        }

        /// <summary>The size the images are resized to: the model's input size, or <paramref name="requested"/> where it fits.</summary>
        /// <param name="requested">--size, or null.</param>
        /// <exception cref="SampleInputException">The model's input cannot be fed RGB images of that size.</exception>
        public ImageSize ImageSize(ImageSize? requested)
        {
            string shape = "[" + string.Join(",", InputShape) + "]";
            if (InputShape.Count == 3)
            {
                if (InputShape[0] != ImageChannels)
                {
                    throw new SampleInputException($"{Name} takes {InputShape[0]}-channel input {shape}; the sample feeds RGB images ({ImageChannels} channels)");
                }
                var size = new ImageSize(InputShape[2], InputShape[1]);
                if (requested is ImageSize r && r != size)
                {
                    throw new SampleInputException($"--size {r} does not match the input of {Name}, {size} {shape}; leave --size out to use the model's input size");
                }
                return size;
            }
            if (InputShape.Count == 1)
            {
                if (requested is not ImageSize r)
                {
                    throw new SampleInputException($"{Name} takes a flat vector of {InputShape[0]} values; give --size WxH with 3 x W x H = {InputShape[0]}");
                }
                if ((long)ImageChannels * r.Width * r.Height != InputShape[0])
                {
                    throw new SampleInputException($"--size {r} gives {(long)ImageChannels * r.Width * r.Height} values but {Name} takes {InputShape[0]}");
                }
                return r;
            }
            throw new SampleInputException($"{Name} takes input {shape}; the sample feeds images as [3,H,W] (or a flat [3·H·W])");
        }

        private static string Abbreviate(IReadOnlyList<string> names) =>
            names.Count <= 6 ? string.Join(",", names) : string.Join(",", names.Take(5)) + ",…";

        private static byte[] ReadEmbeddedModel()
        {
            using Stream stream = typeof(ModelSource).Assembly.GetManifestResourceStream(EmbeddedModelName)
                ?? throw new InvalidOperationException($"The embedded model {EmbeddedModelName} is missing from the sample assembly.");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            return memory.ToArray();
        }
    }
}
