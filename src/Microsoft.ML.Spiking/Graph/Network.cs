// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>
    /// A typed, single-input single-output network: layers in topological order over named values,
    /// with per-sample shapes (the batch axis is implicit and free). Immutable: passes return new networks.
    /// </summary>
    public sealed class Network
    {
        private readonly Dictionary<string, int[]> _shapes;
        private readonly Dictionary<string, Layer> _producers;

        /// <summary>Creates a network and infers every value's shape.</summary>
        /// <param name="inputName">Name of the input value.</param>
        /// <param name="inputShape">Per-sample input shape, e.g. [3, 32, 32].</param>
        /// <param name="layers">Layers in topological order.</param>
        /// <param name="outputName">Name of the output value.</param>
        /// <param name="source">Where the network came from (file name), for messages.</param>
        /// <exception cref="InvalidOperationException">A layer reads an undefined value, a value is defined twice, or shapes do not fit.</exception>
        public Network(string inputName, int[] inputShape, IReadOnlyList<Layer> layers, string outputName, string source)
        {
            ArgumentNullException.ThrowIfNull(inputName, nameof(inputName));
            ArgumentNullException.ThrowIfNull(inputShape, nameof(inputShape));
            ArgumentNullException.ThrowIfNull(layers, nameof(layers));
            ArgumentNullException.ThrowIfNull(outputName, nameof(outputName));
            InputName = inputName;
            InputShape = inputShape;
            Layers = layers;
            OutputName = outputName;
            Source = source ?? string.Empty;
            _shapes = new Dictionary<string, int[]>(StringComparer.Ordinal) { [inputName] = inputShape };
            _producers = new Dictionary<string, Layer>(StringComparer.Ordinal);
            foreach (Layer layer in layers)
            {
                var inputShapes = new List<int[]>(layer.Inputs.Count);
                foreach (string input in layer.Inputs)
                {
                    if (!_shapes.TryGetValue(input, out int[]? s))
                    {
                        throw new InvalidOperationException($"{Source}: layer '{layer.Name}' ({layer.SourceOpType}) reads '{input}', which no earlier layer produces.");
                    }
                    inputShapes.Add(s);
                }
                if (_shapes.ContainsKey(layer.Output))
                {
                    throw new InvalidOperationException($"{Source}: value '{layer.Output}' is produced twice (layer '{layer.Name}').");
                }
                _shapes[layer.Output] = layer.InferShape(inputShapes);
                _producers[layer.Output] = layer;
            }
            if (!_shapes.ContainsKey(outputName))
            {
                throw new InvalidOperationException($"{Source}: the output '{outputName}' is not produced by any layer.");
            }
        }

        /// <summary>Name of the input value.</summary>
        public string InputName { get; }

        /// <summary>Per-sample input shape.</summary>
        public int[] InputShape { get; }

        /// <summary>Layers in topological order.</summary>
        public IReadOnlyList<Layer> Layers { get; }

        /// <summary>Name of the output value.</summary>
        public string OutputName { get; }

        /// <summary>Per-sample output shape.</summary>
        public int[] OutputShape => _shapes[OutputName];

        /// <summary>Where the network came from, for messages.</summary>
        public string Source { get; }

        /// <summary>Per-sample shape of a value.</summary>
        /// <param name="valueName">The value's name.</param>
        public int[] GetShape(string valueName) =>
            _shapes.TryGetValue(valueName, out int[]? s) ? s : throw new ArgumentException($"No value named '{valueName}'.", nameof(valueName));

        /// <summary>The layer that produces a value, or null for the network input.</summary>
        /// <param name="valueName">The value's name.</param>
        public Layer? GetProducer(string valueName) => _producers.TryGetValue(valueName, out Layer? l) ? l : null;

        /// <summary>The layers that read a value.</summary>
        /// <param name="valueName">The value's name.</param>
        public IReadOnlyList<Layer> GetConsumers(string valueName) =>
            Layers.Where(l => l.Inputs.Contains(valueName)).ToList();

        /// <summary>Returns a network with the same input and output and other layers.</summary>
        /// <param name="layers">The new layers, topologically ordered.</param>
        public Network WithLayers(IReadOnlyList<Layer> layers) => new Network(InputName, InputShape, layers, OutputName, Source);

        /// <summary>Returns a copy with layers removed and dead layers (not reaching the output) dropped.</summary>
        internal Network Prune()
        {
            var live = new HashSet<string>(StringComparer.Ordinal) { OutputName };
            var kept = new List<Layer>();
            for (int i = Layers.Count - 1; i >= 0; i--)
            {
                Layer l = Layers[i];
                if (live.Contains(l.Output))
                {
                    kept.Add(l);
                    foreach (string input in l.Inputs)
                    {
                        live.Add(input);
                    }
                }
            }
            kept.Reverse();
            return WithLayers(kept);
        }

        /// <summary>A one-line-per-layer summary with shapes.</summary>
        public string Describe()
        {
            var lines = new List<string> { $"input '{InputName}' [N,{string.Join(",", InputShape)}]" };
            foreach (Layer l in Layers)
            {
                lines.Add($"{l.GetType().Name,-22} {l.Name,-28} -> [N,{string.Join(",", _shapes[l.Output])}]");
            }
            lines.Add($"output '{OutputName}' [N,{string.Join(",", OutputShape)}]");
            return string.Join(Environment.NewLine, lines);
        }
    }
}
