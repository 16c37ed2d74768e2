// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.ML.Spiking.Onnx;

namespace Microsoft.ML.Spiking.Samples.Cli
{
    /// <summary>Turns the exceptions a user can cause (bad files, mismatched model and images) into one line.</summary>
    internal static class ErrorMessages
    {
        /// <summary>Messages of the InvalidOperationExceptions ML.NET wraps its worker threads' errors in.</summary>
        private static readonly string[] MLNetWrappers = { "encountered exception", "subject to an exception" };

        /// <summary>
        /// True for the exceptions a user's input can cause, which the sample reports in one line: missing or unreadable
        /// files, ONNX import errors, unsupported ops, schema mismatches and the library's invalid-state errors.
        /// </summary>
        /// <param name="exception">The exception.</param>
        public static bool IsUserError(Exception exception)
        {
            Exception e = Innermost(exception);
            return e is SampleInputException or IOException or UnauthorizedAccessException or FormatException
                or ArgumentException or InvalidOperationException or NotSupportedException;
        }

        /// <summary>True when a conversion method cannot convert some layers of the model (a <see cref="NotSupportedException"/> listing them).</summary>
        /// <param name="exception">The exception.</param>
        public static bool IsUnconvertible(Exception exception) => Innermost(exception) is NotSupportedException;

        /// <summary>The exception's message as one line, naming the unsupported nodes of an ONNX model or the first layers a method cannot convert.</summary>
        /// <param name="exception">The exception.</param>
        public static string OneLine(Exception exception)
        {
            Exception e = Innermost(exception);
            string message = e switch
            {
                UnsupportedOnnxOperatorException u => FirstLine(u.Message) + " " +
                    string.Join("; ", u.Nodes.Select(n => $"'{n.NodeName}' ({n.OpType}): {n.Reason}")) + " (see the supported ops in the README)",
                ArgumentException { ParamName: "imageStream" } a => "an image file could not be decoded (LoadImages: " +
                    FirstLine(a.Message.Replace(" (Parameter 'imageStream')", string.Empty, StringComparison.Ordinal)) + "); every file in the class folders must be an image",
                ArgumentException a when a.ParamName != null => FirstLine(a.Message.Replace($" (Parameter '{a.ParamName}')", string.Empty, StringComparison.Ordinal)),
                NotSupportedException n when Lines(n.Message).Length > 1 => ListedProblems(Lines(n.Message)),
                _ => FirstLine(e.Message),
            };
            return message.TrimEnd(':', ' ');
        }

        /// <summary>ML.NET wraps errors of its worker threads (and reflection its targets' errors): the innermost one says what happened.</summary>
        private static Exception Innermost(Exception exception)
        {
            Exception e = exception;
            while (e.InnerException != null && (e is AggregateException or TargetInvocationException
                || (e.GetType() == typeof(InvalidOperationException) && MLNetWrappers.Any(w => e.Message.Contains(w, StringComparison.Ordinal)))))
            {
                e = e.InnerException;
            }
            return e;
        }

        /// <summary>A message's first line and its first listed items (a converter lists every layer it cannot convert, one per line).</summary>
        private static string ListedProblems(string[] lines)
        {
            const int shown = 2;
            string[] items = lines.Skip(1).ToArray();
            string more = items.Length > shown ? $"; and {items.Length - shown} more" : string.Empty;
            return lines[0].TrimEnd(':', ' ') + ": " + string.Join("; ", items.Take(shown)) + more;
        }

        private static string[] Lines(string text) =>
            text.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

        private static string FirstLine(string text)
        {
            int newline = text.IndexOfAny(new[] { '\r', '\n' });
            return (newline >= 0 ? text[..newline] : text).Trim();
        }
    }
}
