// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace Microsoft.ML.Spiking.Samples.Reporting
{
    /// <summary>
    /// A one-line console progress bar fed through <see cref="IProgress{T}"/> (rows done). It redraws in place with a
    /// carriage return, at most ten times a second, and writes nothing when the console is not interactive (output
    /// redirected to a file or a test), so logs stay clean. <see cref="Dispose"/> draws the final state and ends the line.
    /// </summary>
    internal sealed class ProgressBar : IProgress<long>, IDisposable
    {
        private const int Width = 30;
        private readonly TextWriter? _writer;
        private readonly string _label;
        private readonly long _total;
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private readonly object _gate = new();
        private long _done;
        private long _lastDrawMs = -1000;
        private bool _finished;

        /// <summary>Creates a bar.</summary>
        /// <param name="writer">Where to draw (the console's error stream), or null to draw nothing.</param>
        /// <param name="label">What is being done.</param>
        /// <param name="total">Rows in all.</param>
        public ProgressBar(TextWriter? writer, string label, long total)
        {
            _writer = writer;
            _label = label;
            _total = Math.Max(1, total);
            Draw(force: true);
        }

        /// <summary>Rows done so far.</summary>
        /// <param name="value">The count.</param>
        public void Report(long value)
        {
            lock (_gate)
            {
                _done = Math.Max(_done, value);
                Draw(force: false);
            }
        }

        /// <summary>Draws the final state and ends the line.</summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_finished)
                {
                    return;
                }
                _finished = true;
                Draw(force: true);
                _writer?.WriteLine();
            }
        }

        private void Draw(bool force)
        {
            long now = _watch.ElapsedMilliseconds;
            if (_writer == null || (!force && now - _lastDrawMs < 100))
            {
                return;
            }
            _lastDrawMs = now;
            double fraction = Math.Min(1.0, (double)_done / _total);
            int filled = (int)Math.Round(fraction * Width);
            _writer.Write(string.Format(CultureInfo.InvariantCulture, "\r{0,-28} [{1}{2}] {3,6}/{4} {5,6:F1} s",
                _label, new string('#', filled), new string('.', Width - filled), _done, _total, now / 1000.0));
            _writer.Flush();
        }
    }
}
