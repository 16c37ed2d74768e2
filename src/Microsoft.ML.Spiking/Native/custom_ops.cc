// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// ONNX Runtime custom operators for the fused neuron kernels (domain "microsoft.ml.spiking", version 1), loaded
// by the simulator with SessionOptions.RegisterCustomOpLibrary. The library uses only the OrtApi it is handed in
// RegisterCustomOps and does not link against onnxruntime.
//
//   IfScan(x, theta, v) -> (out, v_out, counts)
//     attributes: steps (K), varying (x is [K·B, ...] rather than [B, ...]), reset_to_zero
//   MtScan(x, theta, bias?, step_offset?, m?, c?, C?, r_out?) -> (out, counts, m_out?, c_out?, C_out?, r_out_out?)
//     attributes: steps, varying, levels, gated, differential, scales[levels], fractions[levels], portable? (the
//     baseline build even where the CPU has AVX-512). Absent states are the initial state (m = C = r_out = 0, c = bias
//     or 0: a chunk that starts the run); absent state outputs are not written (nothing reads the chunk's final state).
//   MtEncode: MtScan with its spikes as codes [K·B, spatial..., words] (SpikeEncode's), for a fused neuron to read
//   IfPack, SpikeConvIf, SpikeUnpack, SpikeFanOut: the bit-packed spike operators of bit_ops.cc
//   SpikeConvMt, SpikeEncode, CodeUnpack, CodeFanOut: the spike-code operators of code_ops.cc
//   TrainCounts: the counts of a parallel neuron's spike trains from its spike counts (train_ops.cc)
//   MaxPoolScan: the differential max-pool neuron over a chunk (pool_ops.cc)
//
// theta holds one value, one per channel (axis 1) or one per element of a sample; counts [K·B] holds the number
// of non-zero outputs of every step and sample, as float like the standard lowering's spike outputs.

#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "code_kernels.h"
#include "neuron_kernels.h"
#include "ort_support.h"

namespace spiking {

namespace {

constexpr const char* kDomain = "microsoft.ml.spiking";

// Values per work item: large enough to amortize scheduling, small enough to give both cores work.
constexpr int64_t kGrain = 8192;

// Reads K, varying and the batch from the state input; checks the input rows.
ScanLayout Layout(const Ort::ConstValue& input, const Ort::ConstValue& state, int64_t steps, bool varying) {
  std::vector<int64_t> in_shape = input.GetTensorTypeAndShapeInfo().GetShape();
  std::vector<int64_t> state_shape = state.GetTensorTypeAndShapeInfo().GetShape();
  ScanLayout l;
  l.steps = steps;
  l.varying = varying;
  l.batch = state_shape.empty() ? 1 : state_shape[0];
  l.size = SampleSize(in_shape);
  const int64_t rows = in_shape.empty() ? 1 : in_shape[0];
  if (rows != (varying ? steps * l.batch : l.batch) || SampleSize(state_shape) != l.size) {
    throw Ort::Exception("input rows or sample size do not match the state", ORT_INVALID_ARGUMENT);
  }
  return l;
}

std::vector<int64_t> OutputShape(const Ort::ConstValue& input, const ScanLayout& l) {
  std::vector<int64_t> shape = input.GetTensorTypeAndShapeInfo().GetShape();
  shape[0] = l.steps * l.batch;
  return shape;
}

// Runs kernel(item, counts) over every work item on ONNX Runtime's intra-op threads, then sums the per-item
// counts into counts[t·B + b].
template <typename Kernel>
void RunItems(const Ort::KernelContext& context, const ScanLayout& l, const Kernel& kernel, float* counts, int64_t grain = kGrain) {
  std::vector<WorkItem> items = SplitWork(l.batch, l.size, grain);
  std::vector<int64_t> partial = ParallelPartials(context, items.size(), static_cast<size_t>(l.steps),
      [&](size_t index, int64_t* c) { kernel(items[index], c); });
  std::vector<int64_t> samples(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    samples[i] = items[i].sample;
  }
  SumPerSample(partial, samples, l.steps, l.batch, counts);
}

// Shape inference: out like x with K·B rows, states like their inputs, counts [K·B]. Known per-sample dims let
// ONNX Runtime's layout transforms keep the neighbouring convolutions in their blocked format. A shape is passed
// on only when all of its dims are known or named: an unknown dim reads as -1, which ONNX Runtime would take
// literally downstream, and an input of unknown rank reads as an empty shape (our inputs are never scalars).
bool Complete(const Ort::ShapeInferContext::Shape& shape) {
  if (shape.empty()) {
    return false;
  }
  for (const Ort::ShapeInferContext::SymbolicInteger& dim : shape) {
    if (dim.IsInt() && dim.AsInt() < 0) {
      return false;
    }
  }
  return true;
}

OrtStatusPtr InferScanShapes(Ort::ShapeInferContext& ctx, size_t state_input, size_t state_output, size_t count_output, size_t states, bool like_input = true) {
  try {
    const int64_t steps = ctx.GetAttrInt("steps");
    const bool varying = ctx.GetAttrInt("varying") != 0;
    Ort::ShapeInferContext::Shape out = ctx.GetInputShape(0);
    const bool known_rows = !out.empty() && !(out[0].IsInt() && out[0].AsInt() < 0);
    const Ort::ShapeInferContext::SymbolicInteger rows = known_rows && (varying || steps == 1)
        ? out[0] : Ort::ShapeInferContext::SymbolicInteger("KB");
    if (like_input && Complete(out)) {
      out[0] = rows;
      ctx.SetOutputShape(0, out);
    }
    ctx.SetOutputShape(count_output, Ort::ShapeInferContext::Shape{rows});
    for (size_t s = 0; s < states; ++s) {
      if (state_input + s < ctx.GetInputCount()) {
        Ort::ShapeInferContext::Shape state = ctx.GetInputShape(state_input + s);
        if (Complete(state)) {
          ctx.SetOutputShape(state_output + s, state);
        }
      }
    }
    return nullptr;
  } catch (const std::exception& e) {
    return ToStatus(e);
  }
}

// Lets ONNX Runtime write output 0 into the buffer of input 0 when the two have the same size (a time-varying
// input that nothing else reads): the kernels read x of a step before they write its output at the same place,
// and this halves the memory traffic of what is a memory-bound pass.
template <typename TOp>
void AllowInputZeroInPlace(TOp& op) {
  op.OrtCustomOp::GetMayInplace = [](int** input_index, int** output_index) -> size_t {
    *input_index = new int[1]{0};
    *output_index = new int[1]{0};
    return 1;
  };
  op.OrtCustomOp::ReleaseMayInplace = [](int* input_index, int* output_index) {
    delete[] input_index;
    delete[] output_index;
  };
}

struct IfScanKernel {
  IfScanKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    steps_ = ki.GetAttribute<int64_t>("steps");
    varying_ = ki.GetAttribute<int64_t>("varying") != 0;
    reset_to_zero_ = ki.GetAttribute<int64_t>("reset_to_zero") != 0;
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue x = context.GetInput(0);
      Ort::ConstValue membrane = context.GetInput(2);
      ScanLayout l = Layout(x, membrane, steps_, varying_);
      std::vector<float> theta = ExpandTheta(context.GetInput(1), l.size);
      IfArgs a;
      a.layout = l;
      a.reset_to_zero = reset_to_zero_;
      a.input = x.GetTensorData<float>();
      a.theta = theta.data();
      a.membrane_in = membrane.GetTensorData<float>();
      a.output = context.GetOutput(0, OutputShape(x, l)).GetTensorMutableData<float>();
      a.membrane_out = context.GetOutput(1, membrane.GetTensorTypeAndShapeInfo().GetShape()).GetTensorMutableData<float>();
      float* counts = context.GetOutput(2, std::vector<int64_t>{l.steps * l.batch}).GetTensorMutableData<float>();
      RunItems(context, l, [&a](const WorkItem& item, int64_t* c) { IfScan(a, item, c); }, counts);
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t steps_;
  bool varying_;
  bool reset_to_zero_;
};

struct IfScanOp : Ort::CustomOpBase<IfScanOp, IfScanKernel, true> {
  IfScanOp() { AllowInputZeroInPlace(*this); }
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<IfScanKernel>(info, kernel); }
  const char* GetName() const { return "IfScan"; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  static OrtStatusPtr InferOutputShape(Ort::ShapeInferContext& ctx) { return InferScanShapes(ctx, 2, 1, 2, 1); }
};

// MtScan and MtEncode inputs and outputs, in order.
enum MtInput : size_t { kX, kTheta, kBias, kStepOffset, kM, kC, kCumulative, kROut, kMtInputs };
enum MtOutput : size_t { kOut, kCounts, kMOut, kCOut, kCumulativeOut, kROutOut, kMtOutputs };

// MtScan (float spikes out) or, with Codes, MtEncode (the spikes as codes [K·B, spatial..., words], as SpikeEncode
// writes them; the per-sample items then span whole samples).
template <bool Codes>
struct MtKernel {
  MtKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    steps_ = ki.GetAttribute<int64_t>("steps");
    varying_ = ki.GetAttribute<int64_t>("varying") != 0;
    levels_ = static_cast<int>(ki.GetAttribute<int64_t>("levels"));
    gated_ = ki.GetAttribute<int64_t>("gated") != 0;
    differential_ = ki.GetAttribute<int64_t>("differential") != 0;
    portable_ = OptionalInt(ki, "portable", 0) != 0;
    scales_ = ki.GetAttributes<float>("scales");
    fractions_ = ki.GetAttributes<float>("fractions");
    if (levels_ < 1 || levels_ > (Codes ? kMaxCodeLevels : 24) || scales_.size() != static_cast<size_t>(levels_) || fractions_.size() != static_cast<size_t>(levels_)) {
      throw Ort::Exception(Codes ? "MtEncode needs 1 to 7 levels with one scale and one fraction each" : "MtScan needs 1 to 24 levels with one scale and one fraction each", ORT_INVALID_ARGUMENT);
    }
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue x = context.GetInput(kX);
      const std::vector<int64_t> state_shape = StatesOfInput(x, steps_, varying_, 0, "...", Codes ? "MtEncode" : "MtScan");
      ScanLayout l;
      l.steps = steps_;
      l.varying = varying_;
      l.batch = state_shape[0];
      l.size = SampleSize(state_shape);
      std::vector<float> theta = ExpandTheta(context.GetInput(kTheta), l.size);
      MtArgs a;
      a.layout = l;
      a.levels = levels_;
      a.gated = gated_;
      a.differential = differential_;
      a.scale = scales_.data();
      a.fraction = fractions_.data();
      a.input = x.GetTensorData<float>();
      a.theta = theta.data();
      a.m_in = OptionalState(context, kM, state_shape, "m");
      CodeLayout codes;
      if (Codes) {
        std::vector<int64_t> in = x.GetTensorTypeAndShapeInfo().GetShape();
        if (in.size() < 2 || in[1] < 1) {
          throw Ort::Exception("MtEncode: x must be [rows, C, ...]", ORT_INVALID_ARGUMENT);
        }
        codes.spatial = l.size / in[1];
        codes.words = (in[1] + 15) / 16;
        std::vector<int64_t> shape{l.steps * l.batch};
        shape.insert(shape.end(), in.begin() + 2, in.end());
        shape.push_back(codes.words);
        codes.output = context.GetOutput(kOut, shape).GetTensorMutableData<uint64_t>();
      } else {
        a.output = context.GetOutput(kOut, OutputShape(x, l)).GetTensorMutableData<float>();
      }
      float* counts = context.GetOutput(kCounts, std::vector<int64_t>{l.steps * l.batch}).GetTensorMutableData<float>();
      a.m_out = OptionalStateOutput(context, kMOut, state_shape);
      StepFactors steps;
      if (differential_) {
        Ort::ConstValue bias = context.GetInput(kBias);
        if (bias != nullptr) {
          if (static_cast<int64_t>(bias.GetTensorTypeAndShapeInfo().GetElementCount()) != l.size) {
            throw Ort::Exception("bias needs one value per element of a sample", ORT_INVALID_ARGUMENT);
          }
          a.bias = bias.GetTensorData<float>();
        }
        steps = ReadSteps(context.GetInput(kStepOffset), l.steps);
        a.inverse = steps.inverse.data();
        a.first = steps.first.data();
        a.c_in = OptionalState(context, kC, state_shape, "c");
        a.c_out = OptionalStateOutput(context, kCOut, state_shape);
      }
      if (gated_) {
        a.cumulative_in = OptionalState(context, kCumulative, state_shape, "C");
        a.cumulative_out = OptionalStateOutput(context, kCumulativeOut, state_shape);
        if (differential_) {
          a.r_out_in = OptionalState(context, kROut, state_shape, "r_out");
          a.r_out_out = OptionalStateOutput(context, kROutOut, state_shape);
        }
      }
      const bool portable = portable_;
      if (Codes) {
        RunItems(context, l, [&a, &codes, portable](const WorkItem& item, int64_t* c) { MtScanCodes(a, codes, item, c, portable); }, counts, l.size);
      } else {
        RunItems(context, l, [&a, portable](const WorkItem& item, int64_t* c) { MtScan(a, item, c, portable); }, counts);
      }
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t steps_;
  bool varying_;
  int levels_;
  bool gated_;
  bool differential_;
  bool portable_;
  std::vector<float> scales_;
  std::vector<float> fractions_;
};

template <bool Codes>
struct MtOp : Ort::CustomOpBase<MtOp<Codes>, MtKernel<Codes>, true> {
  MtOp() {
    if (!Codes) {
      AllowInputZeroInPlace(*this);
    }
  }
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<MtKernel<Codes>>(info, kernel); }
  const char* GetName() const { return Codes ? "MtEncode" : "MtScan"; }
  size_t GetInputTypeCount() const { return kMtInputs; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == kX || index == kTheta ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
  }
  size_t GetOutputTypeCount() const { return kMtOutputs; }
  ONNXTensorElementDataType GetOutputType(size_t index) const {
    return Codes && index == kOut ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t index) const {
    return index <= kCounts ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
  }
  static OrtStatusPtr InferOutputShape(Ort::ShapeInferContext& ctx) { return InferScanShapes(ctx, kM, kMOut, kCounts, 4, !Codes); }
};

// The operators and their domain, created once per load of the library and added to every session options
// that registers it; ONNX Runtime keeps the library loaded while any session made with them exists.
Ort::CustomOpDomain& Domain() {
  static const IfScanOp if_scan;
  static const MtOp<false> mt_scan;
  static const MtOp<true> mt_encode;
  static Ort::CustomOpDomain domain = [] {
    Ort::CustomOpDomain d(kDomain);
    d.Add(&if_scan);
    d.Add(&mt_scan);
    d.Add(&mt_encode);
    AddBitOps(d);
    AddCodeOps(d);
    AddTrainOps(d);
    AddPoolOps(d);
    return d;
  }();
  return domain;
}

}  // namespace

}  // namespace spiking

extern "C" __attribute__((visibility("default"))) OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) {
  const OrtApi* api = api_base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    return api_base->GetApi(1)->CreateStatus(ORT_FAIL, "The spiking kernels need a newer ONNX Runtime.");
  }
  Ort::InitApi(api);
  try {
    Ort::UnownedSessionOptions session_options(options);
    session_options.Add(spiking::Domain());
    return nullptr;
  } catch (const std::exception& e) {
    return api->CreateStatus(ORT_FAIL, e.what());
  }
}
