// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.Spiking.Samples.Cli;

namespace Microsoft.ML.Spiking.Samples.Data
{
    /// <summary>One labelled image: the row type of the sample's IDataViews.</summary>
    internal sealed class ImageRow
    {
        /// <summary>Full path of the image file (LoadImages reads it).</summary>
        public string ImagePath { get; set; } = string.Empty;

        /// <summary>The class name (MapValueToKey turns it into a key in the model's class order).</summary>
        public string Label { get; set; } = string.Empty;
    }

    /// <summary>A folder with one sub-folder of images per class, and the class order of the model.</summary>
    internal sealed class ImageSet
    {
        /// <summary>The file that gives the class order when --classes is not given.</summary>
        public const string LabelsFileName = "labels.txt";

        private static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

        private ImageSet(string folder, IReadOnlyList<string> classes, IReadOnlyList<IReadOnlyList<string>> files, IReadOnlyList<string> ignoredFolders)
        {
            Folder = folder;
            Classes = classes;
            Files = files;
            IgnoredFolders = ignoredFolders;
        }

        /// <summary>The folder.</summary>
        public string Folder { get; }

        /// <summary>Class names in the model's output order.</summary>
        public IReadOnlyList<string> Classes { get; }

        /// <summary>Image files of each class (index as <see cref="Classes"/>), in ordinal file-name order.</summary>
        public IReadOnlyList<IReadOnlyList<string>> Files { get; }

        /// <summary>Sub-folders that are not classes (left out).</summary>
        public IReadOnlyList<string> IgnoredFolders { get; }

        /// <summary>All images.</summary>
        public int Count => Files.Sum(f => f.Count);

        /// <summary>
        /// Reads the folder. Class order: <paramref name="classes"/> if given, else labels.txt in the folder, else the
        /// sub-folder names in ordinal order.
        /// </summary>
        /// <param name="folder">The image folder.</param>
        /// <param name="classes">Class names in model order, or null.</param>
        /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
        /// <exception cref="SampleInputException">A class has no sub-folder, or there are no images.</exception>
        public static ImageSet Load(string folder, IReadOnlyList<string>? classes)
        {
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"image folder '{folder}' does not exist");
            }
            string[] subFolders = Directory.GetDirectories(folder).Select(d => Path.GetFileName(d)).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            string labelsFile = Path.Combine(folder, LabelsFileName);
            IReadOnlyList<string> order = classes
                ?? (File.Exists(labelsFile) ? File.ReadAllLines(labelsFile).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray() : subFolders);
            if (order.Count == 0)
            {
                throw new SampleInputException($"image folder '{folder}' has no sub-folders (it needs one sub-folder of images per class)");
            }
            string? missing = order.FirstOrDefault(c => !subFolders.Contains(c, StringComparer.Ordinal));
            if (missing != null)
            {
                throw new SampleInputException($"class '{missing}' has no sub-folder in '{folder}'");
            }
            IReadOnlyList<string>[] files = order.Select(c => (IReadOnlyList<string>)Directory.GetFiles(Path.Combine(folder, c))
                    .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                    .OrderBy(f => f, StringComparer.Ordinal)
                    .Select(Path.GetFullPath)
                    .ToArray())
                .ToArray();
            if (files.All(f => f.Count == 0))
            {
                throw new SampleInputException($"no images ({string.Join(", ", Extensions)}) under '{folder}'/<class>/");
            }
            string[] ignored = subFolders.Where(s => !order.Contains(s, StringComparer.Ordinal)).ToArray();
            return new ImageSet(folder, order.ToArray(), files, ignored);
        }

        /// <summary>
        /// Splits the images into disjoint calibration and evaluation sets, both class-balanced and deterministic: each
        /// class's files (in name order, or shuffled with <paramref name="seed"/>) give their last share to calibration
        /// and their first share of the rest to evaluation. A count that does not divide by the number of classes gives
        /// the first classes one image more.
        /// </summary>
        /// <param name="calibration">Calibration images in all.</param>
        /// <param name="limit">Evaluated images in all, or null for every image not used for calibration.</param>
        /// <param name="seed">Seed of the per-class shuffle, or null for file-name order.</param>
        /// <returns>The split, with notes on classes that had too few images.</returns>
        /// <exception cref="SampleInputException">Nothing is left to calibrate or to evaluate.</exception>
        public DataSplit Split(int calibration, int? limit, int? seed)
        {
            var random = seed is int s ? new Random(s) : null;
            int[] calibrationShare = Share(calibration, Classes.Count);
            int[]? evaluationShare = limit is int n ? Share(n, Classes.Count) : null;
            var calibrationRows = new List<ImageRow>();
            var evaluationRows = new List<ImageRow>();
            var notes = new List<string>();
            for (int c = 0; c < Classes.Count; c++)
            {
                string[] files = Files[c].ToArray();
                if (random != null)
                {
                    random.Shuffle(files);
                }
                int calibrationCount = Math.Min(calibrationShare[c], files.Length);
                int rest = files.Length - calibrationCount;
                int evaluationCount = evaluationShare == null ? rest : Math.Min(evaluationShare[c], rest);
                if (calibrationCount < calibrationShare[c] || (evaluationShare != null && evaluationCount < evaluationShare[c]))
                {
                    notes.Add($"class '{Classes[c]}' has {files.Length} images: {calibrationCount} calibrate, {evaluationCount} are evaluated");
                }
                calibrationRows.AddRange(files[^calibrationCount..].Select(f => new ImageRow { ImagePath = f, Label = Classes[c] }));
                evaluationRows.AddRange(files[..evaluationCount].Select(f => new ImageRow { ImagePath = f, Label = Classes[c] }));
            }
            if (calibrationRows.Count == 0 || evaluationRows.Count == 0)
            {
                throw new SampleInputException($"{Count} images in '{Folder}' leave {calibrationRows.Count} to calibrate and {evaluationRows.Count} to evaluate; both need at least one (see --calibration and --limit)");
            }
            return new DataSplit(calibrationRows, evaluationRows, notes);
        }

        /// <summary>Splits <paramref name="total"/> into <paramref name="parts"/> shares that differ by at most one, larger first.</summary>
        internal static int[] Share(int total, int parts) =>
            Enumerable.Range(0, parts).Select(i => total / parts + (i < total % parts ? 1 : 0)).ToArray();
    }

    /// <summary>Disjoint calibration and evaluation images.</summary>
    /// <param name="Calibration">Images the thresholds are calibrated on.</param>
    /// <param name="Evaluation">Images the ANN and the SNN are compared on.</param>
    /// <param name="Notes">Classes that could not fill their share.</param>
    internal sealed record DataSplit(IReadOnlyList<ImageRow> Calibration, IReadOnlyList<ImageRow> Evaluation, IReadOnlyList<string> Notes);
}
