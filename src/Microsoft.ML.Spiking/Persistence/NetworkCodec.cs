// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Text.Json.Nodes;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// The serialized form of a <see cref="Network"/>:
    /// <c>{"inputName", "inputShape", "outputName", "source", "layers": [...]}</c> with the layers in topological order
    /// (<see cref="LayerCodec"/>). Reading rebuilds the network through its constructor, which re-infers and checks
    /// every shape, so a package whose parameters do not fit together fails to load instead of failing later.
    /// </summary>
    internal static class NetworkCodec
    {
        public static JsonObject Write(Network network, TensorWriter tensors)
        {
            ArgumentNullException.ThrowIfNull(network, nameof(network));
            var layers = new JsonArray();
            foreach (Layer layer in network.Layers)
            {
                layers.Add(LayerCodec.Write(layer, tensors));
            }
            return new JsonObject
            {
                ["inputName"] = network.InputName,
                ["inputShape"] = JsonScope.IntsNode(network.InputShape),
                ["outputName"] = network.OutputName,
                ["source"] = network.Source,
                ["layers"] = layers,
            };
        }

        public static Network Read(JsonScope scope, TensorReader tensors)
        {
            string inputName = scope.String("inputName");
            int[] inputShape = scope.Ints("inputShape");
            string outputName = scope.String("outputName");
            string source = scope.OptionalString("source") ?? string.Empty;
            var layers = new List<Layer>();
            foreach (JsonScope layer in scope.Objects("layers"))
            {
                layers.Add(LayerCodec.Read(layer, tensors));
            }
            try
            {
                return new Network(inputName, inputShape, layers, outputName, source);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
            {
                throw scope.Error($"the network does not fit together: {e.Message}", e);
            }
        }
    }
}
