// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx;
using Microsoft.ML.Spiking.Simulation;
using static Microsoft.ML.Spiking.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.Spiking.Conversion.ParallelConversion
{
    /// <summary>
    /// The two-branch distribution-aware calibration of algorithms.md §3.5 step 2, as one ONNX graph run once per batch.
    /// Branch A is the SNN surrogate, branch B the reference ANN; both use the same linear layers. At every parallel neuron
    /// after a convolution, per channel c (means over the batch and spatial axes):
    /// ψ ← α·ψ + (1−α)·mean(z_B − z_A); a_A = (θ + φ_old)·clip(floor((z_A + ψ)·T/θ + ½)/T, 0, 1);
    /// a_B = clip(z_B, 0, θ) (ReLU) or the QCFS activation (QCFS); φ ← α·φ + (1−α)·mean(a_B − a_A). Neurons after dense
    /// layers are not calibrated (a_A is the plain QCFS surrogate with L = T). ψ and φ enter the graph and leave it updated.
    /// </summary>
    internal static class DistributionAwareCalibration
    {
        public static SpikingNetwork Run(SpikingNetwork snn, Network ann, IEnumerable<float[]> samples, ParallelOptions options)
        {
            Network network = snn.Network;
            var neurons = network.Layers.OfType<ParallelNeuronLayer>().ToList();
            var calibrated = neurons.Where(n => network.GetShape(n.Inputs[0]).Length == 3).ToList();
            var channels = calibrated.ToDictionary(n => n.Name, n => network.GetShape(n.Inputs[0])[0]);
            byte[] model = BuildGraph(network, ann, calibrated, channels, options);

            var psi = calibrated.ToDictionary(n => n.Name, n => new float[channels[n.Name]]);
            var phi = calibrated.ToDictionary(n => n.Name, n => new float[channels[n.Name]]);
            int sampleSize = ShapeUtil.Size(network.InputShape);
            long[] sampleShape = network.InputShape.Select(d => (long)d).ToArray();
            var buffer = new float[options.BatchSize * sampleSize];
            int filled = 0, batches = 0;
            long seen = 0;
            using var session = new OnnxSession(model, options.Execution);
            var outputs = calibrated.SelectMany(n => new[] { PsiOut(n), PhiOut(n) }).ToList();

            void Flush()
            {
                if (filled == 0 || calibrated.Count == 0)
                {
                    filled = 0;
                    return;
                }
                float[] data = filled == options.BatchSize ? buffer : buffer.AsSpan(0, filled * sampleSize).ToArray();
                var feeds = new Dictionary<string, TensorBuffer>
                {
                    [AnnExporter.InputName] = new TensorBuffer(data, new long[] { filled }.Concat(sampleShape).ToArray()),
                };
                foreach (ParallelNeuronLayer n in calibrated)
                {
                    feeds[PsiIn(n)] = new TensorBuffer(psi[n.Name], new long[] { channels[n.Name], 1, 1 });
                    feeds[PhiIn(n)] = new TensorBuffer(phi[n.Name], new long[] { channels[n.Name], 1, 1 });
                }
                Dictionary<string, TensorBuffer> results = session.Run(feeds, outputs);
                foreach (ParallelNeuronLayer n in calibrated)
                {
                    psi[n.Name] = results[PsiOut(n)].Data;
                    phi[n.Name] = results[PhiOut(n)].Data;
                }
                batches++;
                filled = 0;
            }

            foreach (float[] sample in samples)
            {
                if (sample == null || sample.Length != sampleSize)
                {
                    throw new ArgumentException($"Calibration sample {seen} has {sample?.Length ?? 0} values; the network input [{string.Join(",", network.InputShape)}] needs {sampleSize}.", nameof(samples));
                }
                Array.Copy(sample, 0, buffer, filled * sampleSize, sampleSize);
                seen++;
                if (++filled == options.BatchSize)
                {
                    Flush();
                }
            }
            Flush();
            if (seen == 0)
            {
                throw new ArgumentException("The calibration data is empty; at least one sample is needed.", nameof(samples));
            }

            var layers = network.Layers.Select(l =>
            {
                if (l is not ParallelNeuronLayer n || !psi.ContainsKey(n.Name))
                {
                    return l;
                }
                float[] theta = Expand(n.Threshold, channels[n.Name]);
                var expanded = new ParallelNeuronLayer(n.Name, n.SourceOpType, n.Inputs[0], n.Output, theta, null, null, n.Order);
                return expanded.WithCalibration(theta.Select((t, c) => t + phi[n.Name][c]).ToArray(), psi[n.Name]);
            }).ToList();
            var notes = snn.Notes.Append($"Distribution-aware calibration (T = {options.TimeSteps}, α = {options.Alpha}): {calibrated.Count} neuron layer(s) after convolutions, {seen} samples in {batches} batch(es); per channel pre-threshold θ, amplitude θ + φ_DA, shift θ/2 + T·ψ_DA.").ToList();
            return new SpikingNetwork(network.WithLayers(layers), ConversionMethod.Parallel, notes);
        }

        private static string PsiIn(Layer n) => $"psi_in_{n.Name}";

        private static string PhiIn(Layer n) => $"phi_in_{n.Name}";

        private static string PsiOut(Layer n) => $"psi_out_{n.Name}";

        private static string PhiOut(Layer n) => $"phi_out_{n.Name}";

        private static float[] Expand(float[] values, int channels) => values.Length == channels ? (float[])values.Clone() : Enumerable.Repeat(values[0], channels).ToArray();

        private static byte[] BuildGraph(Network network, Network ann, List<ParallelNeuronLayer> calibrated, Dictionary<string, int> channels, ParallelOptions options)
        {
            var b = new OnnxGraphBuilder("distribution_aware_calibration");
            b.AddInput(AnnExporter.InputName, Batched("N", network.InputShape));
            var a = new Dictionary<string, string>(StringComparer.Ordinal) { [network.InputName] = AnnExporter.InputName };
            var r = new Dictionary<string, string>(StringComparer.Ordinal) { [network.InputName] = AnnExporter.InputName };
            var names = calibrated.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
            float steps = options.TimeSteps;
            string alpha = b.Scalar((float)options.Alpha);
            string oneMinusAlpha = b.Scalar((float)(1 - options.Alpha));
            string axes = b.Ints(0, 2, 3);
            foreach (Layer layer in network.Layers)
            {
                if (layer is not ParallelNeuronLayer n)
                {
                    a[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => a[i]).ToList());
                    r[layer.Output] = LayerEmitter.Emit(b, network, layer, layer.Inputs.Select(i => r[i]).ToList());
                    continue;
                }
                int[] shape = network.GetShape(n.Inputs[0]);
                string zA = a[n.Inputs[0]], zB = r[n.Inputs[0]];
                bool calibrate = names.Contains(n.Name);
                float[] thetaValues = calibrate ? Expand(n.Threshold, channels[n.Name]) : n.Threshold;
                string theta = thetaValues.Length == 1 ? b.Scalar(thetaValues[0]) : b.Initializer("theta", LayerEmitter.ChannelShape(thetaValues.Length, shape.Length), thetaValues);
                Layer reference = ann.Layers.FirstOrDefault(l => l.Name == n.Name)
                    ?? throw new ArgumentException($"The ANN has no activation '{n.Name}' to calibrate the parallel neuron against; pass the network it was converted from.", nameof(ann));
                r[n.Output] = reference is QcfsLayer qcfs
                    ? LayerEmitter.Emit(b, ann, qcfs, new[] { zB })
                    : b.Node("Min", new[] { b.Node("Max", new[] { zB, b.Scalar(0f) }), theta });
                string shifted = zA;
                string amplitude = theta;
                if (calibrate)
                {
                    b.AddInput(PsiIn(n), new string?[] { channels[n.Name].ToString(System.Globalization.CultureInfo.InvariantCulture), "1", "1" });
                    b.AddInput(PhiIn(n), new string?[] { channels[n.Name].ToString(System.Globalization.CultureInfo.InvariantCulture), "1", "1" });
                    string ePre = b.Node("Squeeze", new[] { b.Node("ReduceMean", new[] { b.Node("Sub", new[] { zB, zA }), axes }, null, Attr("keepdims", 1L)), b.Ints(0) });
                    string psiNew = b.Node("Add", new[] { b.Node("Mul", new[] { PsiIn(n), alpha }), b.Node("Mul", new[] { ePre, oneMinusAlpha }) }, PsiOut(n));
                    b.AddOutput(PsiOut(n), new string?[] { channels[n.Name].ToString(System.Globalization.CultureInfo.InvariantCulture), "1", "1" });
                    shifted = b.Node("Add", new[] { zA, psiNew });
                    amplitude = b.Node("Add", new[] { theta, PhiIn(n) });
                }
                string level = b.Node("Floor", new[] { b.Node("Add", new[] { b.Node("Mul", new[] { b.Node("Div", new[] { shifted, theta }), b.Scalar(steps) }), b.Scalar(0.5f) }) });
                string aA = b.Node("Mul", new[] { b.Node("Clip", new[] { b.Node("Div", new[] { level, b.Scalar(steps) }), b.Scalar(0f), b.Scalar(1f) }), amplitude });
                if (calibrate)
                {
                    string ePost = b.Node("Squeeze", new[] { b.Node("ReduceMean", new[] { b.Node("Sub", new[] { r[n.Output], aA }), axes }, null, Attr("keepdims", 1L)), b.Ints(0) });
                    b.Node("Add", new[] { b.Node("Mul", new[] { PhiIn(n), alpha }), b.Node("Mul", new[] { ePost, oneMinusAlpha }) }, PhiOut(n));
                    b.AddOutput(PhiOut(n), new string?[] { channels[n.Name].ToString(System.Globalization.CultureInfo.InvariantCulture), "1", "1" });
                }
                a[n.Output] = aA;
            }
            return b.ToModelBytes("Microsoft.ML.Spiking");
        }
    }
}
