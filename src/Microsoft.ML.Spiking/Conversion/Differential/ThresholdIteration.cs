// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Concurrent;
using System.Threading.Tasks;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>How <see cref="ThresholdIteration.Solve(double, double, int, ThresholdIterationMode, int)"/> iterates.</summary>
    public enum ThresholdIterationMode
    {
        /// <summary>
        /// Solve the fixed point θ = k(θ)·θ (the paper: iterate until |k − 1| &lt; ε), i.e. the threshold that
        /// minimises the quantization error, with a safeguarded root finder that converges for any N.
        /// </summary>
        Converge = 0,

        /// <summary>
        /// The reference code's <c>get_scale_from_var</c>: exactly 100 iterations θ ← k(θ)·θ from θ = 1, and a
        /// NaN or non-finite result replaced by 1.0. Not scale-free, and far from converged for large N.
        /// </summary>
        Reference = 1,
    }

    /// <summary>
    /// Threshold iteration of DCGS (algorithms.md §2.11): the threshold θ of a neuron with N uniform quantization
    /// levels that minimises the quantization error E[(f(x, θ) − ReLU(x))²] for a Gaussian pre-activation
    /// x ~ N(μ, σ²), where f(x, θ) = (θ/N)·clip(floor(N·x/θ + 1/2), 0, N).
    /// </summary>
    /// <remarks>
    /// The stationarity condition of the error is θ = k(θ)·θ with k from §2.11; k &gt; 1 below the fixed point
    /// and k &lt; 1 above it. k is evaluated in O(1) time for any N and without underflow (see
    /// <see cref="Factor"/>). All methods are thread-safe.
    /// </remarks>
    public static class ThresholdIteration
    {
        /// <summary>Number of iterations of <see cref="ThresholdIterationMode.Reference"/>.</summary>
        public const int ReferenceIterations = 100;

        /// <summary>
        /// In <see cref="ThresholdIterationMode.Reference"/>, an iterate whose 1 − S2 is below this (double
        /// rounding, 2⁻⁵²) counts as NaN: the plain formula divides by zero or by rounding noise there.
        /// </summary>
        private static readonly double s_logRoundingFloor = -52 * Math.Log(2);

        /// <summary>The error function erf(x) = (2/√π)∫₀ˣ e^(−t²) dt, with absolute error below 1e−14.</summary>
        /// <param name="x">Argument; NaN gives NaN and ±∞ gives ±1.</param>
        /// <returns>erf(x) in [−1, 1].</returns>
        public static double Erf(double x) => GaussianTail.Erf(x);

        /// <summary>
        /// The factor k(θ) of §2.11: k = [(μ/θ)(1 − S1) + σ/(√(π/2)·θ)·S3] / (1 − S2), so that one iteration is
        /// θ ← k·θ.
        /// </summary>
        /// <remarks>
        /// <para>
        /// Evaluated in double precision in an algebraically identical form, k = 1/2 + √2·N·Q/(D·θ/σ) with
        /// D = N²(1 − S2) and Q = Σ ierfc(uᵢ) &gt; 0, whose sums are taken relative to their largest term. So
        /// 1 − S2 never underflows: for σ &gt; 0 the result is finite and at least 1/2 for every θ, tending to 1/2
        /// far above μ + 6σ (where the plain formula divides by zero and gives +∞ or NaN). It is +∞ only when
        /// θ/σ underflows to 0.
        /// </para>
        /// <para>
        /// With σ = 0 (or μ/σ overflowing) the formula's limits apply: with m boundaries cᵢ = (2i−1)θ/(2N) below μ,
        /// k = μ·N/(θ·m); NaN when m = 0 (μ ≤ θ/(2N), including every μ ≤ 0) or a boundary equals μ.
        /// Callers must guard that case.
        /// </para>
        /// </remarks>
        /// <param name="theta">Current threshold θ; finite and positive.</param>
        /// <param name="mean">Mean μ of the pre-activation; finite.</param>
        /// <param name="std">Standard deviation σ of the pre-activation; finite and non-negative.</param>
        /// <param name="levels">Number of quantization levels N; at least 1.</param>
        /// <returns>k(θ).</returns>
        /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
        public static double Factor(double theta, double mean, double std, int levels)
        {
            if (!double.IsFinite(theta) || theta <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(theta), theta, "The threshold must be finite and positive.");
            }

            CheckMean(mean, nameof(mean));
            if (!double.IsFinite(std) || std < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(std), std, "The standard deviation must be finite and non-negative.");
            }

            CheckLevels(levels);
            return FactorCore(theta, mean, std, levels, out _);
        }

        /// <summary>The threshold θ of §2.11 for a pre-activation with the given mean and variance.</summary>
        /// <remarks>
        /// <para>
        /// <see cref="ThresholdIterationMode.Converge"/> brackets the fixed point on ln θ from the scale-aware
        /// start max(μ, 0) + 3σ and narrows it with Brent's method (inverse quadratic interpolation safeguarded
        /// by bisection) until the bracket on ln θ is narrower than about 1e−13, so θ is the fixed point to
        /// about 1e−12 relative (or, for very large N, to the precision k allows, still well below 1e−6).
        /// Then |k − 1| is far below the paper's ε = 1e−6; that test alone would not do, because for large N k is
        /// extremely flat (d ln k / d ln θ ≈ −4e−6 at N = 4096, μ = 0), which is also why plain θ ← kθ hardly
        /// moves there. The result is never NaN, infinite or negative. σ = 0 (a constant input) gives μ when
        /// μ &gt; 0 (its error is then zero) and 0 otherwise (a neuron that never fires; the caller chooses what
        /// to do with it — the reference code gives such neurons 1.0).
        /// </para>
        /// <para>
        /// <see cref="ThresholdIterationMode.Reference"/> runs <see cref="ReferenceIterations"/> iterations
        /// θ ← k(θ)·θ from θ = 1 and returns 1.0 if an iterate is NaN or non-finite, as the reference code does.
        /// An iterate where 1 − S2 is below double rounding (θ roughly 8σ above μ) counts as NaN, since the plain
        /// formula divides by zero or by rounding noise there (the code's float32 reaches that point sooner).
        /// <paramref name="maxIterations"/> is not used in this mode.
        /// </para>
        /// </remarks>
        /// <param name="mean">Mean μ of the pre-activation; finite.</param>
        /// <param name="variance">Population variance σ² of the pre-activation; finite and non-negative.</param>
        /// <param name="levels">Number of quantization levels N (see <see cref="LevelCount"/>); at least 1.</param>
        /// <param name="mode">Converge to the fixed point (default) or reproduce the reference code.</param>
        /// <param name="maxIterations">Most evaluations of k in <see cref="ThresholdIterationMode.Converge"/>
        /// (about 15 to 60 are used); when reached, the best estimate so far is returned. At least 1.</param>
        /// <returns>The threshold θ.</returns>
        /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
        public static double Solve(
            double mean,
            double variance,
            int levels,
            ThresholdIterationMode mode = ThresholdIterationMode.Converge,
            int maxIterations = 10000)
        {
            CheckMean(mean, nameof(mean));
            CheckVariance(variance, nameof(variance));
            CheckLevels(levels);
            CheckMode(mode, maxIterations);
            return SolveCore(mean, variance, levels, mode, maxIterations);
        }

        /// <summary>
        /// <see cref="Solve(double, double, int, ThresholdIterationMode, int)"/> for many layers, channels or
        /// neurons at once, in parallel.
        /// </summary>
        /// <param name="means">Mean of each pre-activation; finite.</param>
        /// <param name="variances">Population variance of each pre-activation, as many as <paramref name="means"/>; finite and non-negative.</param>
        /// <param name="levels">Number of quantization levels N; at least 1.</param>
        /// <param name="mode">Converge to the fixed point (default) or reproduce the reference code.</param>
        /// <param name="maxIterations">Most evaluations of k per solve in <see cref="ThresholdIterationMode.Converge"/>; at least 1.</param>
        /// <returns>The threshold of each entry.</returns>
        /// <exception cref="ArgumentNullException">An array is null.</exception>
        /// <exception cref="ArgumentException">The arrays differ in length.</exception>
        /// <exception cref="ArgumentOutOfRangeException">An argument or an entry is out of range (nothing is solved then).</exception>
        public static float[] Solve(
            float[] means,
            float[] variances,
            int levels,
            ThresholdIterationMode mode = ThresholdIterationMode.Converge,
            int maxIterations = 10000)
        {
            ArgumentNullException.ThrowIfNull(means, nameof(means));
            ArgumentNullException.ThrowIfNull(variances, nameof(variances));
            if (means.Length != variances.Length)
            {
                throw new ArgumentException($"Expected {means.Length} variances, one per mean, but got {variances.Length}.", nameof(variances));
            }

            CheckLevels(levels);
            CheckMode(mode, maxIterations);
            for (int i = 0; i < means.Length; i++)
            {
                CheckMean(means[i], nameof(means), i);
                CheckVariance(variances[i], nameof(variances), i);
            }

            var result = new float[means.Length];
            if (means.Length < 64)
            {
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)SolveCore(means[i], variances[i], levels, mode, maxIterations);
                }

                return result;
            }

            Parallel.ForEach(Partitioner.Create(0, means.Length, 256), range =>
            {
                for (int i = range.Item1; i < range.Item2; i++)
                {
                    result[i] = (float)SolveCore(means[i], variances[i], levels, mode, maxIterations);
                }
            });
            return result;
        }

        /// <summary>
        /// The number of quantization levels N the reference code uses: T·2ⁿ for multi-threshold (MT) neurons with
        /// n thresholds θ, θ/2, …, θ/2ⁿ⁻¹ simulated for T steps (e.g. 64·2⁴ = 1024), and T for
        /// integrate-and-fire neurons, which is what n = 0 gives.
        /// </summary>
        /// <param name="timeSteps">Simulation length T; at least 1.</param>
        /// <param name="thresholdLevels">Number n of thresholds of an MT neuron, or 0 for IF neurons; non-negative.</param>
        /// <returns>N = T·2ⁿ.</returns>
        /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or T·2ⁿ exceeds <see cref="int.MaxValue"/>.</exception>
        public static int LevelCount(int timeSteps, int thresholdLevels)
        {
            if (timeSteps < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(timeSteps), timeSteps, "The number of time steps must be at least 1.");
            }

            if (thresholdLevels < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(thresholdLevels), thresholdLevels, "The number of thresholds must not be negative.");
            }

            if (thresholdLevels > 30 || ((long)timeSteps << thresholdLevels) > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(thresholdLevels), thresholdLevels, $"The level count {timeSteps}·2^{thresholdLevels} exceeds {int.MaxValue}.");
            }

            return timeSteps << thresholdLevels;
        }

        private static double SolveCore(double mean, double variance, int levels, ThresholdIterationMode mode, int maxIterations)
        {
            double std = Math.Sqrt(variance);
            if (mode == ThresholdIterationMode.Reference)
            {
                return SolveReference(mean, std, levels);
            }

            double r = mean / std;
            if (std == 0 || !double.IsFinite(r))
            {
                return mean > 0 ? mean : 0;
            }

            return std * ThresholdSolver.Solve(r, levels, maxIterations);
        }

        private static double SolveReference(double mean, double std, int levels)
        {
            double theta = 1;
            for (int i = 0; i < ReferenceIterations; i++)
            {
                double k = FactorCore(theta, mean, std, levels, out double logOneMinusS2);
                if (logOneMinusS2 < s_logRoundingFloor)
                {
                    return 1.0;
                }

                theta *= k;
                if (!double.IsFinite(theta) || !(theta > 0))
                {
                    return 1.0;
                }
            }

            return theta;
        }

        /// <summary>k(θ), and ln(1 − S2) (+∞ where not defined by the scaled sums, i.e. σ = 0).</summary>
        private static double FactorCore(double theta, double mean, double std, int levels, out double logOneMinusS2)
        {
            logOneMinusS2 = double.PositiveInfinity;
            double r = mean / std;
            if (std == 0 || !double.IsFinite(r))
            {
                return ConstantFactor(theta, mean, levels);
            }

            double t = theta / std;
            if (double.IsPositiveInfinity(t))
            {
                return 0.5;
            }

            if (t == 0)
            {
                return double.PositiveInfinity;
            }

            return QuantizationSums.Factor(t, r, levels, out logOneMinusS2);
        }

        /// <summary>k(θ) for σ = 0: every erf is ±1 (NaN at a boundary equal to μ) and S3 = 0.</summary>
        private static double ConstantFactor(double theta, double mean, int levels)
        {
            // m = #{i ≤ N : (2i−1)θ/(2N) < μ}: estimate, then settle it with the exact comparisons.
            double n = levels;
            double estimate = Math.Ceiling((n * mean / theta) + 0.5) - 1;
            long m = estimate <= 0 ? 0 : estimate >= n ? levels : (long)estimate;
            while (m < levels && Boundary(m + 1, theta, n) < mean)
            {
                m++;
            }

            while (m > 0 && !(Boundary(m, theta, n) < mean))
            {
                m--;
            }

            if (m == 0 || (m < levels && Boundary(m + 1, theta, n) == mean))
            {
                return double.NaN;
            }

            return mean * n / (theta * m);
        }

        private static double Boundary(long i, double theta, double n) => ((2.0 * i) - 1) * theta / (2 * n);

        private static void CheckMean(double mean, string name, int index = -1)
        {
            if (!double.IsFinite(mean))
            {
                throw new ArgumentOutOfRangeException(name, mean, index < 0 ? "The mean must be finite." : $"The mean at index {index} must be finite.");
            }
        }

        private static void CheckVariance(double variance, string name, int index = -1)
        {
            if (!double.IsFinite(variance) || variance < 0)
            {
                throw new ArgumentOutOfRangeException(name, variance, index < 0 ? "The variance must be finite and non-negative." : $"The variance at index {index} must be finite and non-negative.");
            }
        }

        private static void CheckLevels(int levels)
        {
            if (levels < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(levels), levels, "The number of quantization levels must be at least 1.");
            }
        }

        private static void CheckMode(ThresholdIterationMode mode, int maxIterations)
        {
            if (mode != ThresholdIterationMode.Converge && mode != ThresholdIterationMode.Reference)
            {
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown threshold iteration mode.");
            }

            if (maxIterations < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "The iteration limit must be at least 1.");
            }
        }
    }
}
