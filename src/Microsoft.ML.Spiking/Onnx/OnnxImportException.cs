// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Onnx
{
    /// <summary>
    /// Thrown when an ONNX model cannot be imported: bytes that are not an ONNX model, an opset out of
    /// range, several inputs, a dynamic spatial shape, a node whose attributes or inputs the importer
    /// cannot represent exactly. The message names the file and, where one is at fault, the node.
    /// </summary>
    public class OnnxImportException : FormatException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What is wrong, naming the file and node.</param>
        public OnnxImportException(string message)
            : base(message)
        {
        }

        /// <summary>Creates the exception with the error that caused it.</summary>
        /// <param name="message">What is wrong, naming the file and node.</param>
        /// <param name="inner">The underlying error.</param>
        public OnnxImportException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }

    /// <summary>One ONNX node the importer cannot convert.</summary>
    /// <param name="NodeName">The node's name (or its first output when it has no name).</param>
    /// <param name="OpType">The op type, with its domain when that is not the default one.</param>
    /// <param name="Reason">Why it cannot be converted.</param>
    public sealed record UnsupportedNode(string NodeName, string OpType, string Reason);

    /// <summary>
    /// Thrown when a model contains nodes the importer does not support. Every such node is listed,
    /// with the list of supported op types, so one run shows everything to change.
    /// </summary>
    public sealed class UnsupportedOnnxOperatorException : OnnxImportException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="source">The model file or name.</param>
        /// <param name="nodes">The unsupported nodes.</param>
        /// <param name="supportedOps">The op types the importer supports.</param>
        public UnsupportedOnnxOperatorException(string source, IReadOnlyList<UnsupportedNode> nodes, IReadOnlyList<string> supportedOps)
            : base(BuildMessage(source, nodes, supportedOps))
        {
            Nodes = nodes;
            SupportedOps = supportedOps;
        }

        /// <summary>The unsupported nodes, in graph order.</summary>
        public IReadOnlyList<UnsupportedNode> Nodes { get; }

        /// <summary>The op types the importer supports.</summary>
        public IReadOnlyList<string> SupportedOps { get; }

        private static string BuildMessage(string source, IReadOnlyList<UnsupportedNode> nodes, IReadOnlyList<string> supportedOps)
        {
            string list = string.Join(Environment.NewLine, nodes.Select(n => $"  node '{n.NodeName}' (op {n.OpType}): {n.Reason}"));
            return $"{source}: {nodes.Count} node(s) cannot be converted:{Environment.NewLine}{list}{Environment.NewLine}" +
                $"Supported ops: {string.Join(", ", supportedOps)}.";
        }
    }
}
