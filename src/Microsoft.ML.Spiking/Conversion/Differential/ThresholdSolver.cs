// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>
    /// Finds the fixed point k(t) = 1 of threshold iteration for x ~ N(r, 1): brackets the root of
    /// g(y) = ln k(eʸ) (positive below the fixed point, negative above) and narrows it with Brent's method.
    /// </summary>
    internal static class ThresholdSolver
    {
        /// <summary>Absolute part of the bracket tolerance on y = ln t.</summary>
        private const double Tolerance = 1e-14;

        /// <summary>y below which t is treated as having reached zero (k → ∞ there, so the root is above).</summary>
        private const double SmallestLog = -700;

        /// <summary>The fixed point t of k(t) = 1.</summary>
        /// <param name="r">μ/σ; finite.</param>
        /// <param name="levels">N ≥ 1.</param>
        /// <param name="maxEvaluations">Most evaluations of k; at least 1.</param>
        /// <returns>t &gt; 0.</returns>
        internal static double Solve(double r, int levels, int maxEvaluations)
        {
            int evaluations = 0;
            double G(double y)
            {
                evaluations++;
                return Math.Log(QuantizationSums.Factor(Math.Exp(y), r, levels, out _));
            }

            // Bracket [lo, hi] with g(lo) > 0 ≥ g(hi), starting near the answer and doubling the step.
            double start = Math.Log(Math.Max(r, 0) + 3);
            double gStart = G(start);
            if (gStart == 0)
            {
                return Math.Exp(start);
            }

            double lo = start;
            double gLo = gStart;
            double hi = start;
            double gHi = gStart;
            double step = 0.5;
            while (gStart > 0 ? gHi > 0 : !(gLo > 0))
            {
                if (evaluations >= maxEvaluations)
                {
                    return Math.Exp(Math.Abs(gLo) < Math.Abs(gHi) ? lo : hi);
                }

                if (gStart > 0)
                {
                    lo = hi;
                    gLo = gHi;
                    hi += step;
                    gHi = G(hi);
                }
                else
                {
                    hi = lo;
                    gHi = gLo;
                    lo = Math.Max(lo - step, SmallestLog);
                    gLo = lo == SmallestLog ? double.PositiveInfinity : G(lo);
                }

                step *= 2;
            }

            return Math.Exp(Brent(G, lo, gLo, hi, gHi, maxEvaluations, ref evaluations));
        }

        /// <summary>Brent's zero finder on [a, b] with f(a), f(b) of opposite signs (or one of them zero).</summary>
        private static double Brent(Func<double, double> f, double a, double fa, double b, double fb, int maxEvaluations, ref int evaluations)
        {
            // b is the best estimate, a the previous one, c the point that keeps the root bracketed with b.
            double c = a;
            double fc = fa;
            double step = b - a;
            double previousStep = step;
            while (true)
            {
                if ((fb > 0) == (fc > 0))
                {
                    c = a;
                    fc = fa;
                    step = b - a;
                    previousStep = step;
                }

                if (Math.Abs(fc) < Math.Abs(fb))
                {
                    (a, b, c) = (b, c, b);
                    (fa, fb, fc) = (fb, fc, fb);
                }

                double tol = (2 * double.Epsilon) + (4e-16 * Math.Abs(b)) + (Tolerance / 2);
                double half = (c - b) / 2;
                if (Math.Abs(half) <= tol || fb == 0 || evaluations >= maxEvaluations)
                {
                    return b;
                }

                if (Math.Abs(previousStep) >= tol && Math.Abs(fa) > Math.Abs(fb))
                {
                    // Interpolate: secant when only two distinct points exist, else inverse quadratic.
                    double p;
                    double q;
                    double s = fb / fa;
                    if (a == c)
                    {
                        p = 2 * half * s;
                        q = 1 - s;
                    }
                    else
                    {
                        double qa = fa / fc;
                        double rb = fb / fc;
                        p = s * ((2 * half * qa * (qa - rb)) - ((b - a) * (rb - 1)));
                        q = (qa - 1) * (rb - 1) * (s - 1);
                    }

                    if (p > 0)
                    {
                        q = -q;
                    }
                    else
                    {
                        p = -p;
                    }

                    // Accept only a step that stays well inside the bracket and shrinks fast enough.
                    if (2 * p < Math.Min((3 * half * q) - Math.Abs(tol * q), Math.Abs(previousStep * q)))
                    {
                        previousStep = step;
                        step = p / q;
                    }
                    else
                    {
                        step = half;
                        previousStep = half;
                    }
                }
                else
                {
                    step = half;
                    previousStep = half;
                }

                a = b;
                fa = fb;
                b += Math.Abs(step) > tol ? step : (half > 0 ? tol : -tol);
                fb = f(b);
            }
        }
    }
}
