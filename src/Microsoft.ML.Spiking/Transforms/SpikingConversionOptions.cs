// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using Microsoft.ML.Spiking.Calibration;
using Microsoft.ML.Spiking.Conversion;
using Microsoft.ML.Spiking.Conversion.Differential;
using Microsoft.ML.Spiking.Graph;

namespace Microsoft.ML.Spiking
{
    /// <summary>Everything <c>ConvertToSpiking</c> needs: the model, the columns, the method and its settings.</summary>
    public sealed class SpikingConversionOptions
    {
        /// <summary>Creates options with the defaults.</summary>
        public SpikingConversionOptions()
        {
            InputColumnName = "Pixels";
            LabelColumnName = "Label";
            ScoreColumnName = "Score";
            PredictedLabelColumnName = "PredictedLabel";
            ScorePerStepColumnName = "ScorePerStep";
            SpikeCountColumnName = "SpikeCount";
            AnnScoreColumnName = "AnnScore";
            SpikesPerStepColumnName = "SpikesPerStep";
            SynapticOperationsColumnName = "SynapticOpsPerStep";
            CountSynapticOperations = true;
            Method = ConversionMethod.RateCoding;
            TimeSteps = 32;
            Thresholds = ThresholdMethod.Percentile;
            Percentile = 99.9;
            Granularity = StatisticsGranularity.Channel;
            InitialMembrane = 0.5f;
            Reset = ResetMode.Subtract;
            ThresholdLevels = 4;
            ThresholdScale = DifferentialCodingOptions.DefaultThresholdScale;
            FiringRule = FiringRule.Midpoint;
            IterationMode = ThresholdIterationMode.Converge;
            DifferentialNeuron = DifferentialNeuron.MultiThreshold;
            BatchSize = 64;
        }

        /// <summary>Path of the ONNX model to convert (or set <see cref="ModelBytes"/>).</summary>
        public string? ModelFile { get; set; }

        /// <summary>The ONNX model's bytes, used when <see cref="ModelFile"/> is null.</summary>
        public byte[]? ModelBytes { get; set; }

        /// <summary>Input column: a known-size vector of Single holding one model input (default "Pixels").</summary>
        public string InputColumnName { get; set; }

        /// <summary>Label column whose key values name the classes, if present (default "Label"); never read as data.</summary>
        public string? LabelColumnName { get; set; }

        /// <summary>Class names in the model's output order. When the label column is a key whose values are these names in another order, Fit fails (the MapValueToKey ordering trap).</summary>
        public string[]? ClassNames { get; set; }

        /// <summary>Output: softmax of the spiking network's logit estimate after T steps (the mean output for rate coding and parallel conversion, the decoded or accumulated output for differential and bit-serial conversion; default "Score").</summary>
        public string ScoreColumnName { get; set; }

        /// <summary>Output: the arg-max of Score as a key (default "PredictedLabel").</summary>
        public string PredictedLabelColumnName { get; set; }

        /// <summary>Output: the running logit estimate after each step, T×K (default "ScorePerStep").</summary>
        public string ScorePerStepColumnName { get; set; }

        /// <summary>Output: spikes per neuron layer over the T steps (default "SpikeCount").</summary>
        public string SpikeCountColumnName { get; set; }

        /// <summary>Output: the original ANN's logits on the same row (default "AnnScore"); null to leave it out.</summary>
        public string? AnnScoreColumnName { get; set; }

        /// <summary>Output: spikes per step and neuron layer, T×L (default "SpikesPerStep").</summary>
        public string SpikesPerStepColumnName { get; set; }

        /// <summary>Output: synaptic operations per step and convolution/dense layer, T×S (default "SynapticOpsPerStep"); present when <see cref="CountSynapticOperations"/> is on.</summary>
        public string SynapticOperationsColumnName { get; set; }

        /// <summary>Count synaptic operations during simulation (default true; needed for the energy figures).</summary>
        public bool CountSynapticOperations { get; set; }

        /// <summary>
        /// Conversion method: <see cref="ConversionMethod.RateCoding"/> (default), <see cref="ConversionMethod.DifferentialCoding"/> or
        /// <see cref="ConversionMethod.BitSerial"/> (then <see cref="TimeSteps"/> is T, the bits per activation, L = 2^T − 1, and
        /// <see cref="Thresholds"/> chooses λ when ReLUs are quantized after training) or <see cref="ConversionMethod.Parallel"/>
        /// (<see cref="Thresholds"/> Max or Percentile records ReLU thresholds; see <see cref="DistributionAwareCalibration"/>).
        /// </summary>
        public ConversionMethod Method { get; set; }

        /// <summary>T, the number of simulated steps (default 32).</summary>
        public int TimeSteps { get; set; }

        /// <summary>
        /// How thresholds are chosen (default: 99.9th percentile). <see cref="ThresholdMethod.Iteration"/> (differential
        /// coding only) fits them to the ReLU inputs' mean and variance, with N = T·2^n levels.
        /// </summary>
        public ThresholdMethod Thresholds { get; set; }

        /// <summary>p for the percentile thresholds (default 99.9).</summary>
        public double Percentile { get; set; }

        /// <summary>One threshold per channel (default), per layer, or per neuron (threshold iteration only).</summary>
        public StatisticsGranularity Granularity { get; set; }

        /// <summary>
        /// Parallel conversion: run the distribution-aware calibration (a second pass over the Fit data) after threshold
        /// recording (default false).
        /// </summary>
        public bool DistributionAwareCalibration { get; set; }

        /// <summary>Bit-serial conversion: re-quantize QCFS activations whose L is not 2^T − 1 to L = 2^T − 1 (default false: such a model is an error).</summary>
        public bool Requantize { get; set; }

        /// <summary>Differential coding: n, the thresholds θ/2^k of each multi-threshold neuron (default 4).</summary>
        public int ThresholdLevels { get; set; }

        /// <summary>
        /// Differential coding of transformers: the base threshold of each identity neuron is this factor times the
        /// percentile (or max) of its input (default 8, the reference code's value; the paper reportedly uses 4 with n = 8).
        /// </summary>
        public float ThresholdScale { get; set; }

        /// <summary>Differential coding: which threshold a multi-threshold neuron fires (default: the reference code's 0.75 midpoints).</summary>
        public FiringRule FiringRule { get; set; }

        /// <summary>Differential coding: threshold iteration solved to convergence (default) or with the reference code's 100 iterations.</summary>
        public ThresholdIterationMode IterationMode { get; set; }

        /// <summary>Differential coding: multi-threshold neurons (default) or single-threshold differential IF neurons.</summary>
        public DifferentialNeuron DifferentialNeuron { get; set; }

        /// <summary>Rate coding: v(0) as a fraction of θ (default 0.5).</summary>
        public float InitialMembrane { get; set; }

        /// <summary>Rate coding: neuron reset rule (default subtraction).</summary>
        public ResetMode Reset { get; set; }

        /// <summary>Per-channel mean the model expects to be subtracted from its input (folded into the network); null for none.</summary>
        public float[]? InputMean { get; set; }

        /// <summary>Per-channel standard deviation the model expects its input divided by; null for none.</summary>
        public float[]? InputStd { get; set; }

        /// <summary>Rows per simulation call in Transform and per ANN call in Fit (default 64).</summary>
        public int BatchSize { get; set; }

        /// <summary>Use at most this many rows of the Fit data for calibration (null: all).</summary>
        public long? MaxCalibrationRows { get; set; }

        /// <summary>CUDA device for ONNX Runtime, or null for the CPU.</summary>
        public int? GpuDeviceId { get; set; }

        /// <summary>Run on the CPU when the GPU cannot be used.</summary>
        public bool FallbackToCpu { get; set; }

        /// <summary>Receives calibration progress (rows processed).</summary>
        public System.IProgress<long>? CalibrationProgress { get; set; }
    }
}
