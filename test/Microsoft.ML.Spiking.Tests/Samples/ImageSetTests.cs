// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using Microsoft.ML.Spiking.Samples.Cli;
using Microsoft.ML.Spiking.Samples.Data;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Samples
{
    [TestClass]
    public sealed class ImageSetTests
    {
        private static string ShippedImages => Path.Combine(AppContext.BaseDirectory, "assets", "images");

        [TestMethod]
        public void ShippedImagesTakeTheirClassOrderFromLabelsTxt()
        {
            ImageSet set = ImageSet.Load(ShippedImages, classes: null);
            CollectionAssert.AreEqual(File.ReadAllLines(Path.Combine(ShippedImages, "labels.txt")).Where(l => l.Length > 0).ToArray(), set.Classes.ToArray());
            Assert.AreEqual("circle", set.Classes[0]);
            Assert.AreEqual(300, set.Count);
        }

        [TestMethod]
        public void FoldersWithoutLabelsTxtAreSortedOrdinally()
        {
            string folder = Path.Combine(Path.GetTempPath(), "spiking-sample-" + Guid.NewGuid().ToString("N"));
            try
            {
                foreach (string c in new[] { "b", "a", "C" })
                {
                    Directory.CreateDirectory(Path.Combine(folder, c));
                    File.Copy(Directory.GetFiles(Path.Combine(ShippedImages, "circle")).First(), Path.Combine(folder, c, "0.png"));
                }
                CollectionAssert.AreEqual(new[] { "C", "a", "b" }, ImageSet.Load(folder, null).Classes.ToArray());
                CollectionAssert.AreEqual(new[] { "b", "a" }, ImageSet.Load(folder, new[] { "b", "a" }).Classes.ToArray());
                CollectionAssert.AreEqual(new[] { "C" }, ImageSet.Load(folder, new[] { "b", "a" }).IgnoredFolders.ToArray());
                var e = Assert.ThrowsExactly<SampleInputException>(() => ImageSet.Load(folder, new[] { "a", "z" }));
                StringAssert.StartsWith(e.Message, "class 'z' has no sub-folder");
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        [TestMethod]
        public void SplitIsClassBalancedDisjointAndDeterministic()
        {
            ImageSet set = ImageSet.Load(ShippedImages, null);
            DataSplit split = set.Split(calibration: 25, limit: 43, seed: null);
            Assert.AreEqual(25, split.Calibration.Count);
            Assert.AreEqual(43, split.Evaluation.Count);
            Assert.AreEqual(0, split.Calibration.Select(r => r.ImagePath).Intersect(split.Evaluation.Select(r => r.ImagePath)).Count());
            int[] perClass = set.Classes.Select(c => split.Evaluation.Count(r => r.Label == c)).ToArray();
            Assert.IsTrue(perClass.Max() - perClass.Min() <= 1, string.Join(",", perClass));
            int[] calibrationPerClass = set.Classes.Select(c => split.Calibration.Count(r => r.Label == c)).ToArray();
            Assert.IsTrue(calibrationPerClass.Max() - calibrationPerClass.Min() <= 1);

            // Without a seed: the first files of each class are evaluated, the last ones calibrate.
            Assert.AreEqual(set.Files[0][0], split.Evaluation[0].ImagePath);
            CollectionAssert.AreEqual(set.Files[0].TakeLast(3).ToArray(), split.Calibration.Where(r => r.Label == set.Classes[0]).Select(r => r.ImagePath).ToArray());
            CollectionAssert.AreEqual(split.Evaluation.Select(r => r.ImagePath).ToArray(), set.Split(25, 43, null).Evaluation.Select(r => r.ImagePath).ToArray());

            DataSplit seeded = set.Split(25, 43, seed: 7);
            CollectionAssert.AreEqual(seeded.Evaluation.Select(r => r.ImagePath).ToArray(), set.Split(25, 43, seed: 7).Evaluation.Select(r => r.ImagePath).ToArray());
            CollectionAssert.AreNotEqual(seeded.Evaluation.Select(r => r.ImagePath).ToArray(), split.Evaluation.Select(r => r.ImagePath).ToArray());
            Assert.AreEqual(0, seeded.Calibration.Select(r => r.ImagePath).Intersect(seeded.Evaluation.Select(r => r.ImagePath)).Count());
        }

        [TestMethod]
        public void WithoutLimitEveryImageNotCalibratingIsEvaluated()
        {
            ImageSet set = ImageSet.Load(ShippedImages, null);
            DataSplit split = set.Split(calibration: 100, limit: null, seed: null);
            Assert.AreEqual(100, split.Calibration.Count);
            Assert.AreEqual(200, split.Evaluation.Count);
            Assert.AreEqual(0, split.Notes.Count);
        }

        [TestMethod]
        public void ShortClassesAreNoted()
        {
            ImageSet set = ImageSet.Load(ShippedImages, null);
            DataSplit split = set.Split(calibration: 10, limit: 300, seed: null);
            Assert.AreEqual(10 * 29, split.Evaluation.Count);
            Assert.AreEqual(10, split.Notes.Count);
            Assert.ThrowsExactly<SampleInputException>(() => set.Split(calibration: 300, limit: null, seed: null));
        }

        [TestMethod]
        public void SharesDifferByAtMostOne()
        {
            CollectionAssert.AreEqual(new[] { 3, 3, 2, 2 }, ImageSet.Share(10, 4));
            CollectionAssert.AreEqual(new[] { 1, 1, 0 }, ImageSet.Share(2, 3));
        }
    }
}
