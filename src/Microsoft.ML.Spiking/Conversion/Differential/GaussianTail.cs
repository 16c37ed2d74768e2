// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>
    /// The error function and the repeated integrals of erfc in double precision, with optional scaling by
    /// e^(a²) so that far-tail values do not underflow.
    /// </summary>
    /// <remarks>
    /// <para>
    /// For |x| &lt; 2, erf comes from the everywhere-positive series
    /// erf(x) = (2/√π)·e^(−x²)·Σₙ 2ⁿ·x^(2n+1) / (1·3·…·(2n+1)), which has no cancellation.
    /// </para>
    /// <para>
    /// For u ≥ 1 the ratios ρₙ = iⁿerfc(u) / iⁿ⁻¹erfc(u) of the repeated integrals (i⁻¹erfc = (2/√π)e^(−u²),
    /// i⁰erfc = erfc) follow from their recurrence 2n·iⁿerfc = iⁿ⁻²erfc − 2u·iⁿ⁻¹erfc, evaluated downwards:
    /// ρₙ₋₁ = 1 / (2u + 2n·ρₙ), starting from ρ_K = 0 deep enough for full precision. Then
    /// erfc(u) = (2/√π)·ρ₀·e^(−u²), Φ(u) = ierfc(u) = ρ₁·erfc(u), J(u) = i²erfc(u) = ρ₂·Φ(u): every value
    /// has full relative precision, however deep in the tail.
    /// </para>
    /// </remarks>
    internal static class GaussianTail
    {
        /// <summary>2/√π.</summary>
        internal const double TwoOverSqrtPi = 1.1283791670955126;

        /// <summary>1/√π.</summary>
        internal const double OneOverSqrtPi = 0.56418958354775628;

        /// <summary>erf uses the series below this argument, 1 − erfc above.</summary>
        private const double SeriesLimit = 2.0;

        /// <summary>erfc and its integrals use the ratio recurrence from this argument on (full relative precision).</summary>
        private const double RatioLimit = 1.0;

        /// <summary>erf(x) rounds to ±1 in double precision beyond this (erfc(6.5) ≈ 3.8e−20).</summary>
        private const double ErfSaturation = 6.5;

        /// <summary>The error function, with absolute error about 1e−15.</summary>
        /// <param name="x">Argument; NaN gives NaN, ±∞ gives ±1.</param>
        internal static double Erf(double x)
        {
            if (double.IsNaN(x))
            {
                return double.NaN;
            }

            double ax = Math.Abs(x);
            double value;
            if (ax < SeriesLimit)
            {
                value = ErfSeries(ax);
            }
            else if (ax < ErfSaturation)
            {
                value = 1.0 - ErfcFromRatios(ax);
            }
            else
            {
                value = 1.0;
            }

            return x < 0 ? -value : value;
        }

        /// <summary>The complementary error function 1 − erf(x), with full relative precision for x ≥ 1.</summary>
        /// <param name="x">Argument; NaN gives NaN.</param>
        internal static double Erfc(double x)
        {
            if (double.IsNaN(x))
            {
                return double.NaN;
            }

            if (x >= RatioLimit)
            {
                return double.IsPositiveInfinity(x) ? 0.0 : ErfcFromRatios(x);
            }

            if (x > -RatioLimit)
            {
                return x >= 0 ? 1.0 - ErfSeries(x) : 1.0 + ErfSeries(-x);
            }

            return double.IsNegativeInfinity(x) ? 2.0 : 2.0 - ErfcFromRatios(-x);
        }

        /// <summary>
        /// e^(a²)·erfc(u), e^(a²)·ierfc(u) and e^(a²)·i²erfc(u), where ierfc(u) = ∫ᵤ^∞ erfc and
        /// i²erfc(u) = ∫ᵤ^∞ ierfc; plus the scaled Gaussian w = e^(a² − u²).
        /// </summary>
        /// <param name="u">Finite argument; at least <paramref name="a"/> when a &gt; 0.</param>
        /// <param name="a">Scaling root a ≥ 0; 0 for unscaled values.</param>
        /// <param name="erfc">e^(a²)·erfc(u).</param>
        /// <param name="ierfc">e^(a²)·ierfc(u) = e^(a²)·(e^(−u²)/√π − u·erfc(u)).</param>
        /// <param name="i2erfc">e^(a²)·i²erfc(u) = e^(a²)·((u²/2 + 1/4)·erfc(u) − u·e^(−u²)/(2√π)).</param>
        /// <param name="weight">e^(a² − u²).</param>
        internal static void Integrals(double u, double a, out double erfc, out double ierfc, out double i2erfc, out double weight)
        {
            weight = Math.Exp(-(u - a) * (u + a));
            if (u >= RatioLimit)
            {
                Ratios(u, out double rho0, out double rho1, out double rho2);
                erfc = TwoOverSqrtPi * rho0 * weight;
                ierfc = rho1 * erfc;
                i2erfc = rho2 * ierfc;
                return;
            }

            // Here u < 1, so a < 1: no overflow, and the cancellation in ierfc and i²erfc costs under a digit.
            // Below 0 the terms are sums of positive parts.
            double plain = Erfc(u);
            double gauss = Math.Exp(-u * u);
            double scale = Math.Exp(a * a);
            double integral = (gauss * OneOverSqrtPi) - (u * plain);
            double second = ((((u * u) / 2) + 0.25) * plain) - (u * gauss * OneOverSqrtPi / 2);
            erfc = plain * scale;
            ierfc = integral * scale;
            i2erfc = second * scale;
        }

        /// <summary>erf(x) for 0 ≤ x &lt; 2 from the positive-term series.</summary>
        private static double ErfSeries(double x)
        {
            double x2 = x * x;
            double term = x;
            double sum = x;
            for (int n = 0; n < 200; n++)
            {
                term *= 2 * x2 / ((2 * n) + 3);
                sum += term;
                if (term <= 1e-17 * sum)
                {
                    break;
                }
            }

            return TwoOverSqrtPi * Math.Exp(-x2) * sum;
        }

        /// <summary>erfc(u) for u ≥ 1.</summary>
        private static double ErfcFromRatios(double u)
        {
            Ratios(u, out double rho0, out _, out _);
            return TwoOverSqrtPi * rho0 * Math.Exp(-u * u);
        }

        /// <summary>The first three ratios of the repeated erfc integrals, for u ≥ 1.</summary>
        private static void Ratios(double u, out double rho0, out double rho1, out double rho2)
        {
            // Depth measured for 1e-16 relative precision of ρ₀..ρ₂ (214 needed at u = 1, 69 at u = 2, 13 at
            // u = 10), with margin.
            int depth = 16 + (int)Math.Ceiling(230 / (u * Math.Sqrt(u)));
            double twoU = 2 * u;
            double rho = 0;
            for (int n = depth; n > 3; n--)
            {
                rho = 1 / (twoU + (2 * n * rho));
            }

            rho2 = 1 / (twoU + (6 * rho));
            rho1 = 1 / (twoU + (4 * rho2));
            rho0 = 1 / (twoU + (2 * rho1));
        }
    }
}
