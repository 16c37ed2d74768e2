// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Globalization;

namespace Microsoft.ML.Spiking.Evaluation
{
    /// <summary>
    /// A cost table for the energy estimate of algorithms.md §2.12: the energy of one accumulate (AC, what a
    /// spike or any non-zero input costs at each synapse it reaches) and of one multiply-accumulate (MAC, what
    /// every synapse costs in the ANN). The spiking network is assumed to spend no MACs (the rescaling by θ in
    /// the neurons is ignored, as in the literature), so E_SNN / E_ANN = Σ ACs · E_AC / (ANN MACs · E_MAC).
    /// These are operation counts priced per operation: memory traffic, which dominates real hardware, is not
    /// modelled.
    /// </summary>
    public sealed class EnergyModel
    {
        private static readonly EnergyModel s_horowitz45nm = new EnergyModel("Horowitz 2014, 45 nm, 32-bit float", 0.9, 4.6);

        /// <summary>Creates a cost table.</summary>
        /// <param name="name">A name for reports, saying where the figures come from.</param>
        /// <param name="energyPerAc">Energy of one accumulate, in picojoules; positive and finite.</param>
        /// <param name="energyPerMac">Energy of one multiply-accumulate, in picojoules; positive and finite.</param>
        public EnergyModel(string name, double energyPerAc, double energyPerMac)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(name, nameof(name));
            if (!(energyPerAc > 0) || double.IsInfinity(energyPerAc))
            {
                throw new ArgumentOutOfRangeException(nameof(energyPerAc), energyPerAc, "The energy per accumulate must be positive and finite.");
            }
            if (!(energyPerMac > 0) || double.IsInfinity(energyPerMac))
            {
                throw new ArgumentOutOfRangeException(nameof(energyPerMac), energyPerMac, "The energy per multiply-accumulate must be positive and finite.");
            }
            Name = name;
            EnergyPerAc = energyPerAc;
            EnergyPerMac = energyPerMac;
        }

        /// <summary>
        /// 32-bit floating-point operations in a 45 nm process (M. Horowitz, "Computing's energy problem (and what
        /// we can do about it)", ISSCC 2014): 0.9 pJ per add (AC) and 3.7 + 0.9 = 4.6 pJ per multiply-add (MAC).
        /// The table used by the ANN-to-SNN conversion literature (E_AC/E_MAC ≈ 0.196).
        /// </summary>
        public static EnergyModel Horowitz45nm => s_horowitz45nm;

        /// <summary>Where the figures come from.</summary>
        public string Name { get; }

        /// <summary>Energy of one accumulate, in picojoules.</summary>
        public double EnergyPerAc { get; }

        /// <summary>Energy of one multiply-accumulate, in picojoules.</summary>
        public double EnergyPerMac { get; }

        /// <summary>E_AC / E_MAC.</summary>
        public double AcToMacRatio => EnergyPerAc / EnergyPerMac;

        /// <inheritdoc/>
        public override string ToString() =>
            string.Format(CultureInfo.InvariantCulture, "{0}: {1:G4} pJ/AC, {2:G4} pJ/MAC", Name, EnergyPerAc, EnergyPerMac);
    }
}
