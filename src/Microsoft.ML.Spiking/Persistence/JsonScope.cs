// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Spiking.Persistence
{
    /// <summary>
    /// Reads one JSON object of a package entry. Every failure (a missing member, a wrong type, a value out of
    /// range) becomes a <see cref="FormatException"/> that names the entry and the member's path.
    /// </summary>
    internal sealed class JsonScope
    {
        private readonly JsonObject _object;

        public JsonScope(string entry, string path, JsonObject value)
        {
            Entry = entry;
            Path = path;
            _object = value;
        }

        /// <summary>The zip entry the object came from.</summary>
        public string Entry { get; }

        /// <summary>The object's path inside the entry ("$", "$.layers[3].parameters").</summary>
        public string Path { get; }

        /// <summary>Parses an entry's text as a JSON object.</summary>
        public static JsonScope Parse(string entry, string text)
        {
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                throw new FormatException($"Spiking package entry '{entry}' is not valid JSON: {e.Message}", e);
            }
            return node as JsonObject is { } obj ? new JsonScope(entry, "$", obj) : throw new FormatException($"Spiking package entry '{entry}' does not hold a JSON object.");
        }

        public FormatException Error(string message, Exception? inner = null) =>
            new FormatException($"Spiking package entry '{Entry}', {Path}: {message}", inner);

        public bool Has(string name) => _object.ContainsKey(name) && _object[name] != null;

        public JsonScope Object(string name) =>
            Required(name) is JsonObject obj ? new JsonScope(Entry, $"{Path}.{name}", obj) : throw Error($"'{name}' must be an object.");

        public IReadOnlyList<JsonScope> Objects(string name) =>
            Array(name).Select((n, i) => n is JsonObject obj ? new JsonScope(Entry, $"{Path}.{name}[{i}]", obj) : throw Error($"'{name}[{i}]' must be an object.")).ToList();

        public string String(string name) => Value<string>(Required(name), name, "a string");

        public string? OptionalString(string name) => Has(name) ? String(name) : null;

        public string[] Strings(string name) => Array(name).Select((n, i) => Value<string>(n, $"{name}[{i}]", "a string")).ToArray();

        public string[]? OptionalStrings(string name) => Has(name) ? Strings(name) : null;

        public bool Bool(string name) => Value<bool>(Required(name), name, "true or false");

        public int Int(string name) => Value<int>(Required(name), name, "a 32-bit integer");

        public long? OptionalLong(string name) => Has(name) ? Value<long>(Required(name), name, "a 64-bit integer") : null;

        public int[] Ints(string name) => Array(name).Select((n, i) => Value<int>(n, $"{name}[{i}]", "a 32-bit integer")).ToArray();

        public float Float(string name) => ReadFloat(Required(name), name);

        public float[]? OptionalFloats(string name) => Has(name) ? Array(name).Select((n, i) => ReadFloat(n, $"{name}[{i}]")).ToArray() : null;

        public double Double(string name)
        {
            JsonNode node = Required(name);
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                return ParseNonFinite(v.GetValue<string>(), name);
            }
            return Value<double>(node, name, "a number");
        }

        public T Enum<T>(string name)
            where T : struct, System.Enum
        {
            string text = String(name);
            if (!System.Enum.IsDefined(typeof(T), text))
            {
                throw Error($"'{name}' is \"{text}\", which is not one of {string.Join(", ", System.Enum.GetNames<T>())}.");
            }
            return System.Enum.Parse<T>(text);
        }

        /// <summary>A float as JSON: a number when finite (written shortest round-trip, so it reads back bit-exactly), else a string.</summary>
        public static JsonNode FloatNode(float value)
        {
            if (float.IsFinite(value))
            {
                return JsonValue.Create(value);
            }
            if (float.IsNaN(value))
            {
                int bits = BitConverter.SingleToInt32Bits(value);
                return JsonValue.Create(bits == BitConverter.SingleToInt32Bits(float.NaN) ? "NaN" : "NaN:0x" + bits.ToString("X8", CultureInfo.InvariantCulture));
            }
            return JsonValue.Create(value > 0 ? "Infinity" : "-Infinity");
        }

        /// <summary>A double as JSON: a number when finite, else a string.</summary>
        public static JsonNode DoubleNode(double value) =>
            double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");

        public static JsonArray FloatsNode(IEnumerable<float> values) => new JsonArray(values.Select(FloatNode).ToArray());

        public static JsonArray IntsNode(IEnumerable<int> values) => new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

        public static JsonArray StringsNode(IEnumerable<string> values) => new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

        private JsonNode Required(string name) =>
            _object.TryGetPropertyValue(name, out JsonNode? node) && node != null ? node : throw Error($"'{name}' is missing.");

        private JsonArray Array(string name) => Required(name) as JsonArray ?? throw Error($"'{name}' must be an array.");

        private T Value<T>(JsonNode? node, string name, string what)
        {
            if (node is JsonValue value && value.TryGetValue(out T? result) && result != null)
            {
                return result;
            }
            throw Error($"'{name}' must be {what}; found {node?.ToJsonString() ?? "null"}.");
        }

        private float ReadFloat(JsonNode? node, string name)
        {
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                string text = v.GetValue<string>();
                if (text == "NaN")
                {
                    return float.NaN;
                }
                if (text.StartsWith("NaN:0x", StringComparison.Ordinal)
                    && int.TryParse(text.AsSpan(6), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int bits)
                    && float.IsNaN(BitConverter.Int32BitsToSingle(bits)))
                {
                    return BitConverter.Int32BitsToSingle(bits);
                }
                return (float)ParseNonFinite(text, name);
            }
            return Value<float>(node, name, "a number");
        }

        private double ParseNonFinite(string text, string name) => text switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => throw Error($"'{name}' is the string \"{text}\"; expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"."),
        };
    }
}
