// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Samples.Cli;

namespace Microsoft.ML.Spiking.Samples
{
    /// <summary>
    /// The one place where a --method or --thresholds name becomes <see cref="SpikingConversionOptions"/> settings.
    /// A method the library does not have yet has no <c>Configure</c> action: asked for by name it is a usage
    /// error, and "all" skips it. Wiring a new method is one line: give its entry the action that sets it up.
    /// </summary>
    internal static class MethodCatalog
    {
        /// <summary>The --method value that runs every available method.</summary>
        public const string All = "all";

        /// <summary>Every method the command line knows, in the order they run and are reported.</summary>
        private static readonly MethodEntry[] Methods =
        {
            new("rate", "rate coding: integrate-and-fire neurons, reset by subtraction", o => o.Method = ConversionMethod.RateCoding),
            new("differential", "differential coding (DCGS): multi-threshold neurons (--levels n), ReLU gate, step-0 bias", o => o.Method = ConversionMethod.DifferentialCoding),
            new("parallel", "parallel conversion: each layer's T-step block at once; QCFS lossless at T = L, ReLU by threshold recording", o => o.Method = ConversionMethod.Parallel),
            new("bitserial", "bit-serial error-free conversion: ReLUs quantized to L = 2^T - 1 levels (T = --steps), T bits MSB first", o => o.Method = ConversionMethod.BitSerial),
        };

        /// <summary>Every --thresholds value the command line knows.</summary>
        private static readonly ThresholdEntry[] ThresholdMethods =
        {
            new("max", "the largest activation seen in calibration", o => o.Thresholds = ThresholdMethod.Max),
            new("percentile", "the 99.9th percentile of the activations (default for rate and bitserial)", o => o.Thresholds = ThresholdMethod.Percentile),
            new("iteration", "threshold iteration on the ReLU inputs' mean and variance, N = T*2^n levels (differential, its default) or the error-minimising lambda of a Gaussian fit for L = 2^T - 1 levels (bitserial)", o => o.Thresholds = ThresholdMethod.Iteration),
        };

        /// <summary>Method names, in catalog order.</summary>
        public static IReadOnlyList<string> MethodNames { get; } = Methods.Select(m => m.Name).ToArray();

        /// <summary>Threshold method names.</summary>
        public static IReadOnlyList<string> ThresholdNames { get; } = ThresholdMethods.Select(m => m.Name).ToArray();

        /// <summary>One line per method and per threshold method, for --help.</summary>
        public static IEnumerable<string> Describe() =>
            Methods.Select(m => $"{m.Name,-14}{m.Description}{(m.Configure == null ? " (not available in this version)" : string.Empty)}")
                .Concat(ThresholdMethods.Select(m => $"{m.Name,-14}thresholds: {m.Description}{(m.Configure == null ? " (not available in this version)" : string.Empty)}"));

        /// <summary>True when the library in this build can run the method.</summary>
        /// <param name="name">A method name from <see cref="MethodNames"/>.</param>
        public static bool IsAvailable(string name) => Find(name).Configure != null;

        /// <summary>
        /// The methods to run for the --method names given, in catalog order, and those "all" skipped.
        /// </summary>
        /// <param name="requested">Method names and/or "all".</param>
        /// <exception cref="UsageException">A name is unknown, or names a method this version does not have.</exception>
        public static (IReadOnlyList<string> Run, IReadOnlyList<string> Skipped) Select(IEnumerable<string> requested)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            bool all = false;
            foreach (string name in requested)
            {
                if (name == All)
                {
                    all = true;
                    continue;
                }
                if (!MethodNames.Contains(name))
                {
                    throw new UsageException($"unknown method '{name}' for --method (expected {string.Join(", ", MethodNames)} or {All})");
                }
                if (!IsAvailable(name))
                {
                    throw new UsageException(NotAvailable("method", name));
                }
                names.Add(name);
            }
            IReadOnlyList<string> run = Methods.Where(m => m.Configure != null && (all || names.Contains(m.Name))).Select(m => m.Name).ToArray();
            IReadOnlyList<string> skipped = all ? Methods.Where(m => m.Configure == null).Select(m => m.Name).ToArray() : Array.Empty<string>();
            return (run, skipped);
        }

        /// <summary>Checks a --thresholds value.</summary>
        /// <param name="name">The value given.</param>
        /// <exception cref="UsageException">The name is unknown or not available in this version.</exception>
        public static void CheckThresholds(string name)
        {
            ThresholdEntry? entry = ThresholdMethods.FirstOrDefault(m => m.Name == name);
            if (entry == null)
            {
                throw new UsageException($"unknown value '{name}' for --thresholds (expected {string.Join(", ", ThresholdNames)})");
            }
            if (entry.Configure == null)
            {
                throw new UsageException(NotAvailable("thresholds", name));
            }
        }

        /// <summary>Sets the conversion method and the threshold method on <paramref name="options"/>.</summary>
        /// <param name="method">An available method name.</param>
        /// <param name="thresholds">An available threshold method name.</param>
        /// <param name="options">The options to set.</param>
        /// <exception cref="UsageException">The threshold method does not apply to the method (iteration with rate coding).</exception>
        /// <param name="transformer">True for a transformer model: differential coding defaults to the percentile (threshold iteration is for ReLU networks).</param>
        public static void Configure(string method, string? thresholds, SpikingConversionOptions options, bool transformer = false)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            thresholds ??= DefaultThresholds(method, transformer);
            if (thresholds == "iteration" && method is "rate" or "parallel")
            {
                throw new UsageException($"--thresholds iteration applies to differential and bit-serial conversion; {method} uses max or percentile");
            }
            (Find(method).Configure ?? throw new InvalidOperationException(NotAvailable("method", method)))(options);
            ThresholdEntry entry = ThresholdMethods.First(m => m.Name == thresholds);
            (entry.Configure ?? throw new InvalidOperationException(NotAvailable("thresholds", thresholds)))(options);
        }

        /// <summary>
        /// The threshold method a method uses when --thresholds is not given: iteration for differential coding (the reference CNN
        /// configuration; a transformer takes the percentile, scaled by 8), max for parallel, else the 99.9th percentile.
        /// </summary>
        /// <param name="method">A method name.</param>
        /// <param name="transformer">True for a transformer model.</param>
        public static string DefaultThresholds(string method, bool transformer = false) => method switch
        {
            "differential" => transformer ? "percentile" : "iteration",
            "parallel" => "max",
            _ => "percentile",
        };

        /// <summary>T when --steps is not given: 32 for rate coding, 8 for differential coding, 4 bits (L = 15) for bit-serial.</summary>
        /// <param name="method">A method name.</param>
        public static int DefaultSteps(string method) => method switch
        {
            "differential" => 8,
            "parallel" => 8,
            "bitserial" => 4,
            _ => SampleOptions.DefaultTimeSteps,
        };

        /// <summary>The T values a method runs: --steps if given (bit-serial T must be at most 24 bits), else its default.</summary>
        /// <param name="method">A method name.</param>
        /// <param name="options">The parsed options.</param>
        /// <exception cref="UsageException">Bit-serial asked for more than 24 bits.</exception>
        public static IReadOnlyList<int> StepsFor(string method, SampleOptions options)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            if (!options.StepsGiven)
            {
                return new[] { DefaultSteps(method) };
            }
            if (method == "bitserial" && options.Steps.Any(t => t > 24))
            {
                throw new UsageException($"bitserial sends T bits per activation (L = 2^T - 1 levels); --steps {options.Steps.Max()} is more than 24");
            }
            return options.Steps;
        }

        private static string NotAvailable(string what, string name) =>
            $"{what} '{name}' is not available in this version of Microsoft.ML.Spiking";

        private static MethodEntry Find(string name) =>
            Methods.FirstOrDefault(m => m.Name == name) ?? throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown method.");

        /// <summary>A conversion method: its command-line name, a description, and how it sets the options (null: not in this version).</summary>
        private sealed record MethodEntry(string Name, string Description, Action<SpikingConversionOptions>? Configure);

        /// <summary>A threshold method: its command-line name, a description, and how it sets the options (null: not in this version).</summary>
        private sealed record ThresholdEntry(string Name, string Description, Action<SpikingConversionOptions>? Configure);
    }
}
