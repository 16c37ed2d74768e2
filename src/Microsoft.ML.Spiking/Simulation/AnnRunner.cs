// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>
    /// Runs an IR network as an ordinary ANN with ONNX Runtime, on batches of any size (the lowered graph's
    /// batch axis is free even when the source model fixed it to 1). Not safe to call from several threads at once.
    /// </summary>
    public sealed class AnnRunner : IDisposable
    {
        private readonly Network _network;
        private readonly OnnxSession _session;
        private readonly int _inputSize;

        /// <summary>Lowers the network and opens an ONNX Runtime session.</summary>
        /// <param name="network">A network without spiking neurons.</param>
        /// <param name="execution">Where ONNX Runtime runs, or null for the CPU.</param>
        public AnnRunner(Network network, ExecutionOptions? execution = null)
            : this(network, execution, spinning: true)
        {
        }

        /// <summary>Lowers the network and opens a session whose threads spin for work after a call or not.</summary>
        /// <param name="network">A network without spiking neurons.</param>
        /// <param name="execution">Where ONNX Runtime runs, or null for the CPU.</param>
        /// <param name="spinning">False when the runner takes turns with another session (see <see cref="OnnxSession"/>).</param>
        internal AnnRunner(Network network, ExecutionOptions? execution, bool spinning)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            _network = network;
            _inputSize = ShapeUtil.Size(network.InputShape);
            _session = new OnnxSession(AnnExporter.Export(network), execution, spinning: spinning);
        }

        /// <summary>Values per sample in the output.</summary>
        public int OutputSize => ShapeUtil.Size(_network.OutputShape);

        /// <summary>Runs a batch.</summary>
        /// <param name="inputs">Samples back to back, each of the network's input size.</param>
        /// <param name="batchSize">Number of samples.</param>
        /// <returns>Outputs back to back, <see cref="OutputSize"/> values per sample.</returns>
        public float[] Run(float[] inputs, int batchSize)
        {
            ArgumentNullException.ThrowIfNull(inputs, nameof(inputs));
            if (batchSize < 1 || inputs.Length != (long)batchSize * _inputSize)
            {
                throw new ArgumentException($"Expected {batchSize} samples of {_inputSize} values ([{string.Join(",", _network.InputShape)}]); got {inputs.Length} values.", nameof(inputs));
            }
            return _session.Run(new Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(inputs, new long[] { batchSize }.Concat(_network.InputShape.Select(d => (long)d)).ToArray()),
            }, new[] { AnnExporter.OutputName })[AnnExporter.OutputName].Data;
        }

        /// <summary>Releases the session. Safe to call more than once.</summary>
        public void Dispose() => _session.Dispose();
    }
}
