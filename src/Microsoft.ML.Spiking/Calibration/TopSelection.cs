// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.Spiking.Calibration
{
    /// <summary>Selection of the k largest of a span of finite values, in expected linear time.</summary>
    internal static class TopSelection
    {
        /// <summary>
        /// Reorders <paramref name="values"/> so that its first <paramref name="k"/> elements are its k largest (in no
        /// particular order) and returns the smallest of them, the k-th largest value.
        /// </summary>
        /// <remarks>
        /// Quickselect with Hoare partitioning around a median of three, descending; after 2·log₂(n) + 8 rounds
        /// without finishing, the remaining range is sorted instead, so the worst case is O(n log n).
        /// The values must be finite (no NaN), as calibration statistics validate them.
        /// </remarks>
        /// <param name="values">The values; reordered.</param>
        /// <param name="k">How many to keep, in [1, values.Length].</param>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float KeepLargest(Span<float> values, int k)
        {
            if (k < 1 || k > values.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(k), k, "k must be between 1 and the number of values.");
            }

            int target = k - 1;
            int low = 0;
            int high = values.Length - 1;
            int rounds = (2 * BitOperations.Log2((uint)values.Length)) + 8;
            while (high > low)
            {
                if (rounds-- == 0)
                {
                    Span<float> rest = values.Slice(low, high - low + 1);
                    rest.Sort();
                    rest.Reverse();
                    break;
                }

                float pivot = MedianOfThree(values[low], values[low + ((high - low) / 2)], values[high]);
                int i = low;
                int j = high;
                while (i <= j)
                {
                    while (values[i] > pivot)
                    {
                        i++;
                    }

                    while (values[j] < pivot)
                    {
                        j--;
                    }

                    if (i <= j)
                    {
                        (values[i], values[j]) = (values[j], values[i]);
                        i++;
                        j--;
                    }
                }

                // [low, j] ≥ pivot, (j, i) = pivot, [i, high] ≤ pivot.
                if (target <= j)
                {
                    high = j;
                }
                else if (target >= i)
                {
                    low = i;
                }
                else
                {
                    break;
                }
            }

            return values[target];
        }

        private static float MedianOfThree(float a, float b, float c) =>
            a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    }
}
