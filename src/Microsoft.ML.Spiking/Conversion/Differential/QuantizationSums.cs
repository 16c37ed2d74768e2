// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>
    /// The threshold-iteration factor k(θ) of algorithms.md §2.11 for a standardised pre-activation
    /// x ~ N(r, 1), in O(1) time per evaluation whatever the number of levels N.
    /// </summary>
    /// <remarks>
    /// <para>
    /// With uᵢ = (cᵢ − r)/√2 for the rounding boundaries cᵢ = (2i−1)t/(2N), substituting
    /// r = cᵢ − √2·uᵢ into the numerator of §2.11 gives the equivalent cancellation-free form
    /// k(t) = 1/2 + √2·N·Q / (D·t), with D = Σ (2i−1)·erfc(uᵢ) (= N²·(1 − S2)) and Q = Σ ierfc(uᵢ), where
    /// ierfc(u) = ∫ᵤ^∞ erfc = e^(−u²)/√π − u·erfc(u) &gt; 0. Both sums are positive, so k ≥ 1/2 always.
    /// </para>
    /// <para>
    /// When u₁ &gt; 0 every term is taken relative to e^(−u₁²), so far above μ + 6σ nothing underflows.
    /// Boundaries with u &lt; −7 contribute exactly (erfc = 2, ierfc = −2u); those with e^(u₁² − u²) &lt; e⁻⁸⁰
    /// are negligible. The remaining terms, equally spaced by h = t/(N√2), are summed directly when few or
    /// when h is coarse, and otherwise by the Euler–Maclaurin formula with six Bernoulli corrections, whose
    /// derivatives are Hermite polynomials times e^(−u²) and whose integrals are closed forms in erfc, ierfc and
    /// i²erfc (reflected through erfc(u) = 2 − erfc(−u) below zero, and Taylor series for short windows, so
    /// that no difference cancels badly). Against direct summation the relative difference of k is about
    /// 1e−13 or less for |μ/σ| up to a few hundred.
    /// </para>
    /// </remarks>
    internal static class QuantizationSums
    {
        private const double Sqrt2 = 1.4142135623730951;

        /// <summary>Below this u, erfc(u) is 2 and e^(−u²) negligible to double precision.</summary>
        private const double FlatBelow = -7.0;

        /// <summary>Terms whose scaled Gaussian e^(a² − u²) is below e^(−TailExponent) are dropped.</summary>
        private const double TailExponent = 80.0;

        /// <summary>Fewer terms than this are always summed directly.</summary>
        private const int DirectCount = 64;

        /// <summary>Euler–Maclaurin is used when h·max(1, 2a) is at most this.</summary>
        private const double MaxScaledStep = 0.1;

        /// <summary>Windows with L·max(1, 2|a|) up to this get their integrals from Taylor series.</summary>
        private const double ShortWindow = 0.5;

        /// <summary>B₂ₖ/(2k)! for k = 1..6.</summary>
        private static readonly double[] s_bernoulli =
        {
            1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600, 1.0 / 47900160, -691.0 / 1307674368000,
        };

        /// <summary>k(t) for x ~ N(r, 1) and N levels.</summary>
        /// <param name="t">Threshold in units of σ; finite and positive.</param>
        /// <param name="r">Mean in units of σ; finite.</param>
        /// <param name="levels">N ≥ 1.</param>
        /// <param name="logOneMinusS2">ln(1 − S2), finite even where 1 − S2 itself would underflow.</param>
        /// <returns>k(t) ≥ 1/2.</returns>
        internal static double Factor(double t, double r, int levels, out double logOneMinusS2)
        {
            double n = levels;
            double h = t / (n * Sqrt2);
            double u1 = Boundary(1, t, r, n);
            double a = Math.Max(u1, 0);

            long flat = 0;
            if (u1 < FlatBelow)
            {
                double v = (FlatBelow - u1) / h;
                flat = v >= n ? levels : (long)Math.Ceiling(v);
            }

            double vt = (Math.Sqrt((a * a) + TailExponent) - u1) / h;
            long last = vt >= n - 1 ? levels : 1 + (long)Math.Floor(vt);

            double d = 0;
            double q = 0;
            if (flat > 0)
            {
                // Σ (2i−1)·2 = 2·flat², Σ −2uᵢ = −flat·(u₁ + u_flat) (an arithmetic series of positive terms).
                d = 2.0 * flat * flat;
                q = -flat * (u1 + Boundary(flat, t, r, n));
            }

            long count = last - flat;
            if (count > 0)
            {
                double first = Boundary(flat + 1, t, r, n);
                if (count > DirectCount && h * Math.Max(1, 2 * first) <= MaxScaledStep)
                {
                    EulerMaclaurin(first, h, count, a, flat, ref d, ref q);
                }
                else
                {
                    for (long i = flat + 1; i <= last; i++)
                    {
                        GaussianTail.Integrals(Boundary(i, t, r, n), a, out double erfc, out double ierfc, out _, out _);
                        d += ((2.0 * i) - 1) * erfc;
                        q += ierfc;
                    }
                }
            }

            logOneMinusS2 = Math.Log(d) - (a * a) - (2 * Math.Log(n));
            return 0.5 + (Sqrt2 * n * q / (d * t));
        }

        /// <summary>uᵢ = (cᵢ − r)/√2.</summary>
        private static double Boundary(long i, double t, double r, double n) => ((((2.0 * i) - 1) * t / (2 * n)) - r) / Sqrt2;

        /// <summary>Adds Σ (2i−1)·erfc(uᵢ) to <paramref name="d"/> and Σ ierfc(uᵢ) to <paramref name="q"/> for i = flat+1 .. flat+count, uᵢ = first + (i−flat−1)·h.</summary>
        private static void EulerMaclaurin(double first, double h, long count, double a, long flat, ref double d, ref double q)
        {
            double length = (count - 1) * h;
            double lastU = first + length;
            GaussianTail.Integrals(first, a, out double e0, out double p0, out double j0, out double w0);
            GaussianTail.Integrals(lastU, a, out double e1, out double p1, out double j1, out double w1);

            // Σ erfc, Σ (u − first)·erfc and Σ ierfc: integral + end-point average (trapezoid) + corrections.
            Span<double> integrals = stackalloc double[3];
            if (length * Math.Max(1, 2 * Math.Abs(first)) <= ShortWindow)
            {
                WindowTaylor(first, length, e0, p0, w0, integrals);
            }
            else if (lastU <= 0)
            {
                // Below zero (so unscaled) reflect, erfc(u) = 2 − erfc(−u): the large polynomial part is exact and the
                // closed forms only carry the small remainder, ierfc(u) = −2u + ierfc(−u).
                GaussianTail.Integrals(-first, 0, out _, out double pr0, out double jr0, out _);
                GaussianTail.Integrals(-lastU, 0, out _, out double pr1, out double jr1, out _);
                integrals[0] = (2 * length) - (pr1 - pr0);
                integrals[1] = (length * length) - (length * pr1) + (jr1 - jr0);
                integrals[2] = (-length * (first + lastU)) + (jr1 - jr0);
            }
            else
            {
                integrals[0] = p0 - p1;
                integrals[1] = j0 - j1 - (length * p1);
                integrals[2] = j0 - j1;
            }

            double sumE = (integrals[0] / h) + ((e0 + e1) / 2);
            double sumP = (integrals[1] / h) + (length * e1 / 2);
            double sumQ = (integrals[2] / h) + ((p0 + p1) / 2);

            Span<double> hermite0 = stackalloc double[11];
            Span<double> hermite1 = stackalloc double[11];
            Hermite(first, hermite0);
            Hermite(lastU, hermite1);
            double power = h;
            for (int k = 1; k <= s_bernoulli.Length; k++)
            {
                // erfc⁽ⁿ⁾(u) = −(2/√π)(−1)ⁿ⁻¹Hₙ₋₁(u)e^(−u²): odd n = 2k−1 and even n = 2k−2.
                double odd0 = -GaussianTail.TwoOverSqrtPi * hermite0[(2 * k) - 2] * w0;
                double odd1 = -GaussianTail.TwoOverSqrtPi * hermite1[(2 * k) - 2] * w1;
                double even0 = k == 1 ? e0 : GaussianTail.TwoOverSqrtPi * hermite0[(2 * k) - 3] * w0;
                double even1 = k == 1 ? e1 : GaussianTail.TwoOverSqrtPi * hermite1[(2 * k) - 3] * w1;

                // ((u − first)·erfc)⁽ⁿ⁾ = (u − first)·erfc⁽ⁿ⁾ + n·erfc⁽ⁿ⁻¹⁾ ; ierfc⁽ⁿ⁾ = −erfc⁽ⁿ⁻¹⁾.
                double shifted0 = ((2 * k) - 1) * even0;
                double shifted1 = (length * odd1) + (((2 * k) - 1) * even1);
                double c = s_bernoulli[k - 1] * power;
                sumE += c * (odd1 - odd0);
                sumP += c * (shifted1 - shifted0);
                sumQ += c * (even0 - even1);
                power *= h * h;
            }

            d += (((2.0 * flat) + 1) * sumE) + (2 / h * sumP);
            q += sumQ;
        }

        /// <summary>
        /// ∫ erfc, ∫ (u − a)·erfc and ∫ ierfc over [a, a + L] (scaled like the inputs) from Taylor series at a, for
        /// windows too short for the closed forms, whose differences would cancel.
        /// </summary>
        private static void WindowTaylor(double a, double length, double erfc, double ierfc, double weight, Span<double> integrals)
        {
            // With Dₙ = erfc⁽ⁿ⁾(a) (D₀ = erfc, Dₙ = −(2/√π)(−1)ⁿ⁻¹Hₙ₋₁(a)·w) and Pₙ = Lⁿ⁺¹/(n+1)!:
            // ∫ erfc = Σ Dₙ·Pₙ, ∫ v·erfc = Σ Dₙ·Pₙ·L(n+1)/(n+2), ∫ ierfc = ierfc·L − Σ Dₙ·Pₙ·L/(n+2).
            // Terms fall like xⁿ/n! with x = L·max(1, 2|a|) ≤ 1/2, so 40 terms are more than enough.
            double hermitePrevious = 0;
            double hermite = 1;
            double derivative = erfc;
            double power = length;
            double sign = 1;
            double e = 0;
            double p = 0;
            double q = ierfc * length;
            int small = 0;
            for (int n = 0; n < 40 && small < 2; n++)
            {
                double termE = derivative * power;
                double termP = termE * length * (n + 1) / (n + 2);
                double termQ = termE * length / (n + 2);
                e += termE;
                p += termP;
                q -= termQ;
                bool negligible = Math.Abs(termE) <= 1e-18 * Math.Abs(e) && Math.Abs(termP) <= 1e-18 * Math.Abs(p) && Math.Abs(termQ) <= 1e-18 * Math.Abs(q);
                small = negligible ? small + 1 : 0;

                derivative = -GaussianTail.TwoOverSqrtPi * sign * hermite * weight;
                sign = -sign;
                (hermitePrevious, hermite) = (hermite, (2 * a * hermite) - (2 * n * hermitePrevious));
                power *= length / (n + 2);
            }

            integrals[0] = e;
            integrals[1] = p;
            integrals[2] = q;
        }

        /// <summary>Physicists' Hermite polynomials H₀..H₁₀ at u.</summary>
        private static void Hermite(double u, Span<double> values)
        {
            values[0] = 1;
            values[1] = 2 * u;
            for (int n = 1; n + 1 < values.Length; n++)
            {
                values[n + 1] = (2 * u * values[n]) - (2 * n * values[n - 1]);
            }
        }
    }
}
