// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// The fused neuron kernels: an ONNX Runtime custom-op library (C++, <c>src/Microsoft.ML.Spiking/Native</c>) that
    /// the build compiles with g++ on Linux x64 and copies next to the assembly. Its operators run an IF or
    /// multi-threshold neuron over all K steps of a chunk in one pass, with the same float operations as the
    /// standard-op lowering. Found and test-loaded once per process; where it is missing or does not load, the
    /// simulator uses the standard ops.
    /// </summary>
    internal static class NativeKernels
    {
        /// <summary>Operator domain of the kernels (version 1).</summary>
        public const string Domain = "microsoft.ml.spiking";

        /// <summary>
        /// Environment variable that turns the kernels off for the whole process when set to <c>0</c>, <c>false</c> or
        /// <c>off</c>, so that the standard-op lowering runs everywhere (also in tests and samples that use the defaults).
        /// </summary>
        public const string EnvironmentSwitch = "SPIKING_NATIVE_KERNELS";

        /// <summary>File name of the library.</summary>
        public const string LibraryName = "libspikingkernels.so";

        private static readonly Lazy<(string? Path, string Status)> s_probe = new Lazy<(string? Path, string Status)>(Probe);

        /// <summary>True when the library was found and ONNX Runtime registered its operators.</summary>
        public static bool IsAvailable => s_probe.Value.Path != null;

        /// <summary>Full path of the loaded library, or null.</summary>
        public static string? LibraryPath => s_probe.Value.Path;

        /// <summary>One line saying whether the kernels are available, and from where or why not.</summary>
        public static string Status => s_probe.Value.Status;

        /// <summary>True on the platforms the build compiles the library for (Linux x64).</summary>
        public static bool IsSupportedPlatform => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

        /// <summary>Registers the kernels' operators on session options; the library must be available.</summary>
        public static void Register(SessionOptions options)
        {
            ArgumentNullException.ThrowIfNull(options, nameof(options));
            string path = LibraryPath ?? throw new InvalidOperationException($"The fused neuron kernels are not available: {Status}");
            options.RegisterCustomOpLibrary(path);
        }

        /// <summary>
        /// Creates a session whose options registered the kernels (<see cref="Register"/>). When the first such session of
        /// the process is created, ONNX Runtime adds the kernels' domain to a process-wide table of domains, testing and
        /// adding without a lock, so two first sessions created at once can fail ("Trying to add a domain to
        /// DomainToVersion map, but the domain is already exist"; seen with tests running in parallel). The creations are
        /// serialized until one has succeeded; later ones run concurrently.
        /// </summary>
        internal static InferenceSession CreateSession(byte[] model, SessionOptions options)
        {
            if (s_domainAdded)
            {
                return new InferenceSession(model, options);
            }

            lock (s_firstSession)
            {
                var session = new InferenceSession(model, options);
                s_domainAdded = true;
                return session;
            }
        }

        private static readonly object s_firstSession = new object();
        private static volatile bool s_domainAdded;

        /// <summary>True when <see cref="EnvironmentSwitch"/> turns the kernels off.</summary>
        public static bool DisabledByEnvironment
        {
            get
            {
                string? value = Environment.GetEnvironmentVariable(EnvironmentSwitch)?.Trim();
                return value is not null && (value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase) || value.Equals("off", StringComparison.OrdinalIgnoreCase));
            }
        }

        private static (string? Path, string Status) Probe()
        {
            if (DisabledByEnvironment)
            {
                return (null, $"turned off by {EnvironmentSwitch}={Environment.GetEnvironmentVariable(EnvironmentSwitch)}; standard ONNX ops are used");
            }
            if (!IsSupportedPlatform)
            {
                return (null, $"not built for {RuntimeInformation.OSDescription} {RuntimeInformation.ProcessArchitecture} (Linux x64 only); standard ONNX ops are used");
            }
            string? path = Locate();
            if (path == null)
            {
                return (null, $"{LibraryName} not found next to the assembly (the build compiles it only where g++ is installed); standard ONNX ops are used");
            }
            try
            {
                using var options = new SessionOptions();
                options.RegisterCustomOpLibrary(path);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                return (null, $"{path} did not load ({e.Message}); standard ONNX ops are used");
            }
            return (path, $"fused neuron kernels loaded from {path}");
        }

        private static string? Locate()
        {
            foreach (string? directory in new[] { Path.GetDirectoryName(typeof(NativeKernels).Assembly.Location), AppContext.BaseDirectory })
            {
                if (!string.IsNullOrEmpty(directory))
                {
                    string candidate = Path.Combine(directory, LibraryName);
                    if (File.Exists(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }
                }
            }
            return null;
        }
    }
}
