// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Tests.Calibration
{
    /// <summary>Brute-force reference statistics for the calibration tests.</summary>
    internal static class CalibrationReference
    {
        /// <summary>torch.quantile's default: linear interpolation at q·(N−1) of the ascending sorted values.</summary>
        public static double PercentileOfSorted(IReadOnlyList<float> sortedAscending, double p)
        {
            int n = sortedAscending.Count;
            double position = p / 100.0 * (n - 1);
            int low = Math.Min((int)Math.Floor(position), n - 1);
            int high = Math.Min(low + 1, n - 1);
            double fraction = position - low;
            double a = sortedAscending[low];
            double b = sortedAscending[high];
            return a + (fraction * (b - a));
        }

        public static double Percentile(IEnumerable<float> values, double p)
        {
            float[] sorted = values.ToArray();
            Array.Sort(sorted);
            return PercentileOfSorted(sorted, p);
        }

        public static (double Mean, double Variance) MeanAndPopulationVariance(IReadOnlyList<float> values)
        {
            double sum = 0;
            foreach (float v in values)
            {
                sum += v;
            }

            double mean = sum / values.Count;
            double squares = 0;
            foreach (float v in values)
            {
                double d = v - mean;
                squares += d * d;
            }

            return (mean, squares / values.Count);
        }

        public static void Shuffle<T>(T[] items, Random random)
        {
            for (int i = items.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }
        }

        public static float NextGaussian(Random random)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
    }
}
