// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>
    /// One node of the network IR. Every value flowing between layers has a leading batch axis
    /// that the IR leaves implicit: shapes in the IR are per sample (for an image, [C, H, W]).
    /// </summary>
    public abstract class Layer
    {
        /// <summary>Initializes the common fields.</summary>
        /// <param name="name">The node name (the ONNX node's name, or a generated one).</param>
        /// <param name="sourceOpType">The ONNX op type the layer came from, for messages.</param>
        /// <param name="inputs">Names of the input values.</param>
        /// <param name="output">Name of the output value.</param>
        protected Layer(string name, string sourceOpType, IReadOnlyList<string> inputs, string output)
        {
            ArgumentNullException.ThrowIfNull(name, nameof(name));
            ArgumentNullException.ThrowIfNull(sourceOpType, nameof(sourceOpType));
            ArgumentNullException.ThrowIfNull(inputs, nameof(inputs));
            ArgumentNullException.ThrowIfNull(output, nameof(output));
            Name = name;
            SourceOpType = sourceOpType;
            Inputs = inputs;
            Output = output;
        }

        /// <summary>The node name (the ONNX node's name, or a generated one).</summary>
        public string Name { get; }

        /// <summary>The ONNX op type the layer came from (for messages and reports).</summary>
        public string SourceOpType { get; }

        /// <summary>Names of the input values, in order.</summary>
        public IReadOnlyList<string> Inputs { get; }

        /// <summary>Name of the output value.</summary>
        public string Output { get; }

        /// <summary>
        /// True for layers that are affine maps of their inputs (convolution, dense, pooling by
        /// average, reshapes, sums): in a spiking network they act on every time step unchanged.
        /// </summary>
        public virtual bool IsLinear => false;

        /// <summary>Computes the per-sample output shape from the per-sample input shapes.</summary>
        /// <param name="inputShapes">Per-sample shapes of <see cref="Inputs"/>, in order.</param>
        /// <returns>The per-sample output shape.</returns>
        /// <exception cref="InvalidOperationException">The input shapes do not fit the layer.</exception>
        public abstract int[] InferShape(IReadOnlyList<int[]> inputShapes);

        /// <summary>Returns a copy of this layer that reads other inputs and writes another output.</summary>
        /// <param name="inputs">The new input names.</param>
        /// <param name="output">The new output name.</param>
        public abstract Layer Rewire(IReadOnlyList<string> inputs, string output);

        /// <summary>Throws a shape error that names the layer.</summary>
        /// <param name="message">What does not fit.</param>
        protected InvalidOperationException ShapeError(string message) =>
            new InvalidOperationException($"Layer '{Name}' ({SourceOpType}): {message}");

        /// <summary>Checks the number of inputs.</summary>
        /// <param name="inputShapes">The shapes passed to <see cref="InferShape"/>.</param>
        /// <param name="count">The expected count.</param>
        protected void ExpectInputs(IReadOnlyList<int[]> inputShapes, int count)
        {
            if (inputShapes.Count != count)
            {
                throw ShapeError($"expected {count} input(s), got {inputShapes.Count}.");
            }
        }

        /// <inheritdoc/>
        public override string ToString() =>
            $"{GetType().Name} '{Name}' ({string.Join(", ", Inputs)}) -> {Output}";
    }
}
