// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Linq;
using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.RateCoding;
using Microsoft.ML.Spiking.Graph;
using Microsoft.ML.Spiking.Onnx.Proto;
using Microsoft.ML.Spiking.Simulation;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Microsoft.ML.Spiking.Tests.Simulation
{
    /// <summary>
    /// Packed spikes (bits of IF neurons, 4-bit codes of differential multi-threshold neurons) and the fused spiking
    /// convolution + neuron kernels (<see cref="BitPackedPlan"/>) against the standard-op lowering. On a network whose every weight, bias, threshold and input is a short dyadic fraction,
    /// every sum is exact in float whatever its order, so the two must agree bit for bit (outputs, spikes, synaptic
    /// operations, final membranes); on random weights they agree to float rounding.
    /// </summary>
    [TestClass]
    public sealed class BitPackedSimulationTests
    {
        /// <summary>A multiple of 1/8 in [−1, 1]: products with θ ∈ {¼, ½, 1, 2} and their sums stay exact.</summary>
        private static float[] Dyadic(Random r, int n) => Enumerable.Range(0, n).Select(_ => r.Next(-8, 9) / 8f).ToArray();

        private static float[] Thresholds(Random r, int channels) => Enumerable.Range(0, channels).Select(_ => new[] { 0.25f, 0.5f, 1f, 2f }[r.Next(4)]).ToArray();

        private static ConvLayer Conv(string name, string input, int outChannels, int inChannels, int kernel, int stride, int pad, Random r) =>
            new ConvLayer(name, "Conv", input, name, new FloatTensor(new[] { outChannels, inChannels, kernel, kernel }, Dyadic(r, outChannels * inChannels * kernel * kernel)),
                Dyadic(r, outChannels), new[] { stride, stride }, new[] { pad, pad, pad, pad }, new[] { 1, 1 }, 1);

        /// <summary>
        /// Every form the plan fuses: an entry neuron on the analog convolution (IfPack), a single 3×3 source, an identity
        /// residual, two sources (3×3 and 1×1, stride 2) onto 70 channels (two words, five vectors: a block of four and one),
        /// and 6 channels (one padded vector); then an unpacked global average pool and a dense head. <paramref name="width"/>
        /// is the first stage's channels (20: one word; 70: the entry neuron packs two words).
        /// </summary>
        private static SpikingNetwork ExactNetwork(int seed, ResetMode reset, int size = 8, int width = 20)
        {
            var r = new Random(seed);
            var layers = new Layer[]
            {
                Conv("c1", "x", width, 3, 3, 1, 1, r),
                new IfNeuronLayer("n1", "Relu", "c1", "n1", Thresholds(r, width), 0.5f, reset),
                Conv("c2", "n1", width, width, 3, 1, 1, r),
                new IfNeuronLayer("n2", "Relu", "c2", "n2", Thresholds(r, width), 0.5f, reset),
                Conv("c3", "n2", width, width, 3, 1, 1, r),
                new BinaryLayer("a3", "Add", "c3", "n1", "a3", BinaryOp.Add),
                new IfNeuronLayer("n3", "Relu", "a3", "n3", Thresholds(r, width), 0.5f, reset),
                Conv("c4", "n3", 70, width, 3, 2, 1, r),
                Conv("c5", "n3", 70, width, 1, 2, 0, r),
                new BinaryLayer("a4", "Add", "c4", "c5", "a4", BinaryOp.Add),
                new IfNeuronLayer("n4", "Relu", "a4", "n4", new[] { 1f }, 0.5f, reset),
                Conv("c6", "n4", 6, 70, 3, 1, 1, r),
                new IfNeuronLayer("n5", "Relu", "c6", "n5", Thresholds(r, 6), 0.5f, reset),
                new GlobalAveragePoolLayer("g", "GlobalAveragePool", "n5", "g"),
                new ReshapeLayer("f", "Flatten", "g", "f", new[] { 6 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 4, 6 }, Dyadic(r, 24)), Dyadic(r, 4)),
            };
            return new SpikingNetwork(new Network("x", new[] { 3, size, size }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
        }

        /// <summary>
        /// The same forms under differential coding: gated multi-threshold neurons with four levels (spikes ±θ·2^−k as 4-bit
        /// codes), per-element biases; the entry neuron runs its usual kernel and encodes its spikes.
        /// </summary>
        private static SpikingNetwork ExactDifferentialNetwork(int seed, bool gated, int size = 8, int width = 20)
        {
            int full = size * size;
            int half = (size + 1) / 2 * ((size + 1) / 2);
            var r = new Random(seed);
            MultiThresholdNeuronLayer Neuron(string name, string input, int channels, int size) =>
                new MultiThresholdNeuronLayer(name, "Relu", input, name, Thresholds(r, channels).Select(t => Math.Max(t, 0.5f)).ToArray(), 4, gated, FiringRule.Midpoint, true,
                    Enumerable.Range(0, channels * size).Select(_ => r.Next(-4, 5) / 16f).ToArray());
            var layers = new Layer[]
            {
                Conv("c1", "x", width, 3, 3, 1, 1, r),
                Neuron("n1", "c1", width, full),
                Conv("c2", "n1", width, width, 3, 1, 1, r),
                Neuron("n2", "c2", width, full),
                Conv("c3", "n2", width, width, 3, 1, 1, r),
                new BinaryLayer("a3", "Add", "c3", "n1", "a3", BinaryOp.Add),
                Neuron("n3", "a3", width, full),
                Conv("c4", "n3", 70, width, 3, 2, 1, r),
                Conv("c5", "n3", 70, width, 1, 2, 0, r),
                new BinaryLayer("a4", "Add", "c4", "c5", "a4", BinaryOp.Add),
                Neuron("n4", "a4", 70, half),
                Conv("c6", "n4", 6, 70, 3, 1, 1, r),
                Neuron("n5", "c6", 6, half),
                new GlobalAveragePoolLayer("g", "GlobalAveragePool", "n5", "g"),
                new ReshapeLayer("f", "Flatten", "g", "f", new[] { 6 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 4, 6 }, Dyadic(r, 24)), Dyadic(r, 4)),
            };
            return new SpikingNetwork(new Network("x", new[] { 3, size, size }, layers, "y", "fixture"), ConversionMethod.DifferentialCoding, Array.Empty<string>(), Dyadic(r, 4));
        }

        /// <summary>Inputs that are multiples of 1/16 in [0, 1].</summary>
        private static float[] DyadicInputs(int count, int seed)
        {
            var r = new Random(seed);
            return Enumerable.Range(0, count).Select(_ => r.Next(0, 17) / 16f).ToArray();
        }

        private static void RequireKernels()
        {
            if (!NativeKernels.IsAvailable)
            {
                Assert.Inconclusive(NativeKernels.Status);
            }
        }

        [TestMethod]
        public void ThePlanFusesEveryConvolutionOfSpikesThatDrivesAnIfNeuron()
        {
            Network network = ExactNetwork(1, ResetMode.Subtract).Network;
            BitPackedPlan plan = BitPackedPlan.Create(network, differential: false)!;
            Assert.IsNotNull(plan);
            Layer Get(string name) => network.Layers.Single(l => l.Name == name);
            Assert.IsNull(plan.Fused(Get("n1")), "n1 reads the analog convolution");
            Assert.IsTrue(plan.IsPacked(Get("n1")), "n1's spikes feed c2 and the residual of n3");
            Assert.AreEqual(1, plan.Fused(Get("n2"))!.Convolutions.Count);
            Assert.AreEqual("n1", plan.Fused(Get("n3"))!.Residual!.Name);
            Assert.AreEqual(2, plan.Fused(Get("n4"))!.Convolutions.Count);
            Assert.IsNull(plan.Fused(Get("n4"))!.Residual);
            Assert.IsNotNull(plan.Fused(Get("n5")));
            Assert.AreEqual(4, plan.FusedCount);
            foreach (string name in new[] { "c2", "c3", "a3", "c4", "c5", "a4", "c6" })
            {
                Assert.IsTrue(plan.IsAbsorbed(Get(name)), name);
            }
            Assert.IsFalse(plan.IsAbsorbed(Get("c1")));
            Assert.IsFalse(plan.IsAbsorbed(Get("d")));
        }

        [TestMethod]
        public void ConvolutionsThatCannotBeFusedKeepTheDenseLowering()
        {
            var r = new Random(3);
            var dilated = new ConvLayer("c2", "Conv", "n1", "c2", new FloatTensor(new[] { 4, 4, 3, 3 }, Dyadic(r, 144)), null, new[] { 1, 1 }, new[] { 2, 2, 2, 2 }, new[] { 2, 2 }, 1);
            var layers = new Layer[]
            {
                Conv("c1", "x", 4, 2, 3, 1, 1, r),
                new IfNeuronLayer("n1", "Relu", "c1", "n1", new[] { 1f }, 0.5f, ResetMode.Subtract),
                dilated,
                new IfNeuronLayer("n2", "Relu", "c2", "n2", new[] { 1f }, 0.5f, ResetMode.Subtract),
                // Reads a max-pool whose windows overlap and pad (not a pooling of bits), not a neuron.
                new PoolLayer("p", "MaxPool", "n2", "p", PoolKind.Max, new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, false, false),
                Conv("c3", "p", 4, 4, 3, 1, 1, r),
                new IfNeuronLayer("n3", "Relu", "c3", "n3", new[] { 1f }, 0.5f, ResetMode.Subtract),
                Conv("c4", "n3", 4, 4, 3, 1, 1, r),
                // c4's output is also read by the Add: not the neuron's alone.
                new IfNeuronLayer("n5", "Relu", "c4", "n5", new[] { 1f }, 0.5f, ResetMode.Subtract),
                new BinaryLayer("a", "Add", "n5", "c4", "y", BinaryOp.Add),
            };
            var network = new Network("x", new[] { 2, 8, 8 }, layers, "y", "fixture");
            Assert.IsNull(BitPackedPlan.Create(network, differential: false), "nothing in this network can be fused");
            using var simulator = new SpikingSimulator(new SpikingNetwork(network, ConversionMethod.RateCoding, Array.Empty<string>()), new SimulationOptions { TimeSteps = 4 });
            Assert.IsFalse(simulator.PacksSpikes);
        }

        [TestMethod]
        [DataRow(11, 4, ResetMode.Subtract, false, 8)]
        [DataRow(8, 8, ResetMode.Subtract, true, 8)]
        [DataRow(5, 1, ResetMode.Zero, false, 8)]
        [DataRow(7, 3, ResetMode.Zero, true, 8)]
        [DataRow(6, 4, ResetMode.Subtract, false, 6)]
        [DataRow(6, 4, ResetMode.Subtract, true, 6)]
        [DataRow(6, 4, ResetMode.Zero, false, 6, 70)]
        [DataRow(5, 2, ResetMode.Subtract, true, 6, 70)]
        public void ExactNetworkMatchesTheStandardLoweringBitForBit(int steps, int chunk, ResetMode reset, bool portable, int size, int width = 20)
        {
            RequireKernels();
            SpikingNetwork snn = ExactNetwork(5, reset, size, width);
            const int batch = 3;
            float[] inputs = DyadicInputs(batch * 3 * size * size, 9);
            AssertKernelsMatchTheStandardLowering(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, PortableBitKernels = portable }, inputs, batch, packs: true);
        }

        /// <summary>
        /// <paramref name="scaledTableBytes"/>: 0 runs every node with unscaled tables (an event multiplies its row by the
        /// code's factor), 16 MiB every node with scaled tables (an event adds its row), 200 KiB some of each. Maps of 6 × 6
        /// (36 pixels) leave the entry neuron's encoding a partial block of pixels; maps of 18 × 18 (324 pixels) split each
        /// channel of the entry neuron, which writes codes itself, into a tile of 256 pixels and one of 68. <paramref name="width"/>
        /// is the first stage's channels: 20 (sources of two words) or 12 and 16 (one word: the kernel's single-word gather).
        /// Either way c2 and c3, the latter with its residual, run by input pixels in bands of 8 rows (18 × 18 maps leave a
        /// band of two); a batch of 16 runs them in bands of 32 rows (here the whole map).
        /// </summary>
        [TestMethod]
        [DataRow(8, 8, true, false, 0L, 8, 20)]
        [DataRow(8, 8, true, false, 16L << 20, 8, 20)]
        [DataRow(11, 4, true, true, 0L, 8, 20)]
        [DataRow(11, 4, true, true, 16L << 20, 8, 20)]
        [DataRow(6, 1, false, false, 200L << 10, 8, 20)]
        [DataRow(5, 2, false, true, 200L << 10, 8, 20)]
        [DataRow(7, 4, true, false, 200L << 10, 6, 20)]
        [DataRow(7, 3, false, true, 16L << 20, 6, 20)]
        [DataRow(8, 8, true, false, 0L, 8, 16)]
        [DataRow(8, 4, true, false, 16L << 20, 8, 16)]
        [DataRow(6, 3, false, true, 0L, 6, 12)]
        [DataRow(6, 6, true, true, 16L << 20, 6, 12)]
        [DataRow(4, 4, true, false, 0L, 18, 20)]
        [DataRow(4, 4, true, true, 0L, 18, 12)]
        [DataRow(3, 3, true, false, 16L << 20, 18, 16, 16)]
        [DataRow(3, 2, false, false, 0L, 18, 16, 16)]
        public void ExactDifferentialNetworkMatchesTheStandardLoweringBitForBit(int steps, int chunk, bool gated, bool portable, long scaledTableBytes, int size, int width, int batch = 3)
        {
            RequireKernels();
            SpikingNetwork snn = ExactDifferentialNetwork(6, gated, size, width);
            Assert.AreEqual(4, BitPackedPlan.Create(snn.Network, differential: true)!.FusedCount);
            float[] inputs = DyadicInputs(batch * 3 * size * size, 10);
            AssertKernelsMatchTheStandardLowering(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, PortableBitKernels = portable, ScaledTableBytes = scaledTableBytes }, inputs, batch, packs: true);
        }

        /// <summary>
        /// Past 64 steps in one chunk, <c>SpikeConvMt</c> runs by output pixels even where it would run by input pixels (its
        /// sums would hold three rows at every step): a one-chunk run of 66 steps against the same run in chunks of 33 (by
        /// input pixels) and of 11, identical bit for bit on the dyadic fixture (one and two words).
        /// </summary>
        [TestMethod]
        [DataRow(16)]
        [DataRow(20)]
        public void LongChunksRunByOutputPixelsWithTheSameResults(int width)
        {
            RequireKernels();
            SpikingNetwork snn = ExactDifferentialNetwork(6, gated: true, 6, width);
            const int batch = 3;
            const int steps = 66;
            float[] inputs = DyadicInputs(batch * 3 * 6 * 6, 12);
            SimulationResult Run(int chunk)
            {
                using var simulator = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, KeepFinalMembranes = true });
                Assert.IsTrue(simulator.UsesNativeKernels && simulator.PacksSpikes, SpikingSimulator.NativeKernelStatus);
                return simulator.Run(inputs, batch);
            }

            SimulationResult whole = Run(steps);
            foreach (int chunk in new[] { 33, 11 })
            {
                AssertIdentical(whole, Run(chunk), steps, batch, requireEveryLayerToSpike: true);
            }
        }

        /// <summary>
        /// A chunk that is the whole run leaves the states its kernels hold out of the graph: no inputs (the kernels start
        /// from the initial states) and, where nothing reads the final states, no outputs. A chunk within a longer run keeps
        /// them all, and the states of standard ops (the readout) are always carried.
        /// </summary>
        [TestMethod]
        public void AWholeRunChunkLeavesTheKernelStatesOut()
        {
            RequireKernels();
            SpikingNetwork snn = ExactDifferentialNetwork(6, gated: true, 8, 20);
            SnnChunkGraph carried = SnnGraphBuilder.Build(snn, 4, timeVaryingInput: false, packing: BitPacking.Native);
            SnnChunkGraph kept = SnnGraphBuilder.Build(snn, 4, timeVaryingInput: false, packing: BitPacking.Native, startsRun: true);
            SnnChunkGraph whole = SnnGraphBuilder.Build(snn, 4, timeVaryingInput: false, packing: BitPacking.Native, startsRun: true, finalStateRead: false);
            Assert.IsTrue(carried.States.All(s => s.Fed && s.Written));
            int held = whole.States.Count(s => !s.Fed);
            Assert.IsTrue(held >= 4 * 4, $"the four fused neurons hold four states each; {held} left out");
            Assert.IsTrue(whole.States.Any(s => s.Fed), "the readout's state is carried by standard ops");
            foreach ((SnnChunkGraph graph, bool startsRun, bool read) in new[] { (carried, false, true), (kept, true, true), (whole, true, false) })
            {
                Assert.AreEqual(carried.States.Count, graph.States.Count);
                GraphProto model = ModelProto.Parser.ParseFrom(graph.Model).Graph;
                for (int i = 0; i < graph.States.Count; i++)
                {
                    StateSpec state = graph.States[i];
                    bool kernelHeld = !whole.States[i].Fed;
                    Assert.AreEqual(!(startsRun && kernelHeld), state.Fed, state.Input);
                    Assert.AreEqual(read || !kernelHeld, state.Written, state.Output);
                    Assert.AreEqual(state.Fed, model.Input.Any(v => v.Name == state.Input), state.Input);
                    Assert.AreEqual(state.Written, model.Output.Any(v => v.Name == state.Output), state.Output);
                }
            }
        }

        /// <summary>
        /// Max-pool neurons between packed layers, as in a network whose ReLU and max-pooling were swapped: one on the
        /// constant input (<c>MaxPoolScan</c>: 2 × 2, a bias, a column left over) and one after a convolution of codes
        /// (<c>SpikeConvPool</c> when packed, else <c>MaxPoolScan</c> after ONNX Runtime's convolution: 3 × 3 without a bias,
        /// rows and a column left over; or 2 × 2 with a bias, a row left over). The standard lowering against the neuron
        /// kernels alone and the packed simulation with either build of the kernels, over chunks (the states carried on) or
        /// in one chunk (the kernels forming the initial states: the pool neurons' biases).
        /// </summary>
        [TestMethod]
        [DataRow(false, false, 3, false, 3)]
        [DataRow(false, false, 2, true, 7)]
        [DataRow(true, false, 3, false, 3)]
        [DataRow(true, true, 3, false, 7)]
        [DataRow(true, false, 2, true, 7)]
        [DataRow(true, true, 2, true, 3)]
        public void MaxPoolNeuronsMatchTheStandardLoweringBitForBit(bool pack, bool portable, int window, bool poolBias, int chunk)
        {
            RequireKernels();
            var r = new Random(31);
            MultiThresholdNeuronLayer Neuron(string name, string input, int channels, int size) =>
                new MultiThresholdNeuronLayer(name, "Relu", input, name, Thresholds(r, channels), 4, true, FiringRule.Midpoint, true,
                    Enumerable.Range(0, channels * size).Select(_ => r.Next(-4, 5) / 16f).ToArray());
            PoolLayer Pool(string name, string input, int kernel) => new PoolLayer(name, "MaxPool", input, name, PoolKind.Max, new[] { kernel, kernel }, new[] { kernel, kernel }, new int[4], false, false);
            var layers = new Layer[]
            {
                new MaxPoolNeuronLayer(Pool("p0", "x", 2), Dyadic(r, 2 * 10 * 9)),
                Conv("c1", "p0", 4, 2, 3, 1, 1, r),
                Neuron("n1", "c1", 4, 20),
                Conv("c2", "n1", 6, 4, 3, 1, 1, r),
                Neuron("n2", "c2", 6, 20),
                Conv("c3", "n2", 5, 6, 3, 1, 1, r),
                new MaxPoolNeuronLayer(Pool("p1", "c3", window), poolBias ? Dyadic(r, 5 * 5 * 4) : null),
                Neuron("n3", "p1", 5, (5 / window) * (4 / window)),
                new ReshapeLayer("f", "Flatten", "n3", "f", new[] { 5 * (5 / window) * (4 / window) }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 3, 5 * (5 / window) * (4 / window) }, Dyadic(r, 15 * (5 / window) * (4 / window))), Dyadic(r, 3)),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 2, 10, 9 }, layers, "y", "fixture"), ConversionMethod.DifferentialCoding, Array.Empty<string>(), Dyadic(r, 3));
            BitPackedPlan plan = BitPackedPlan.Create(snn.Network, differential: true)!;
            Assert.IsNotNull(plan.Pool(layers[6]), "the second max-pool neuron and its convolution should fuse");
            Assert.IsNull(plan.Pool(layers[0]), "a max-pool neuron on the input has no convolution to fuse");
            const int batch = 3;
            const int steps = 7;
            float[] inputs = DyadicInputs(batch * 2 * 10 * 9, 12);
            AssertKernelsMatchTheStandardLowering(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = chunk, PackSpikes = pack, PortableBitKernels = portable }, inputs, batch, packs: pack);
        }

        /// <summary>
        /// Rate coding with max-pooling between IF neurons: a convolution reading the pooled spikes fuses with its neuron and
        /// the pooling runs on the bits (<c>SpikeMaxPool</c>: 70 channels, two words; a 9 × 9 map leaves a row and a column
        /// out); a second pooling read by the dense head is unpacked. Bit for bit against the standard lowering.
        /// </summary>
        [TestMethod]
        [DataRow(false)]
        [DataRow(true)]
        public void MaxPoolingOnBitsMatchesTheStandardLoweringBitForBit(bool portable)
        {
            RequireKernels();
            var r = new Random(41);
            PoolLayer Pool(string name, string input) => new PoolLayer(name, "MaxPool", input, name, PoolKind.Max, new[] { 2, 2 }, new[] { 2, 2 }, new int[4], false, false);
            var layers = new Layer[]
            {
                Conv("c1", "x", 70, 3, 3, 1, 1, r),
                new IfNeuronLayer("n1", "Relu", "c1", "n1", Thresholds(r, 70), 0.5f, ResetMode.Subtract),
                Pool("p1", "n1"),
                Conv("c2", "p1", 12, 70, 3, 1, 1, r),
                new IfNeuronLayer("n2", "Relu", "c2", "n2", Thresholds(r, 12), 0.5f, ResetMode.Subtract),
                Conv("c3", "n2", 6, 12, 3, 1, 1, r),
                new IfNeuronLayer("n3", "Relu", "c3", "n3", Thresholds(r, 6), 0.5f, ResetMode.Subtract),
                Pool("p2", "n3"),
                new ReshapeLayer("f", "Flatten", "p2", "f", new[] { 24 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 4, 24 }, Dyadic(r, 96)), Dyadic(r, 4)),
            };
            var snn = new SpikingNetwork(new Network("x", new[] { 3, 9, 9 }, layers, "y", "fixture"), ConversionMethod.RateCoding, Array.Empty<string>());
            BitPackedPlan plan = BitPackedPlan.Create(snn.Network, differential: false)!;
            Assert.IsTrue(plan.PoolsBits(layers[2]), "the pooling a fused convolution reads should run on bits");
            Assert.IsFalse(plan.PoolsBits(layers[7]), "the pooling the dense head reads stays a float pooling");
            const int batch = 3;
            const int steps = 7;
            float[] inputs = DyadicInputs(batch * 3 * 9 * 9, 14);
            AssertKernelsMatchTheStandardLowering(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = 3, PortableBitKernels = portable }, inputs, batch, packs: true);
        }

        [TestMethod]
        public void TimeVaryingInputsMatchBitForBit()
        {
            RequireKernels();
            SpikingNetwork snn = ExactNetwork(8, ResetMode.Subtract);
            const int batch = 2;
            const int steps = 6;
            float[] inputs = DyadicInputs(steps * batch * 192, 4);
            using var packed = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = 4, KeepFinalMembranes = true });
            using var standard = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, ChunkSteps = 4, UseNativeKernels = false, KeepFinalMembranes = true });
            AssertIdentical(standard.RunSequence(inputs, batch), packed.RunSequence(inputs, batch), steps, batch, requireEveryLayerToSpike: false);
        }

        /// <summary>Random float weights: the table sums round differently from ONNX Runtime's convolution, by float rounding only.</summary>
        [TestMethod]
        public void RandomWeightsAgreeToFloatRounding()
        {
            RequireKernels();
            var r = new Random(21);
            float[] Floats(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
            ConvLayer FloatConv(string name, string input, int o, int i, int k, int stride, int pad) =>
                new ConvLayer(name, "Conv", input, name, new FloatTensor(new[] { o, i, k, k }, Floats(o * i * k * k, 0.5f)), Floats(o, 0.1f), new[] { stride, stride }, new[] { pad, pad, pad, pad }, new[] { 1, 1 }, 1);
            var layers = new Layer[]
            {
                FloatConv("c1", "x", 16, 3, 3, 1, 1),
                new ReluLayer("r1", "Relu", "c1", "r1"),
                FloatConv("c2", "r1", 16, 16, 3, 1, 1),
                new ReluLayer("r2", "Relu", "c2", "r2"),
                FloatConv("c3", "r2", 16, 16, 3, 1, 1),
                new BinaryLayer("a3", "Add", "c3", "r1", "a3", BinaryOp.Add),
                new ReluLayer("r3", "Relu", "a3", "r3"),
                FloatConv("c4", "r3", 64, 16, 3, 2, 1),
                FloatConv("c5", "r3", 64, 16, 1, 2, 0),
                new BinaryLayer("a4", "Add", "c4", "c5", "a4", BinaryOp.Add),
                new ReluLayer("r4", "Relu", "a4", "r4"),
                new GlobalAveragePoolLayer("g", "GlobalAveragePool", "r4", "g"),
                new ReshapeLayer("f", "Flatten", "g", "f", new[] { 64 }),
                new DenseLayer("d", "Gemm", "f", "y", new FloatTensor(new[] { 10, 64 }, Floats(640, 0.3f)), Floats(10, 0.1f)),
            };
            var ann = new Network("x", new[] { 3, 16, 16 }, layers, "y", "fixture");
            const int batch = 16;
            float[] inputs = Enumerable.Range(0, batch * 768).Select(_ => (float)r.NextDouble()).ToArray();
            CalibrationResult stats = Calibrator.Collect(ann, Enumerable.Range(0, batch).Select(i => inputs.AsSpan(i * 768, 768).ToArray()));
            SpikingNetwork snn = RateCodingConverter.Convert(ann, stats);
            const int steps = 16;
            using var packed = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps });
            using var standard = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = steps, UseNativeKernels = false });
            Assert.IsTrue(packed.PacksSpikes);
            SimulationResult expected = standard.Run(inputs, batch);
            SimulationResult actual = packed.Run(inputs, batch);
            long expectedSpikes = 0;
            long spikeDifference = 0;
            double largest = 0;
            double worst = 0;
            for (int b = 0; b < batch; b++)
            {
                for (int l = 0; l < expected.NeuronLayers.Count; l++)
                {
                    long e = Enumerable.Range(1, steps).Sum(t => expected.GetSpikeCount(l, t, b));
                    expectedSpikes += e;
                    spikeDifference += Math.Abs(e - Enumerable.Range(1, steps).Sum(t => actual.GetSpikeCount(l, t, b)));
                }
                for (int k = 0; k < 10; k++)
                {
                    largest = Math.Max(largest, Math.Abs(expected.GetEstimate(steps, b)[k]));
                    worst = Math.Max(worst, Math.Abs(expected.GetEstimate(steps, b)[k] - actual.GetEstimate(steps, b)[k]));
                }
            }
            Assert.IsTrue(expectedSpikes > 10_000, $"the fixture should spike ({expectedSpikes})");
            Assert.IsTrue(spikeDifference <= expectedSpikes / 1000, $"spike counts differ by {spikeDifference} of {expectedSpikes}");
            Assert.IsTrue(worst <= 0.05 * largest, $"estimates differ by up to {worst} (largest {largest})");
        }

        /// <summary>
        /// Runs <paramref name="snn"/> with the native kernels as <paramref name="kernels"/> asks (final states kept) and with the
        /// standard lowering (same steps and chunks) and asserts that everything they return is identical, every neuron layer
        /// spiking. <paramref name="packs"/>: whether the kernels' run must pack spikes.
        /// </summary>
        /// <summary>
        /// The kernels' run against the standard lowering's, final states included; then the kernels' run again without
        /// keeping the final states (a run of one chunk then writes none of the states its kernels hold).
        /// </summary>
        private static void AssertKernelsMatchTheStandardLowering(SpikingNetwork snn, SimulationOptions kernels, float[] inputs, int batch, bool packs)
        {
            kernels.KeepFinalMembranes = true;
            using var native = new SpikingSimulator(snn, kernels);
            using var standard = new SpikingSimulator(snn, new SimulationOptions { TimeSteps = kernels.TimeSteps, ChunkSteps = kernels.ChunkSteps, UseNativeKernels = false, KeepFinalMembranes = true });
            Assert.IsTrue(native.UsesNativeKernels, SpikingSimulator.NativeKernelStatus);
            Assert.AreEqual(packs, native.PacksSpikes, SpikingSimulator.NativeKernelStatus);
            Assert.IsFalse(standard.UsesNativeKernels);
            SimulationResult expected = standard.Run(inputs, batch);
            AssertIdentical(expected, native.Run(inputs, batch), kernels.TimeSteps, batch, requireEveryLayerToSpike: true);
            kernels.KeepFinalMembranes = false;
            using var withoutStates = new SpikingSimulator(snn, kernels);
            AssertIdentical(expected, withoutStates.Run(inputs, batch), kernels.TimeSteps, batch, requireEveryLayerToSpike: true, finalStates: false);
        }

        private static void AssertIdentical(SimulationResult expected, SimulationResult actual, int steps, int batch, bool requireEveryLayerToSpike, bool finalStates = true)
        {
            var perLayer = new long[expected.NeuronLayers.Count];
            for (int t = 1; t <= steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    CollectionAssert.AreEqual(expected.GetStepOutput(t, b).ToArray(), actual.GetStepOutput(t, b).ToArray(), $"step output, t = {t}, sample {b}");
                    CollectionAssert.AreEqual(expected.GetEstimate(t, b).ToArray(), actual.GetEstimate(t, b).ToArray(), $"estimate, t = {t}, sample {b}");
                    for (int l = 0; l < perLayer.Length; l++)
                    {
                        Assert.AreEqual(expected.GetSpikeCount(l, t, b), actual.GetSpikeCount(l, t, b), $"spikes of {expected.NeuronLayers[l]}, t = {t}, sample {b}");
                        perLayer[l] += actual.GetSpikeCount(l, t, b);
                    }
                    for (int l = 0; l < expected.SynapticLayers.Count; l++)
                    {
                        Assert.AreEqual(expected.GetSynapticOperations(l, t, b), actual.GetSynapticOperations(l, t, b), $"SOPs of {expected.SynapticLayers[l]}, t = {t}, sample {b}");
                    }
                }
            }
            Assert.IsTrue(expected.FinalMembranes.Length > 0);
            Assert.AreEqual(finalStates ? expected.FinalMembranes.Length : 0, actual.FinalMembranes.Length);
            for (int i = 0; finalStates && i < expected.FinalMembranes.Length; i++)
            {
                CollectionAssert.AreEqual(expected.FinalMembranes[i], actual.FinalMembranes[i], $"final membranes of state {i}");
            }
            for (int l = 0; l < perLayer.Length; l++)
            {
                Assert.IsTrue(perLayer[l] > 0 || !requireEveryLayerToSpike, $"{expected.NeuronLayers[l]} should spike in this fixture");
            }
        }
    }
}
