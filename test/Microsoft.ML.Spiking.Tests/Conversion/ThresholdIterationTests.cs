// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>Threshold iteration (algorithms.md §2.11): oracle 24 of §6, guards and argument checks.</summary>
    [TestClass]
    public sealed class ThresholdIterationTests
    {
        [TestMethod]
        [DataRow(0.0, 1.0, 1, 1.224006)]
        [DataRow(0.0, 1.0, 2, 1.685973)]
        [DataRow(0.0, 1.0, 4, 2.135289)]
        [DataRow(1.0, 1.0, 4, 2.820849)]
        [DataRow(-1.0, 1.0, 4, 1.620632)]
        [DataRow(0.0, 2.0, 4, 4.270578)]
        [DataRow(0.0, 1.0, 64, 3.614703)]
        [DataRow(0.0, 1.0, 1024, 4.759296)]
        [DataRow(-0.5, 1.0, 64, 3.256415)]
        public void Oracle24FixedPoints(double mean, double std, int levels, double expected)
        {
            double theta = ThresholdIteration.Solve(mean, std * std, levels);
            Assert.AreEqual(expected, theta, 1e-6);
            Assert.AreEqual(1.0, ThresholdIteration.Factor(theta, mean, std, levels), 1e-9);
        }

        /// <summary>
        /// Oracle 24 lists (0.5, 2, 8) → 5.441927, but that is an iterate stopped early: k there is 1 + 7.6e−6
        /// (so it passes an |k − 1| &lt; 1e−5 test), and a brute-force integration of the quantization error
        /// (see the numerics tests) puts the minimum at the fixed point 5.442473.
        /// </summary>
        [TestMethod]
        public void Oracle24FixedPointWithWideStd()
        {
            double theta = ThresholdIteration.Solve(0.5, 4, 8);
            Assert.AreEqual(5.442473, theta, 1e-6);
            double listed = ThresholdIteration.Factor(5.441927, 0.5, 2, 8) - 1;
            Assert.IsTrue(listed > 0 && listed < 1e-5, $"k − 1 at the listed value is {listed}.");
        }

        [TestMethod]
        [DataRow(1024)]
        [DataRow(2048)]
        [DataRow(4096)]
        public void LargeLevelCountsBracketTheFixedPoint(int levels)
        {
            // k is very flat for large N (d ln k / d ln θ ≈ −4e−6 at N = 4096), yet its sign still changes within ±1e−7.
            double theta = ThresholdIteration.Solve(0, 1, levels);
            Assert.IsTrue(ThresholdIteration.Factor(theta * (1 - 1e-7), 0, 1, levels) > 1, "k should exceed 1 just below the fixed point.");
            Assert.IsTrue(ThresholdIteration.Factor(theta * (1 + 1e-7), 0, 1, levels) < 1, "k should be below 1 just above the fixed point.");
        }

        [TestMethod]
        [DataRow(2048, 5.013209)]
        [DataRow(4096, 5.257111)]
        public void LargeLevelCountsMatchIndependentBisection(int levels, double expected)
        {
            // Values from a separate double-precision bisection on the direct sums of §2.11 (200 halvings).
            Assert.AreEqual(expected, ThresholdIteration.Solve(0, 1, levels), 1e-6);
        }

        [TestMethod]
        public void Oracle24FirstIterates()
        {
            Assert.AreEqual(1.141078, ThresholdIteration.Factor(1, 0, 1, 1), 1e-6);
            Assert.AreEqual(1.309885, ThresholdIteration.Factor(1, 0, 1, 4), 1e-6);
        }

        [TestMethod]
        [DataRow(0.0, 64, 3.191336)]
        [DataRow(0.0, 1024, 3.218166)]
        [DataRow(-0.5, 64, 2.874076)]
        public void Oracle24HundredReferenceIterations(double mean, int levels, double expected)
        {
            Assert.AreEqual(expected, ThresholdIteration.Solve(mean, 1, levels, ThresholdIterationMode.Reference), 1e-6);
        }

        [TestMethod]
        public void ConvergedThresholdIsScaleEquivariant()
        {
            Assert.AreEqual(2 * ThresholdIteration.Solve(0, 1, 4), ThresholdIteration.Solve(0, 4, 4), 1e-12);
            var random = new Random(5);
            for (int i = 0; i < 20; i++)
            {
                double mean = (random.NextDouble() * 6) - 3;
                double std = 0.1 + (random.NextDouble() * 2);
                double scale = Math.Exp((random.NextDouble() * 20) - 10);
                int levels = 1 << random.Next(12);
                double theta = ThresholdIteration.Solve(mean, std * std, levels);
                double scaled = ThresholdIteration.Solve(scale * mean, scale * scale * std * std, levels);
                Assert.AreEqual(1.0, scaled / (scale * theta), 1e-9, $"μ = {mean}, σ = {std}, N = {levels}, scale = {scale}");
            }
        }

        [TestMethod]
        public void FactorIsScaleInvariantAndAboveOneHalf()
        {
            Assert.AreEqual(ThresholdIteration.Factor(1.3, 0.2, 0.7, 16), ThresholdIteration.Factor(13, 2, 7, 16), 1e-13);
            Assert.AreEqual(0.5, ThresholdIteration.Factor(1e300, 0, 1, 64), 1e-12);
            foreach (double theta in new[] { 1e-3, 0.5, 3, 8, 20, 1e3, 1e6 })
            {
                double k = ThresholdIteration.Factor(theta, 0, 1, 256);
                Assert.IsTrue(double.IsFinite(k) && k >= 0.5, $"k({theta}) = {k}");
            }
        }

        [TestMethod]
        public void ZeroVarianceGuards()
        {
            Assert.AreEqual(2.5, ThresholdIteration.Solve(2.5, 0, 8));
            Assert.AreEqual(0.0, ThresholdIteration.Solve(0, 0, 8));
            Assert.AreEqual(0.0, ThresholdIteration.Solve(-1, 0, 8));

            // The formula's limits: k = μN/(θm) with m boundaries below μ; NaN with none, which the code maps to 1.0.
            Assert.AreEqual(2.0 * 4 / (1.0 * 4), ThresholdIteration.Factor(1, 2, 0, 4), 1e-15);
            Assert.AreEqual(0.3 * 4 / (1.0 * 1), ThresholdIteration.Factor(1, 0.3, 0, 4), 1e-15);
            Assert.IsTrue(double.IsNaN(ThresholdIteration.Factor(1, -1, 0, 4)));
            Assert.IsTrue(double.IsNaN(ThresholdIteration.Factor(1, 0.125, 0, 4)), "A boundary equal to μ is 0/0.");
            Assert.AreEqual(2.0, ThresholdIteration.Solve(2, 0, 8, ThresholdIterationMode.Reference), 1e-15);
            Assert.AreEqual(1.0, ThresholdIteration.Solve(-1, 0, 8, ThresholdIterationMode.Reference));
        }

        [TestMethod]
        [DataRow(0.0, 1e-16, 64)]
        [DataRow(1e6, 1.0, 4)]
        [DataRow(1e6, 1e-6, 4096)]
        [DataRow(-50.0, 1.0, 64)]
        [DataRow(-1e4, 1.0, 2048)]
        [DataRow(0.0, 1.0, 1)]
        [DataRow(0.0, 1.0, 8192)]
        [DataRow(3.0, 1e8, 16)]
        [DataRow(1e-30, 1e-60, 2)]
        public void ExtremeInputsGiveFinitePositiveThresholds(double mean, double variance, int levels)
        {
            foreach (ThresholdIterationMode mode in new[] { ThresholdIterationMode.Converge, ThresholdIterationMode.Reference })
            {
                double theta = ThresholdIteration.Solve(mean, variance, levels, mode);
                Assert.IsTrue(double.IsFinite(theta) && theta > 0, $"{mode}: θ = {theta}");
            }
        }

        [TestMethod]
        public void GuardsKeepTheirScale()
        {
            // σ = 1e−8: the fixed point scales with σ; a huge mean puts the top level near μ.
            Assert.AreEqual(3.614703e-8, ThresholdIteration.Solve(0, 1e-16, 64), 1e-14);
            double huge = ThresholdIteration.Solve(1e6, 1, 4);
            Assert.AreEqual(1.0, huge / 1e6, 1e-3);
            Assert.IsTrue(ThresholdIteration.Solve(0, 1, 8192) > ThresholdIteration.Solve(0, 1, 4096));

            // A dead neuron: far below zero the threshold shrinks towards the small positive tail.
            double dead = ThresholdIteration.Solve(-50, 1, 64);
            Assert.IsTrue(dead < 0.5, $"θ = {dead}");
            Assert.AreEqual(1.0, ThresholdIteration.Factor(dead, -50, 1, 64), 1e-9);
        }

        [TestMethod]
        public void ReferenceModeReplacesVanishingDenominatorByOne()
        {
            // μ = −0.5, σ = 0.05, N = 64: at θ = 1 every boundary is more than 7σ above μ, so 1 − S2 is rounding noise.
            Assert.AreEqual(1.0, ThresholdIteration.Solve(-0.5, 0.0025, 64, ThresholdIterationMode.Reference));
            Assert.IsTrue(ThresholdIteration.Solve(-0.5, 0.0025, 64) < 0.1);
        }

        [TestMethod]
        public void LevelCountIsTimeStepsTimesPowerOfTwo()
        {
            Assert.AreEqual(1024, ThresholdIteration.LevelCount(64, 4));
            Assert.AreEqual(32, ThresholdIteration.LevelCount(32, 0));
            Assert.AreEqual(1 << 30, ThresholdIteration.LevelCount(1, 30));
            Assert.AreEqual("timeSteps", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.LevelCount(0, 1)).ParamName);
            Assert.AreEqual("thresholdLevels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.LevelCount(4, -1)).ParamName);
            Assert.AreEqual("thresholdLevels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.LevelCount(1 << 20, 12)).ParamName);
            Assert.AreEqual("thresholdLevels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.LevelCount(1, 31)).ParamName);
        }

        [TestMethod]
        public void BadArgumentsThrow()
        {
            Assert.AreEqual("levels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(0, 1, 0)).ParamName);
            Assert.AreEqual("mean", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(double.NaN, 1, 4)).ParamName);
            Assert.AreEqual("mean", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(double.PositiveInfinity, 1, 4)).ParamName);
            Assert.AreEqual("variance", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(0, -1e-12, 4)).ParamName);
            Assert.AreEqual("variance", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(0, double.NaN, 4)).ParamName);
            Assert.AreEqual("mode", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(0, 1, 4, (ThresholdIterationMode)5)).ParamName);
            Assert.AreEqual("maxIterations", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(0, 1, 4, ThresholdIterationMode.Converge, 0)).ParamName);

            Assert.AreEqual("theta", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Factor(0, 0, 1, 4)).ParamName);
            Assert.AreEqual("theta", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Factor(double.PositiveInfinity, 0, 1, 4)).ParamName);
            Assert.AreEqual("mean", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Factor(1, double.NaN, 1, 4)).ParamName);
            Assert.AreEqual("std", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Factor(1, 0, -1, 4)).ParamName);
            Assert.AreEqual("levels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Factor(1, 0, 1, 0)).ParamName);

            Assert.ThrowsExactly<ArgumentNullException>(() => ThresholdIteration.Solve(null!, new float[1], 4));
            Assert.ThrowsExactly<ArgumentNullException>(() => ThresholdIteration.Solve(new float[1], null!, 4));
            Assert.AreEqual("variances", Assert.ThrowsExactly<ArgumentException>(() => ThresholdIteration.Solve(new float[2], new float[3], 4)).ParamName);
            Assert.AreEqual("means", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(new[] { 0f, float.NaN }, new float[2], 4)).ParamName);
            Assert.AreEqual("variances", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(new float[2], new[] { 1f, -1f }, 4)).ParamName);
            Assert.AreEqual("levels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdIteration.Solve(new float[2], new float[2], 0)).ParamName);
        }
    }
}
