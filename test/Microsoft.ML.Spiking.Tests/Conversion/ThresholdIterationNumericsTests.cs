// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Conversion
{
    /// <summary>
    /// Threshold iteration numerics against independent references: erf against a 28-digit decimal series, the
    /// O(1) factor against direct sums of §2.11, and the fixed point against a brute-force integration of the
    /// quantization error.
    /// </summary>
    [TestClass]
    public sealed class ThresholdIterationNumericsTests
    {
        private const double Sqrt2 = 1.4142135623730951;

        [TestMethod]
        [DataRow(0.5, 0.5204998778130465)]
        [DataRow(1.0, 0.8427007929497149)]
        [DataRow(2.0, 0.9953222650189527)]
        [DataRow(3.0, 0.9999779095030014)]
        [DataRow(0.0, 0.0)]
        [DataRow(6.0, 1.0)]
        [DataRow(30.0, 1.0)]
        public void ErfKnownValues(double x, double expected)
        {
            Assert.AreEqual(expected, ThresholdIteration.Erf(x), 1e-14);
            Assert.AreEqual(-expected, ThresholdIteration.Erf(-x), 1e-14);
        }

        [TestMethod]
        public void ErfSpecialValues()
        {
            Assert.AreEqual(1.0, ThresholdIteration.Erf(double.PositiveInfinity));
            Assert.AreEqual(-1.0, ThresholdIteration.Erf(double.NegativeInfinity));
            Assert.IsTrue(double.IsNaN(ThresholdIteration.Erf(double.NaN)));
            Assert.AreEqual(1.0, ThresholdIteration.Erf(6.0));
        }

        [TestMethod]
        public void ErfMatchesDecimalSeriesOnAFineGrid()
        {
            // x = k/64 is exact in both double and decimal; the alternating Maclaurin series in 28-digit decimal
            // is accurate far beyond double precision for |x| ≤ 4.
            double worst = 0;
            for (int k = -256; k <= 256; k++)
            {
                double reference = DecimalErf(k / 64m);
                double got = ThresholdIteration.Erf(k / 64.0);
                worst = Math.Max(worst, Math.Abs(got - reference));
                Assert.AreEqual(-got, ThresholdIteration.Erf(-k / 64.0), 0, "erf is odd");
            }

            Assert.IsTrue(worst <= 1e-14, $"largest error {worst:E3}");
        }

        [TestMethod]
        public void ErfcHasRelativePrecision()
        {
            for (int k = 0; k <= 256; k++)
            {
                double reference = (double)(1m - (decimal)DecimalErfValue(k / 64m));
                double got = GaussianTail.Erfc(k / 64.0);
                Assert.AreEqual(1.0, got / reference, 1e-13, $"x = {k / 64.0}");
            }

            // Deep tail: erfc(x)·x·√π·e^(x²) → 1 − 1/(2x²) + 3/(4x⁴) − …
            double x = 20;
            double scaled = GaussianTail.Erfc(x) * x * Math.Sqrt(Math.PI) * Math.Exp(x * x);
            Assert.AreEqual(1 - (1 / (2 * x * x)) + (3 / (4 * Math.Pow(x, 4))) - (15 / (8 * Math.Pow(x, 6))), scaled, 1e-9);
        }

        [TestMethod]
        public void FactorMatchesTheDirectSums()
        {
            // The O(1) evaluation (Euler–Maclaurin for many levels, scaled tails) against Σ over every boundary.
            var random = new Random(11);
            int[] levelChoices = { 1, 3, 8, 64, 65, 200, 1024, 4096 };
            double worst = 0;
            string worstCase = string.Empty;
            for (int trial = 0; trial < 1600; trial++)
            {
                int levels = levelChoices[trial % levelChoices.Length];
                double r = (trial / 8 % 4) switch
                {
                    0 => (random.NextDouble() * 8) - 4,
                    1 => (random.NextDouble() * 60) - 50,
                    2 => (random.NextDouble() * 400) - 200,
                    _ => -Math.Exp(random.NextDouble() * 8),
                };
                double t = Math.Exp((random.NextDouble() * 14) - 6) * (1 + Math.Abs(r));
                double fast = QuantizationSums.Factor(t, r, levels, out double logDenominator);
                double direct = DirectFactor(t, r, levels, out double directLog);
                double error = Math.Abs((fast / direct) - 1);
                if (error > worst)
                {
                    worst = error;
                    worstCase = $"t = {t}, r = {r}, N = {levels}";
                }

                Assert.AreEqual(directLog, logDenominator, 1e-9 * Math.Max(1, Math.Abs(directLog)));
            }

            Assert.IsTrue(worst <= 2e-13, $"largest relative difference {worst:E3} at {worstCase}");
        }

        [TestMethod]
        public void FactorMatchesThePlainFormula()
        {
            // §2.11 as written, with erf, where 1 − S2 is not small enough to lose precision.
            foreach ((double theta, double mean, double std, int levels) in new[] { (1.0, 0.0, 1.0, 4), (2.5, 0.3, 0.8, 16), (4.0, -0.5, 1.5, 256), (6.0, 1.0, 2.0, 2048), (0.7, 2.0, 1.0, 3) })
            {
                double s1 = 0, s2 = 0, s3 = 0;
                for (int i = 1; i <= levels; i++)
                {
                    double c = (2.0 * i - 1) * theta / (2.0 * levels);
                    double e = ThresholdIteration.Erf((c - mean) / (Sqrt2 * std));
                    s1 += e / levels;
                    s2 += (2.0 * i - 1) / ((double)levels * levels) * e;
                    s3 += Math.Exp(-(c - mean) * (c - mean) / (2 * std * std)) / levels;
                }

                double plain = ((mean / theta * (1 - s1)) + (std / (Math.Sqrt(Math.PI / 2) * theta) * s3)) / (1 - s2);
                Assert.AreEqual(plain, ThresholdIteration.Factor(theta, mean, std, levels), 1e-11 * plain);
            }
        }

        [TestMethod]
        [DataRow(0.0, 1.0, 4)]
        [DataRow(0.5, 2.0, 8)]
        [DataRow(-1.0, 1.0, 4)]
        [DataRow(1.0, 1.0, 16)]
        [DataRow(0.3, 0.5, 64)]
        [DataRow(0.0, 1.0, 1)]
        public void FixedPointMinimisesTheIntegratedQuantizationError(double mean, double std, int levels)
        {
            double solved = ThresholdIteration.Solve(mean, std * std, levels);

            // A grid of 401 thresholds over [0.6, 1.4]·θ*: the grid minimiser is the grid point nearest θ*.
            const int points = 401;
            double low = 0.6 * solved;
            double step = 0.8 * solved / (points - 1);
            int best = 0;
            double bestError = double.PositiveInfinity;
            for (int j = 0; j < points; j++)
            {
                double error = QuantizationError(low + (j * step), mean, std, levels);
                if (error < bestError)
                {
                    bestError = error;
                    best = j;
                }
            }

            Assert.AreEqual(solved, low + (best * step), step, $"grid minimiser {low + (best * step)} vs θ* = {solved}");

            // And locally: moving θ by 0.1 % either way increases the error.
            double at = QuantizationError(solved, mean, std, levels);
            Assert.IsTrue(QuantizationError(solved * 0.999, mean, std, levels) > at);
            Assert.IsTrue(QuantizationError(solved * 1.001, mean, std, levels) > at);
        }

        [TestMethod]
        public void ListedOracleValueForWideStdIsNotTheMinimiser()
        {
            Assert.IsTrue(QuantizationError(5.442473, 0.5, 2, 8) < QuantizationError(5.441927, 0.5, 2, 8));
        }

        [TestMethod]
        public void VectorSolveMatchesScalarSolve()
        {
            var random = new Random(3);
            const int count = 300;
            var means = new float[count];
            var variances = new float[count];
            for (int i = 0; i < count; i++)
            {
                means[i] = (float)((random.NextDouble() * 4) - 2);
                variances[i] = i % 50 == 0 ? 0f : (float)(random.NextDouble() * 3);
            }

            foreach (ThresholdIterationMode mode in new[] { ThresholdIterationMode.Converge, ThresholdIterationMode.Reference })
            {
                foreach (int levels in new[] { 4, 2048 })
                {
                    float[] thetas = ThresholdIteration.Solve(means, variances, levels, mode);
                    Assert.AreEqual(count, thetas.Length);
                    for (int i = 0; i < count; i++)
                    {
                        Assert.AreEqual((float)ThresholdIteration.Solve(means[i], variances[i], levels, mode), thetas[i], $"{mode}, N = {levels}, entry {i}");
                    }
                }
            }

            CollectionAssert.AreEqual(new[] { (float)ThresholdIteration.Solve(1, 2, 8) }, ThresholdIteration.Solve(new[] { 1f }, new[] { 2f }, 8));
            Assert.AreEqual(0, ThresholdIteration.Solve(Array.Empty<float>(), Array.Empty<float>(), 8).Length);
        }

        /// <summary>k(t) from Σ over every boundary (scaled by e^(u₁²) when u₁ &gt; 0), and ln(1 − S2).</summary>
        private static double DirectFactor(double t, double r, int levels, out double logOneMinusS2)
        {
            double u1 = ((t / (2.0 * levels)) - r) / Sqrt2;
            double a = Math.Max(u1, 0);
            double d = 0, dCarry = 0, q = 0, qCarry = 0;
            for (int i = 1; i <= levels; i++)
            {
                double u = (((2.0 * i) - 1) * t / (2.0 * levels) - r) / Sqrt2;
                GaussianTail.Integrals(u, a, out double erfc, out double ierfc, out _, out _);
                Add(ref d, ref dCarry, ((2.0 * i) - 1) * erfc);
                Add(ref q, ref qCarry, ierfc);
            }

            d += dCarry;
            q += qCarry;

            logOneMinusS2 = Math.Log(d) - (a * a) - (2 * Math.Log(levels));
            return 0.5 + (Sqrt2 * levels * q / (d * t));
        }

        /// <summary>Compensated (Neumaier) summation.</summary>
        private static void Add(ref double sum, ref double carry, double value)
        {
            double next = sum + value;
            carry += Math.Abs(sum) >= Math.Abs(value) ? (sum - next) + value : (value - next) + sum;
            sum = next;
        }

        /// <summary>
        /// E[(f(x, θ) − ReLU(x))²] for x ~ N(μ, σ²) by composite Simpson integration on each interval where
        /// f is constant, over μ ± 12σ.
        /// </summary>
        private static double QuantizationError(double theta, double mean, double std, int levels)
        {
            double lowest = mean - (12 * std);
            double highest = mean + (12 * std);
            double total = 0;
            for (int j = 0; j <= levels; j++)
            {
                // On [b_j, b_{j+1}) the output is j·θ/N, with b_0 = 0, b_j = (2j−1)θ/(2N), b_{N+1} = ∞.
                double from = j == 0 ? 0 : (2.0 * j - 1) * theta / (2.0 * levels);
                double to = j == levels ? highest : (2.0 * j + 1) * theta / (2.0 * levels);
                from = Math.Max(from, lowest);
                to = Math.Min(to, highest);
                if (to > from)
                {
                    total += Simpson(x => Square((j * theta / levels) - x) * Density(x, mean, std), from, to, 400);
                }
            }

            return total;
        }

        private static double Simpson(Func<double, double> f, double from, double to, int intervals)
        {
            double h = (to - from) / intervals;
            double sum = f(from) + f(to);
            for (int i = 1; i < intervals; i++)
            {
                sum += (i % 2 == 1 ? 4 : 2) * f(from + (i * h));
            }

            return sum * h / 3;
        }

        private static double Square(double x) => x * x;

        private static double Density(double x, double mean, double std) =>
            Math.Exp(-Square(x - mean) / (2 * std * std)) / (std * Math.Sqrt(2 * Math.PI));

        private static double DecimalErf(decimal x) => (double)DecimalErfValue(x);

        /// <summary>erf(x) = (2/√π) Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)) in 28-digit decimal arithmetic.</summary>
        private static decimal DecimalErfValue(decimal x)
        {
            const decimal twoOverSqrtPi = 1.1283791670955125738961589031m;
            decimal power = x;
            decimal sum = 0;
            decimal x2 = x * x;
            for (int n = 0; n < 400; n++)
            {
                decimal term = power / ((2 * n) + 1);
                sum += term;
                if (Math.Abs(term) < 1e-27m)
                {
                    break;
                }

                power = -power * x2 / (n + 1);
            }

            return twoOverSqrtPi * sum;
        }
    }
}
