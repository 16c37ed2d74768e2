// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Microsoft.ML.Spiking.Graph
{
    /// <summary>
    /// Bit-serial integrate-and-fire neuron of error-free conversion (algorithms.md §4.4). It replaces a QCFS
    /// activation with λ and L = 2^T − 1 levels. Accumulation phase: the membrane collects the layer's whole input
    /// current V (no firing). Generation phase, t = 1..T: threshold θ_t = λ·2^(T−t)/L (halving every step), spike
    /// s[t] = H(V − θ_t), reset by subtraction. With the bias shift λ/(2L) (§4.3, here the membrane's initial value)
    /// the T bits, MSB first, are exactly the binary digits of the QCFS level k = clip(floor(V·L/λ + ½), 0, L).
    /// </summary>
    public sealed class BitSerialNeuronLayer : SpikingNeuronLayer
    {
        /// <summary>Most bits per neuron (L = 2^24 − 1 is the largest level count float32 holds exactly).</summary>
        public const int MaxBits = 24;

        /// <summary>Creates a bit-serial neuron layer.</summary>
        /// <param name="name">Node name.</param>
        /// <param name="sourceOpType">Op type of the activation it replaces.</param>
        /// <param name="input">Input value name.</param>
        /// <param name="output">Output value name.</param>
        /// <param name="lambda">λ, the QCFS clipping value: one value or one per channel; each finite and &gt; 0.</param>
        /// <param name="bits">T, the bits (steps) per activation; L = 2^T − 1.</param>
        /// <param name="shift">Apply the bias shift λ/(2L) (default true); without it the bits are floor(V·L/λ), not QCFS's rounding.</param>
        public BitSerialNeuronLayer(string name, string sourceOpType, string input, string output, float[] lambda, int bits, bool shift = true)
            : base(name, sourceOpType, input, output, lambda)
        {
            if (bits < 1 || bits > MaxBits)
            {
                throw new ArgumentOutOfRangeException(nameof(bits), bits, $"A bit-serial neuron sends 1 to {MaxBits} bits.");
            }
            if (lambda.Any(l => !(l > 0) || float.IsInfinity(l)))
            {
                throw new ArgumentOutOfRangeException(nameof(lambda), "Every λ must be finite and > 0.");
            }
            Bits = bits;
            Shift = shift;
        }

        /// <summary>T, the bits (steps) per activation.</summary>
        public int Bits { get; }

        /// <summary>L = 2^T − 1, the QCFS levels.</summary>
        public int Levels => (1 << Bits) - 1;

        /// <summary>True when the bias shift λ/(2L) is applied.</summary>
        public bool Shift { get; }

        /// <summary>λ, the QCFS clipping value (the same array as <see cref="SpikingNeuronLayer.Threshold"/>).</summary>
        public float[] Lambda => Threshold;

        /// <inheritdoc/>
        public override Layer Rewire(IReadOnlyList<string> inputs, string output) =>
            new BitSerialNeuronLayer(Name, SourceOpType, inputs[0], output, Threshold, Bits, Shift);

        /// <inheritdoc/>
        public override int[] InferShape(IReadOnlyList<int[]> inputShapes)
        {
            int[] shape = base.InferShape(inputShapes);
            if (Threshold.Length != 1 && (shape.Length < 1 || shape[0] != Threshold.Length))
            {
                throw ShapeError($"λ has {Threshold.Length} channels but the input is {ShapeUtil.Format(shape)}.");
            }
            return shape;
        }
    }
}
