// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Conversion
{
    /// <summary>What every converter does with an activation site's calibration statistics before its method-specific choice.</summary>
    internal static class SiteThresholds
    {
        /// <summary>The statistics of <paramref name="site"/>, or an error naming it.</summary>
        /// <param name="site">The activation.</param>
        /// <param name="statistics">The calibration result.</param>
        /// <param name="kind">How the message names the site ("ReLU", "activation").</param>
        /// <param name="need">What needs them, for the message, or null.</param>
        public static SiteStatistics Of(Layer site, CalibrationResult? statistics, string kind, string? need = null)
        {
            if (statistics == null || !statistics.Sites.TryGetValue(site.Name, out SiteStatistics? stats))
            {
                throw new ArgumentException(
                    $"No calibration statistics for {kind} '{site.Name}' ({site.SourceOpType}); " +
                    (need == null ? "calibrate" : need + ". Calibrate") + " the same prepared network before converting.",
                    nameof(statistics));
            }
            return stats;
        }

        /// <summary>
        /// Replaces every threshold that is not positive and finite (a site never active during calibration) by the largest
        /// one of the layer (1 if there is none), with a note; a threshold of 0 would fire every step or never.
        /// </summary>
        /// <param name="site">The activation.</param>
        /// <param name="values">Thresholds (one, per channel or per neuron).</param>
        /// <param name="noun">How the note names them ("threshold(s)", "λ").</param>
        /// <param name="notes">Where the note goes.</param>
        public static float[] ReplaceDead(Layer site, float[] values, string noun, List<string> notes)
        {
            static bool Usable(float v) => v > 0 && float.IsFinite(v);
            int dead = values.Count(v => !Usable(v));
            if (dead == 0)
            {
                return values;
            }
            float fallback = values.Where(Usable).DefaultIfEmpty(1f).Max();
            notes.Add($"'{site.Name}': {dead} of {values.Length} {noun} came out zero (never active during calibration); set to the layer's largest ({fallback.ToString("G4", CultureInfo.InvariantCulture)}).");
            return values.Select(v => Usable(v) ? v : fallback).ToArray();
        }
    }
}
