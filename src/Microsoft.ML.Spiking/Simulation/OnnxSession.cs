// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Spiking.Simulation
{
    /// <summary>Where and how ONNX Runtime executes the lowered graphs.</summary>
    public sealed class ExecutionOptions
    {
        /// <summary>CUDA device to run on, or null for the CPU.</summary>
        public int? GpuDeviceId { get; set; }

        /// <summary>When the GPU provider cannot be created, run on the CPU instead of failing.</summary>
        public bool FallbackToCpu { get; set; }

        /// <summary>Threads ONNX Runtime uses inside one operator (0 lets it choose: one per physical core).</summary>
        public int IntraOpThreads { get; set; }

        /// <summary>
        /// Let ONNX Runtime's threads spin for work after each call (default true: faster for a session that runs call after
        /// call). Turn it off for a runner that takes turns with another session on the same cores (an <see cref="AnnRunner"/>
        /// next to a <see cref="SpikingSimulator"/>, batch by batch): its idle spinning threads would take the cores from the
        /// other. The library already does so where it alternates sessions itself (the shorter last chunk of a simulation,
        /// the transformer's ANN scores; calibration lets its threads spin within a call and stops them when it returns).
        /// </summary>
        public bool AllowSpinning { get; set; } = true;
    }

    /// <summary>A named float tensor passed to or returned from a session.</summary>
    /// <param name="Data">Values, row-major.</param>
    /// <param name="Shape">Dimensions.</param>
    internal readonly record struct TensorBuffer(float[] Data, long[] Shape);

    /// <summary>An ONNX Runtime inference session over in-memory model bytes, run through OrtValue APIs.</summary>
    internal sealed class OnnxSession : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly SessionOptions _options;
        private readonly RunOptions _runOptions;
        private bool _disposed;

        /// <summary>Opens a session.</summary>
        /// <param name="model">The ONNX model.</param>
        /// <param name="execution">Where and how to run, or null for the CPU defaults.</param>
        /// <param name="nativeKernels">Register the fused neuron kernels (<see cref="NativeKernels"/>), which the model uses.</param>
        /// <param name="spinning">
        /// Let ONNX Runtime's threads spin for work after a call (its default). A caller that does its own work on the same
        /// cores between calls turns it off, so that idle ONNX Runtime threads do not take the cores from it.
        /// </param>
        /// <param name="stopSpinning">
        /// With <paramref name="spinning"/>, let the threads spin only within a call: they stop when it returns
        /// (<c>session.force_spinning_stop</c>), leaving the cores to whatever the caller does between calls.
        /// </param>
        /// <param name="memoryPattern">
        /// Let ONNX Runtime plan one block for a call's intermediate tensors (its default). A graph whose block is large turns
        /// it off: the block is allocated and freed around every call, and past the C library's largest heap block (32 MB)
        /// each call maps fresh pages and faults on every one of them; without it, the tensors come from the session's arena,
        /// which keeps its memory from call to call.
        /// </param>
        public OnnxSession(byte[] model, ExecutionOptions? execution, bool nativeKernels = false, bool spinning = true, bool memoryPattern = true, bool stopSpinning = false)
        {
            execution ??= new ExecutionOptions();
            _options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, EnableMemoryPattern = memoryPattern };
            if (!spinning || !execution.AllowSpinning)
            {
                _options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            }
            else if (stopSpinning)
            {
                _options.AddSessionConfigEntry("session.force_spinning_stop", "1");
            }

            if (execution.IntraOpThreads > 0)
            {
                _options.IntraOpNumThreads = execution.IntraOpThreads;
            }
            if (nativeKernels)
            {
                try
                {
                    NativeKernels.Register(_options);
                }
                catch
                {
                    _options.Dispose();
                    throw;
                }
            }
            if (execution.GpuDeviceId is int device)
            {
                try
                {
                    _options.AppendExecutionProvider_CUDA(device);
                }
                catch (Exception e) when (execution.FallbackToCpu && e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
                {
                    // Stay on the CPU provider, as asked.
                }
            }
            _runOptions = new RunOptions();
            try
            {
                _session = nativeKernels ? NativeKernels.CreateSession(model, _options) : new InferenceSession(model, _options);
            }
            catch
            {
                _runOptions.Dispose();
                _options.Dispose();
                throw;
            }
            OutputNames = _session.OutputNames.ToList();
        }

        public IReadOnlyList<string> OutputNames { get; }

        /// <summary>Runs the graph and copies the requested outputs out of native memory.</summary>
        public Dictionary<string, TensorBuffer> Run(IReadOnlyDictionary<string, TensorBuffer> inputs, IReadOnlyList<string>? outputNames = null)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            outputNames ??= OutputNames;
            var names = inputs.Keys.ToList();
            var values = new List<OrtValue>(names.Count);
            try
            {
                foreach (string name in names)
                {
                    TensorBuffer t = inputs[name];
                    values.Add(OrtValue.CreateTensorValueFromMemory(t.Data, t.Shape));
                }
                using IDisposableReadOnlyCollection<OrtValue> results = _session.Run(_runOptions, names, values, outputNames);
                var output = new Dictionary<string, TensorBuffer>(outputNames.Count);
                int i = 0;
                foreach (OrtValue value in results)
                {
                    long[] shape = value.GetTensorTypeAndShape().Shape;
                    output[outputNames[i++]] = new TensorBuffer(value.GetTensorDataAsSpan<float>().ToArray(), shape);
                }
                return output;
            }
            finally
            {
                foreach (OrtValue v in values)
                {
                    v.Dispose();
                }
            }
        }

        /// <summary>
        /// Runs the graph on caller-owned tensors: ONNX Runtime writes each requested output into the matching
        /// pre-allocated value (same shape), so nothing is allocated or copied per call.
        /// </summary>
        /// <param name="inputNames">The graph inputs fed.</param>
        /// <param name="inputs">Their values, in the same order.</param>
        /// <param name="outputNames">The graph outputs wanted.</param>
        /// <param name="outputs">Values of the outputs' exact shapes, in the same order.</param>
        public void RunInto(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, IReadOnlyCollection<OrtValue> outputs)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _session.Run(_runOptions, inputNames, inputs, outputNames, outputs);
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _session.Dispose();
            _runOptions.Dispose();
            _options.Dispose();
        }
    }
}
