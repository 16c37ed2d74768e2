// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;

namespace Microsoft.ML.Spiking.Conversion.Differential
{
    /// <summary>
    /// The step-0 bias probe of differential coding (algorithms.md §2.3): step 0 feeds a zero image and every stateful
    /// unit emits 0, so each value then holds the pure constant term of the affine chain that produces it. The probe
    /// does not depend on the sample, so it runs once at conversion and the constants are stored in the units; every
    /// unit then works on d[t] = x[t] − x[0] and starts its input rate at x[0], exactly like the reference code.
    /// </summary>
    internal static class StepZeroProbe
    {
        /// <summary>Fills in the step-0 bias of every stateful unit and returns the network with the output's step-0 value.</summary>
        public static (Network Network, float[] OutputBias) Apply(Network snn, ExecutionOptions? execution)
        {
            var probeLayers = new List<Layer>();
            int counter = 0;
            string Temporary(string hint) => $"{hint}__probe{counter++}";
            FloatTensor zero = FloatTensor.Scalar(0f);
            foreach (Layer layer in snn.Layers)
            {
                switch (layer)
                {
                    case SpikingNeuronLayer neuron:
                        probeLayers.Add(new ConstBinaryLayer(neuron.Name, "StepZero", neuron.Inputs[0], neuron.Output, BinaryOp.Mul, zero, false));
                        break;
                    case MaxPoolNeuronLayer pool:
                    {
                        string pooled = Temporary(pool.Output);
                        probeLayers.Add(pool.Pool.Rewire(pool.Inputs, pooled));
                        probeLayers.Add(new ConstBinaryLayer(Temporary(pool.Name), "StepZero", pooled, pool.Output, BinaryOp.Mul, zero, false));
                        break;
                    }
                    case GradedUnitLayer unit:
                    {
                        string value = Temporary(unit.Output);
                        probeLayers.Add(unit.Function.Rewire(unit.Inputs, value));
                        probeLayers.Add(new ConstBinaryLayer(Temporary(unit.Name), "StepZero", value, unit.Output, BinaryOp.Mul, zero, false));
                        break;
                    }
                    default:
                        probeLayers.Add(layer);
                        break;
                }
            }
            var probe = new Network(snn.InputName, snn.InputShape, probeLayers, snn.OutputName, snn.Source);
            var wanted = snn.Layers.Where(l => l is SpikingNeuronLayer or MaxPoolNeuronLayer or GradedUnitLayer)
                .SelectMany(l => l.Inputs).Append(snn.OutputName).Distinct(StringComparer.Ordinal).ToList();
            using var session = new OnnxSession(AnnExporter.Export(probe, wanted), execution);
            var outputNames = Enumerable.Range(0, wanted.Count).Select(AnnExporter.ExtraOutputName).ToList();
            var zeros = new float[ShapeUtil.Size(snn.InputShape)];
            Dictionary<string, TensorBuffer> results = session.Run(new Dictionary<string, TensorBuffer>
            {
                [AnnExporter.InputName] = new TensorBuffer(zeros, new long[] { 1 }.Concat(snn.InputShape.Select(d => (long)d)).ToArray()),
            }, outputNames);
            var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int i = 0; i < wanted.Count; i++)
            {
                float[] data = results[outputNames[i]].Data;
                if (data.Any(v => !float.IsFinite(v)))
                {
                    throw new InvalidOperationException($"{snn.Source}: the step-0 value of '{wanted[i]}' is not finite; the network's constant terms overflow.");
                }
                values[wanted[i]] = data;
            }
            var layers = snn.Layers.Select(layer => layer switch
            {
                MultiThresholdNeuronLayer { Differential: true } mt => mt.With(mt.Threshold, values[mt.Inputs[0]]),
                MaxPoolNeuronLayer pool => pool.WithBias(values[pool.Inputs[0]]),
                GradedUnitLayer unit => unit.WithBiases(unit.Inputs.Select(i => (float[]?)values[i]).ToList()),
                _ => layer,
            }).ToList();
            return (snn.WithLayers(layers), values[snn.OutputName]);
        }
    }
}
