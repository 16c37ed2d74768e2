// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Microsoft.ML.Spiking.Samples.Reporting
{
    /// <summary>The console table: ANN against SNN per method and T, and the SNN accuracy at t = 1, 2, 4, … T.</summary>
    internal static class ResultTable
    {
        /// <summary>Formats the results.</summary>
        /// <param name="results">One entry per method and T.</param>
        /// <returns>The table, lines ending with newlines.</returns>
        public static string Format(IReadOnlyList<MethodResult> results)
        {
            CultureInfo ci = CultureInfo.InvariantCulture;
            var s = new StringBuilder();
            string header = string.Format(ci, "{0,-12} {1,6} {2,7} {3,9} {4,9} {5,11} {6,10} {7,12} {8,10} {9,10} {10,8}",
                "method", "T", "images", "ANN acc", "SNN acc", "spikes/img", "SOPs/img", "E_SNN/E_ANN", "ANN img/s", "SNN img/s", "calib s");
            s.AppendLine(header);
            s.AppendLine(new string('-', header.Length));
            foreach (MethodResult r in results)
            {
                s.AppendLine(string.Format(ci, "{0,-12} {1,6} {2,7} {3,9} {4,9} {5,11} {6,10} {7,12} {8,10:N0} {9,10:N0} {10,8:F2}",
                    r.Method, r.TimeSteps, r.Images, Percent(r.AnnAccuracy), Percent(r.SnnAccuracy), Count(r.SpikesPerImage),
                    r.SynapticOpsPerImage is double sops ? Count(sops) : "-", r.EnergyRatio is double e ? e.ToString("F3", ci) : "-",
                    r.AnnImagesPerSecond, r.SnnImagesPerSecond, r.CalibrationSeconds));
            }
            s.AppendLine();
            s.AppendLine("SNN accuracy after t steps (one T-step simulation, read at every prefix):");
            foreach (MethodResult r in results)
            {
                var steps = new List<int>();
                for (int t = 1; t < r.TimeSteps; t *= 2)
                {
                    steps.Add(t);
                }
                steps.Add(r.TimeSteps);
                s.AppendLine(string.Format(ci, "  {0,-12} T = {1,-5} ", r.Method, r.TimeSteps) +
                    string.Join("  ", steps.Select(t => string.Format(ci, "t={0}: {1}", t, Percent(r.AccuracyPerStep[t - 1])))));
            }
            foreach (MethodResult r in results.Where(r => r.QuantizedAnnAccuracy != null))
            {
                s.AppendLine();
                s.AppendLine(string.Format(ci, "{0} T = {1}: quantized ANN (L = {2}) {3}; SNN = quantized ANN on {4} of the rows (must be 100 %);",
                    r.Method, r.TimeSteps, (1L << r.TimeSteps) - 1, Percent(r.QuantizedAnnAccuracy), Percent(r.QuantizedAgreement)));
                s.AppendLine(string.Format(ci, "  the quantization loss against the float ANN is {0} points. (t < T: the output layer's sum after the first t bits.)",
                    ((r.AnnAccuracy - r.QuantizedAnnAccuracy) * 100)?.ToString("F2", ci) ?? "-"));
            }
            return s.ToString();
        }

        private static string Percent(double? value) =>
            value is double v ? (100 * v).ToString("F2", CultureInfo.InvariantCulture) + " %" : "-";

        private static string Count(double value)
        {
            CultureInfo ci = CultureInfo.InvariantCulture;
            double a = Math.Abs(value);
            return a >= 1e9 ? (value / 1e9).ToString("F2", ci) + " G"
                : a >= 1e6 ? (value / 1e6).ToString("F2", ci) + " M"
                : a >= 1e3 ? (value / 1e3).ToString("F1", ci) + " k"
                : value.ToString("F0", ci);
        }
    }
}
