// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Microsoft.ML.Spiking.Samples.Reporting
{
    /// <summary>
    /// The PNG plots of a run (OxyPlot, rendered with SkiaSharp): accuracy against time step per method with the ANN's
    /// accuracy as a line, the energy ratio against time step with the ANN at 1, and the firing rate of every neuron
    /// layer. For each method the longest-T result is plotted (shorter T are its prefixes).
    /// </summary>
    internal static class PlotWriter
    {
        /// <summary>Accuracy plot file name.</summary>
        public const string AccuracyFile = "accuracy.png";

        /// <summary>Energy plot file name.</summary>
        public const string EnergyFile = "energy.png";

        /// <summary>Firing-rate plot file name.</summary>
        public const string FiringRatesFile = "firing-rates.png";

        private const int Width = 900;
        private const int Height = 560;
        private const string Font = "DejaVu Sans";

        private static readonly OxyColor[] Palette =
        {
            OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x2c, 0xa0, 0x2c), OxyColor.FromRgb(0x94, 0x67, 0xbd),
        };

        /// <summary>Writes the three plots into <paramref name="folder"/> (created if needed).</summary>
        /// <param name="folder">The folder.</param>
        /// <param name="modelName">The model, for the titles.</param>
        /// <param name="results">The run's results.</param>
        /// <returns>The files written.</returns>
        public static IReadOnlyList<string> WriteAll(string folder, string modelName, IReadOnlyList<MethodResult> results)
        {
            ArgumentNullException.ThrowIfNull(results, nameof(results));
            Directory.CreateDirectory(folder);
            MethodResult[] longest = results.GroupBy(r => r.Method).Select(g => g.OrderBy(r => r.TimeSteps).Last()).ToArray();
            if (longest.Length == 0)
            {
                return Array.Empty<string>();
            }
            var files = new List<string>
            {
                Save(Accuracy(modelName, longest), Path.Combine(folder, AccuracyFile), Height),
            };
            if (longest.Any(r => r.EnergyRatioPerStep != null))
            {
                files.Add(Save(Energy(modelName, longest), Path.Combine(folder, EnergyFile), Height));
            }
            int layers = longest.Max(r => r.FiringRates.Count);
            if (layers > 0)
            {
                files.Add(Save(FiringRates(modelName, longest), Path.Combine(folder, FiringRatesFile), Math.Max(Height, 140 + layers * (18 + 10 * longest.Length))));
            }
            return files;
        }

        private static PlotModel Accuracy(string modelName, IReadOnlyList<MethodResult> results)
        {
            int maxT = results.Max(r => r.TimeSteps);
            PlotModel plot = NewPlot($"{modelName}: accuracy vs time step ({results[0].Images} images)", LegendPosition.RightBottom);
            plot.Axes.Add(StepAxis(maxT));
            plot.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "accuracy (%)", Minimum = 0, Maximum = 100, MajorStep = 10, MajorGridlineStyle = LineStyle.Dot });
            if (results[0].AnnAccuracy is double ann)
            {
                plot.Series.Add(Horizontal($"ANN ({100 * ann:F2} %)", 100 * ann, maxT));
            }
            for (int i = 0; i < results.Count; i++)
            {
                MethodResult r = results[i];
                plot.Series.Add(Curve($"{r.Method} SNN (T = {r.TimeSteps}: {100 * r.SnnAccuracy:F2} %)", r.AccuracyPerStep.Select(a => 100 * a).ToArray(), Palette[i % Palette.Length]));
            }
            return plot;
        }

        private static PlotModel Energy(string modelName, IReadOnlyList<MethodResult> results)
        {
            int maxT = results.Max(r => r.TimeSteps);
            PlotModel plot = NewPlot($"{modelName}: energy vs time step", LegendPosition.LeftTop);
            plot.Subtitle = "E_SNN / E_ANN: synaptic operations x E_AC over ANN MACs x E_MAC; " + results[0].EnergyModel;
            plot.Axes.Add(StepAxis(maxT));
            double top = Math.Max(1.1, results.Where(r => r.EnergyRatioPerStep != null).Max(r => r.EnergyRatioPerStep!.Max()) * 1.05);
            plot.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "E_SNN / E_ANN (1 = one ANN inference)", Minimum = 0, Maximum = top, MajorGridlineStyle = LineStyle.Dot });
            plot.Series.Add(Horizontal("ANN (one inference)", 1.0, maxT));
            for (int i = 0; i < results.Count; i++)
            {
                MethodResult r = results[i];
                if (r.EnergyRatioPerStep != null)
                {
                    plot.Series.Add(Curve($"{r.Method} SNN (T = {r.TimeSteps}: {r.EnergyRatio:F3})", r.EnergyRatioPerStep.ToArray(), Palette[i % Palette.Length]));
                }
            }
            return plot;
        }

        private static PlotModel FiringRates(string modelName, IReadOnlyList<MethodResult> results)
        {
            MethodResult widest = results.OrderByDescending(r => r.FiringRates.Count).First();
            string[] layers = widest.FiringRates.Select(f => f.Layer).ToArray();
            PlotModel plot = NewPlot($"{modelName}: firing rate per neuron layer", LegendPosition.BottomCenter);
            plot.Axes.Add(new CategoryAxis
            {
                Position = AxisPosition.Left,
                Title = "neuron layer (input side at the top)",
                ItemsSource = layers,
                StartPosition = 1,
                EndPosition = 0,
                GapWidth = 0.3,
            });
            double max = results.SelectMany(r => r.FiringRates).Select(f => f.FiringRate).DefaultIfEmpty(0).Max();
            plot.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "firing rate (spikes per neuron per step)", Minimum = 0, Maximum = Math.Max(0.01, max * 1.2), MajorGridlineStyle = LineStyle.Dot });
            for (int i = 0; i < results.Count; i++)
            {
                MethodResult r = results[i];
                var bars = new BarSeries
                {
                    Title = $"{r.Method} (T = {r.TimeSteps})",
                    FillColor = Palette[i % Palette.Length],
                    LabelPlacement = LabelPlacement.Outside,
                    LabelFormatString = "{0:0.000}",
                };
                foreach (string layer in layers)
                {
                    LayerFiringRate? rate = r.FiringRates.FirstOrDefault(f => f.Layer == layer);
                    bars.Items.Add(new BarItem(rate?.FiringRate ?? 0));
                }
                plot.Series.Add(bars);
            }
            return plot;
        }

        private static PlotModel NewPlot(string title, LegendPosition legend)
        {
            var plot = new PlotModel
            {
                Title = title,
                TitleFontSize = 15,
                SubtitleFontSize = 11,
                DefaultFont = Font,
                Background = OxyColors.White,
                PlotAreaBorderColor = OxyColors.Gray,
            };
            plot.Legends.Add(new Legend
            {
                LegendPosition = legend,
                LegendPlacement = legend == LegendPosition.BottomCenter ? LegendPlacement.Outside : LegendPlacement.Inside,
                LegendOrientation = legend == LegendPosition.BottomCenter ? LegendOrientation.Horizontal : LegendOrientation.Vertical,
                LegendBackground = OxyColor.FromAColor(220, OxyColors.White),
                LegendBorder = OxyColors.Gray,
            });
            return plot;
        }

        private static LinearAxis StepAxis(int maxT) => new()
        {
            Position = AxisPosition.Bottom,
            Title = "time step t",
            Minimum = maxT > 1 ? 1 : 0.5,
            Maximum = maxT > 1 ? maxT : 1.5,
            MajorGridlineStyle = LineStyle.Dot,
            MinimumMajorStep = 1,
            MinimumMinorStep = 1,
        };

        private static LineSeries Horizontal(string title, double value, int maxT)
        {
            var line = new LineSeries { Title = title, Color = OxyColors.Black, LineStyle = LineStyle.Dash, StrokeThickness = 1.5 };
            line.Points.Add(new DataPoint(maxT > 1 ? 1 : 0.5, value));
            line.Points.Add(new DataPoint(maxT > 1 ? maxT : 1.5, value));
            return line;
        }

        private static LineSeries Curve(string title, IReadOnlyList<double> perStep, OxyColor color)
        {
            var line = new LineSeries
            {
                Title = title,
                Color = color,
                StrokeThickness = 2,
                MarkerType = perStep.Count <= 64 ? MarkerType.Circle : MarkerType.None,
                MarkerSize = 2.5,
                MarkerFill = color,
            };
            for (int t = 1; t <= perStep.Count; t++)
            {
                line.Points.Add(new DataPoint(t, perStep[t - 1]));
            }
            return line;
        }

        private static string Save(PlotModel plot, string path, int height)
        {
            using FileStream stream = File.Create(path);
            new OxyPlot.SkiaSharp.PngExporter { Width = Width, Height = height, UseTextShaping = false }.Export(plot, stream);
            return path;
        }
    }
}
