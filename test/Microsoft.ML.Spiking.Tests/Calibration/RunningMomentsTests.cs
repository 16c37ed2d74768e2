// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    [TestClass]
    public sealed class RunningMomentsTests
    {
        [TestMethod]
        public void OracleTwoBatchesGiveExactPopulationMoments()
        {
            var moments = new RunningMoments();
            moments.AddBatch(new float[] { 1, 3 });
            moments.AddBatch(new float[] { 5 });

            Assert.AreEqual(3L, moments.Count);
            Assert.AreEqual(3.0, moments.Mean, 1e-12);
            Assert.AreEqual(8.0 / 3.0, moments.Variance, 1e-12);
        }

        [TestMethod]
        public void EmptyAccumulatorIsZeroAndEmptyBatchIsNoOp()
        {
            var moments = new RunningMoments();
            moments.AddBatch(ReadOnlySpan<float>.Empty);
            Assert.AreEqual(0L, moments.Count);
            Assert.AreEqual(0.0, moments.Mean);
            Assert.AreEqual(0.0, moments.Variance);

            moments.AddBatch(new float[] { 7 });
            Assert.AreEqual(7.0, moments.Mean, 1e-12);
            Assert.AreEqual(0.0, moments.Variance, 1e-12);
        }

        [TestMethod]
        public void ManyRandomBatchesMatchTwoPass()
        {
            var random = new Random(1234);
            var all = new List<float>();
            var moments = new RunningMoments();
            for (int b = 0; b < 200; b++)
            {
                var batch = new float[random.Next(1, 500)];
                float offset = (float)(random.NextDouble() * 100);
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = offset + (5 * CalibrationReference.NextGaussian(random));
                }

                moments.AddBatch(batch);
                all.AddRange(batch);
            }

            (double mean, double variance) = CalibrationReference.MeanAndPopulationVariance(all);
            Assert.AreEqual((long)all.Count, moments.Count);
            Assert.AreEqual(mean, moments.Mean, 1e-9 * Math.Abs(mean));
            Assert.AreEqual(variance, moments.Variance, 1e-9 * variance);
        }

        [TestMethod]
        public void MergeEqualsAddingEverythingToOne()
        {
            var random = new Random(99);
            var left = new RunningMoments();
            var right = new RunningMoments();
            var all = new List<float>();
            for (int b = 0; b < 50; b++)
            {
                var batch = new float[random.Next(1, 100)];
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = (float)(random.NextDouble() * 10 - 3);
                }

                (b % 3 == 0 ? left : right).AddBatch(batch);
                all.AddRange(batch);
            }

            left.Merge(right);
            left.Merge(new RunningMoments());
            (double mean, double variance) = CalibrationReference.MeanAndPopulationVariance(all);
            Assert.AreEqual((long)all.Count, left.Count);
            Assert.AreEqual(mean, left.Mean, 1e-9 * Math.Abs(mean));
            Assert.AreEqual(variance, left.Variance, 1e-9 * variance);

            var empty = new RunningMoments();
            empty.Merge(left);
            Assert.AreEqual(left.Count, empty.Count);
            Assert.AreEqual(left.Mean, empty.Mean);
            Assert.AreEqual(left.Variance, empty.Variance);
            Assert.ThrowsExactly<ArgumentNullException>(() => left.Merge(null!));
        }
    }
}
