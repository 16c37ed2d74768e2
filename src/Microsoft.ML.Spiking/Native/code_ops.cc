// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// ONNX Runtime bindings of the spike-code kernels (code_kernels.h), in the domain of custom_ops.cc:
//
//   SpikeConvMt(codes_a, table_a, codes_b?, table_b?, residual?, residual_theta?, bias, neuron_bias?, theta, step_offset,
//               m?, c?, C?, r_out?) -> (codes, counts, m_out?, c_out?, C_out?, r_out_out?, events_a?, events_b?)
//     attributes: steps, channels, map [H, W], levels (1-7), gated, scales[levels], fractions[levels], geometry_a / geometry_b =
//     [kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left], scaled, portable. Sources are codes [K·B, H_in, W_in,
//     words_in]; tables [kernel_h·kernel_w, C_in, padded] (W·θ_in), or with scaled = 1 [kernel_h·kernel_w, C_in,
//     2·levels, padded] (W·θ_in·(±scale[k])); states [B, H, W, padded]; codes out [K·B, H, W, words]. With
//     count_events = 1, events_a? / events_b? [K·B]: each source's non-zero codes under every output pixel's taps per
//     step and sample (Σ f_h·f_w over its spikes: the convolution's synaptic operations over its output channels).
//     Absent states are the neuron's initial state (m = C = r_out = 0, c = neuron_bias or 0: a chunk that starts the
//     run); absent state outputs are not written (nothing reads the chunk's final state).
//   SpikeConvPool(codes, table, bias, neuron_bias?, step_offset, v?, r_in?, r_out?) -> (out, v_out?, r_in_out?, r_out_out?, events?)
//     attributes: steps, channels, map [H, W], levels and scales (the input's codes), scaled, geometry_a, kernel_shape [kh, kw],
//     portable, count_events: a convolution of codes (as SpikeConvMt's) feeding the differential max-pool neuron of
//     MaxPoolScan; states [B, H, W, padded] (r_out [B, H / kh, W / kw, padded]); out [K·B, C, H / kh, W / kw]. Absent
//     states and outputs as SpikeConvMt's (initial v = r_out = 0, r_in = neuron_bias or 0).
//   SpikeEncode(spikes, theta) -> codes: MtScan's float spikes [rows, C, spatial...] as codes [rows, spatial..., words]
//     (attributes levels, scales); a value that is no spike level of its channel is an error.
//   CodeUnpack(codes, theta) -> floats [rows, C, spatial...] (attributes channels, scales).
//   CodeFanOut(codes, fan_h, fan_w) -> [rows, C]: Σ_hw f_h·f_w over each channel's non-zero codes (attribute channels).

#include <string>
#include <vector>

#include "code_kernels.h"
#include "neuron_kernels.h"
#include "packed_ops.h"
#include "ort_support.h"

namespace spiking {

namespace {

int64_t CodeWords(int64_t channels) { return (channels + 15) / 16; }

// The map a fused convolution writes, from its states [B, H, W, padded] (rank checked by the caller); the node's steps and channels; the levels, scales
// and table form of the codes it reads. `op` names the operator in errors.
void SetMap(SpikeConvMtArgs& a, const std::vector<int64_t>& state, int64_t steps, int64_t channels, int levels, bool scaled, const std::vector<float>& scales,
            const std::string& op) {
  a.steps = steps;
  a.batch = state[0];
  a.height = state[1];
  a.width = state[2];
  a.padded = state[3];
  a.channels = channels;
  a.words = CodeWords(channels);
  a.levels = levels;
  a.scaled = scaled;
  a.scale = scales.data();
  Require(a.padded % 16 == 0 && a.padded >= channels && a.padded < channels + 16, op + ": the states' last dim must be the channels rounded up to 16");
}

// The states [B, H, W, padded] of a fused convolution's map [H, W] (its map attribute), B from its first source's K·B
// rows: the states themselves may be absent (a chunk that starts from the initial state).
std::vector<int64_t> StateShape(const Ort::ConstValue& source, int64_t steps, const std::vector<int64_t>& map, int64_t channels, const std::string& op) {
  std::vector<int64_t> in = source.GetTensorTypeAndShapeInfo().GetShape();
  Require(!in.empty() && in[0] % steps == 0, op + ": a source must be codes [K·B, H, W, words] with K·B rows");
  return {in[0] / steps, map[0], map[1], (channels + 15) / 16 * 16};
}

// One more source of a fused convolution: its codes [K·B, H, W, words], its table and the kernel from its geometry attribute.
void AddSource(SpikeConvMtArgs& a, const Ort::ConstValue& codes, const Ort::ConstValue& table, const std::vector<int64_t>& geometry, const std::string& op) {
  Require(geometry.size() == 6, op + ": a source without its geometry attribute");
  std::vector<int64_t> in = codes.GetTensorTypeAndShapeInfo().GetShape();
  Require(in.size() == 4 && in[0] == a.steps * a.batch, op + ": a source must be codes [K·B, H, W, words] with K·B rows");
  const int64_t entries = static_cast<int64_t>(table.GetTensorTypeAndShapeInfo().GetElementCount());
  CodeSource& src = a.source[a.sources++];
  src.codes = codes.GetTensorData<uint64_t>();
  src.table = table.GetTensorData<float>();
  SetGeometry(src, in, geometry);
  const int64_t per_channel = src.kernel_h * src.kernel_w * a.padded * (a.scaled ? 2 * a.levels : 1);
  Require(per_channel > 0 && entries % per_channel == 0, op + ": a table's size does not match its kernel and channels");
  Require(src.kernel_h * src.kernel_w <= kMaxTaps, op + ": a kernel has more taps than the kernel supports");
  src.channels = entries / per_channel;
  Require(src.channels <= src.words * 16, op + ": a table has more input channels than its source's words hold");
}

// The attributes SpikeConvMt and SpikeConvPool share (their first source's geometry is geometry_a), read and checked
// once; `op` names the operator in errors.
struct CodeConvAttributes {
  CodeConvAttributes(const Ort::ConstKernelInfo& ki, const std::string& name)
      : op(name),
        steps(ki.GetAttribute<int64_t>("steps")),
        channels(ki.GetAttribute<int64_t>("channels")),
        levels(static_cast<int>(ki.GetAttribute<int64_t>("levels"))),
        portable(ki.GetAttribute<int64_t>("portable") != 0),
        scaled(ki.GetAttribute<int64_t>("scaled") != 0),
        count_events(OptionalInt(ki, "count_events", 0) != 0),
        scales(ki.GetAttributes<float>("scales")),
        geometry_a(ki.GetAttributes<int64_t>("geometry_a")),
        map(ki.GetAttributes<int64_t>("map")) {
    Require(steps >= 1 && channels >= 1 && geometry_a.size() == 6 && map.size() == 2,
            op + " needs steps, channels, map [H, W] and geometry_a [kh, kw, sh, sw, pad_top, pad_left]");
  }

  // Sets up the map the node writes (SetMap), its batch from the K·B rows of `source` (the states may be absent), and
  // returns the states' shape [B, H, W, padded].
  std::vector<int64_t> SetMapOf(SpikeConvMtArgs& a, const Ort::ConstValue& source) const {
    std::vector<int64_t> state = StateShape(source, steps, map, channels, op);
    SetMap(a, state, steps, channels, levels, scaled, scales, op);
    return state;
  }

  std::string op;
  int64_t steps;
  int64_t channels;
  int levels;
  bool portable;
  bool scaled;
  bool count_events;
  std::vector<float> scales;
  std::vector<int64_t> geometry_a;
  std::vector<int64_t> map;
};

enum MtConvInput : size_t { kCodesA, kTableA, kCodesB, kTableB, kResidual, kResidualTheta, kBias, kNeuronBias, kTheta, kStepOffset, kM, kC, kCumulative, kROut, kMtConvInputs };
enum MtConvOutput : size_t { kCodesOut, kCounts, kMOut, kCOut, kCumulativeOut, kROutOut, kEventsA, kEventsB, kMtConvOutputs };

struct SpikeConvMtKernel {
  SpikeConvMtKernel(const OrtKernelInfo* info) : SpikeConvMtKernel(Ort::ConstKernelInfo(info)) {}

  SpikeConvMtKernel(const Ort::ConstKernelInfo& ki)
      : attributes_(ki, "SpikeConvMt"),
        gated_(ki.GetAttribute<int64_t>("gated") != 0),
        fractions_(ki.GetAttributes<float>("fractions")),
        geometry_b_(OptionalInts(ki, "geometry_b")) {
    const int levels = attributes_.levels;
    Require(levels >= 1 && levels <= kMaxCodeLevels && attributes_.scales.size() == static_cast<size_t>(levels) && fractions_.size() == static_cast<size_t>(levels),
            "SpikeConvMt needs 1 to 7 levels with one scale and one fraction each");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      const CodeConvAttributes& at = attributes_;
      SpikeConvMtArgs a;
      const std::vector<int64_t> state = at.SetMapOf(a, context.GetInput(kCodesA));
      a.gated = gated_;
      a.sources = 0;
      for (int s = 0; s < 2; ++s) {
        Ort::ConstValue codes = context.GetInput(s == 0 ? kCodesA : kCodesB);
        if (codes != nullptr) {
          AddSource(a, codes, context.GetInput(s == 0 ? kTableA : kTableB), s == 0 ? at.geometry_a : geometry_b_, "SpikeConvMt");
        }
      }
      Require(a.sources >= 1, "SpikeConvMt needs a source");
      Ort::ConstValue residual = context.GetInput(kResidual);
      if (residual != nullptr) {
        std::vector<int64_t> shape = residual.GetTensorTypeAndShapeInfo().GetShape();
        Require(shape.size() == 4 && shape[0] == at.steps * a.batch && shape[1] == a.height && shape[2] == a.width && shape[3] == a.words,
                "SpikeConvMt: the residual must be codes shaped like the output");
        a.residual = residual.GetTensorData<uint64_t>();
        a.residual_theta = context.GetInput(kResidualTheta).GetTensorData<float>();
      }
      a.bias = context.GetInput(kBias).GetTensorData<float>();
      Ort::ConstValue neuron_bias = context.GetInput(kNeuronBias);
      if (neuron_bias != nullptr) {
        Require(static_cast<int64_t>(neuron_bias.GetTensorTypeAndShapeInfo().GetElementCount()) == a.height * a.width * a.padded,
                "SpikeConvMt: neuron_bias must be [H, W, padded channels]");
        a.neuron_bias = neuron_bias.GetTensorData<float>();
      }
      Ort::ConstValue theta = context.GetInput(kTheta);
      Require(static_cast<int64_t>(theta.GetTensorTypeAndShapeInfo().GetElementCount()) == a.padded, "SpikeConvMt: theta must hold the padded channels");
      a.theta = theta.GetTensorData<float>();
      // Each level's spike value and rising threshold per channel, formed once per call as MtScan forms them.
      std::vector<float> value(static_cast<size_t>(at.levels * a.padded)), positive(value.size());
      FormLevels(a.theta, a.padded, at.scales.data(), fractions_.data(), at.levels, a.padded, value.data(), positive.data());
      a.value = value.data();
      a.positive = positive.data();
      const StepFactors steps = ReadSteps(context.GetInput(kStepOffset), at.steps);
      a.inverse = steps.inverse.data();
      // Absent states start from the neuron's initial state (m = C = r_out = 0, c = b_n); absent outputs are not written.
      a.m_in = OptionalState(context, kM, state, "SpikeConvMt: m");
      a.c_in = OptionalState(context, kC, state, "SpikeConvMt: c");
      a.output = context.GetOutput(kCodesOut, std::vector<int64_t>{at.steps * a.batch, a.height, a.width, a.words}).GetTensorMutableData<uint64_t>();
      float* counts = context.GetOutput(kCounts, std::vector<int64_t>{at.steps * a.batch}).GetTensorMutableData<float>();
      a.m_out = OptionalStateOutput(context, kMOut, state);
      a.c_out = OptionalStateOutput(context, kCOut, state);
      if (gated_) {
        a.cumulative_in = OptionalState(context, kCumulative, state, "SpikeConvMt: C");
        a.r_out_in = OptionalState(context, kROut, state, "SpikeConvMt: r_out");
        a.cumulative_out = OptionalStateOutput(context, kCumulativeOut, state);
        a.r_out_out = OptionalStateOutput(context, kROutOut, state);
      }
      a.count_events = at.count_events;
      std::vector<float*> totals{counts};
      for (int s = 0; at.count_events && s < a.sources; ++s) {
        totals.push_back(context.GetOutput(s == 0 ? kEventsA : kEventsB, std::vector<int64_t>{at.steps * a.batch}).GetTensorMutableData<float>());
      }
      const int64_t band = SpikeConvMtRowsPerItem(a);
      CountGroupsPerSample(context, a.batch, (a.height + band - 1) / band, at.steps, totals, [&](int64_t sample, int64_t part, int64_t* c) {
        SpikeConvMt(a, sample, part * band, part * band + band < a.height ? part * band + band : a.height, c, at.portable);
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  CodeConvAttributes attributes_;
  bool gated_;
  std::vector<float> fractions_;
  std::vector<int64_t> geometry_b_;
};

struct SpikeConvMtOp : Ort::CustomOpBase<SpikeConvMtOp, SpikeConvMtKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<SpikeConvMtKernel>(info, kernel); }
  const char* GetName() const { return "SpikeConvMt"; }
  size_t GetInputTypeCount() const { return kMtConvInputs; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == kCodesA || index == kCodesB || index == kResidual ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == kCodesB || index == kTableB || index == kResidual || index == kResidualTheta || index == kNeuronBias || index >= kM
        ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return kMtConvOutputs; }
  ONNXTensorElementDataType GetOutputType(size_t index) const {
    return index == kCodesOut ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t index) const {
    return index <= kCounts ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
  }
};

enum PoolConvInput : size_t { kPoolCodes, kPoolTable, kPoolBias, kPoolNeuronBias, kPoolStepOffset, kPoolV, kPoolRIn, kPoolROut, kPoolConvInputs };
enum PoolConvOutput : size_t { kPoolOut, kPoolVOut, kPoolRInOut, kPoolROutOut, kPoolEvents, kPoolConvOutputs };

struct SpikeConvPoolKernel {
  SpikeConvPoolKernel(const OrtKernelInfo* info) : SpikeConvPoolKernel(Ort::ConstKernelInfo(info)) {}

  SpikeConvPoolKernel(const Ort::ConstKernelInfo& ki) : attributes_(ki, "SpikeConvPool"), kernel_(ki.GetAttributes<int64_t>("kernel_shape")) {
    const int levels = attributes_.levels;
    Require(levels >= 1 && levels <= kMaxCodeLevels && attributes_.scales.size() == static_cast<size_t>(levels), "SpikeConvPool needs the input's 1 to 7 levels with one scale each");
    Require(kernel_.size() == 2 && kernel_[0] >= 1 && kernel_[1] >= 1 && kernel_[0] * kernel_[1] <= kMaxPoolWindow,
            "SpikeConvPool needs kernel_shape [kh, kw] of at most " + std::to_string(kMaxPoolWindow) + " pixels");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      const CodeConvAttributes& at = attributes_;
      SpikeConvPoolArgs p;
      SpikeConvMtArgs& a = p.conv;
      const std::vector<int64_t> state = at.SetMapOf(a, context.GetInput(kPoolCodes));
      a.count_events = at.count_events;
      a.sources = 0;
      AddSource(a, context.GetInput(kPoolCodes), context.GetInput(kPoolTable), at.geometry_a, "SpikeConvPool");
      Ort::ConstValue bias = context.GetInput(kPoolBias);
      Require(static_cast<int64_t>(bias.GetTensorTypeAndShapeInfo().GetElementCount()) == a.padded, "SpikeConvPool: bias must hold the padded channels");
      a.bias = bias.GetTensorData<float>();
      Ort::ConstValue neuron_bias = context.GetInput(kPoolNeuronBias);
      if (neuron_bias != nullptr) {
        Require(static_cast<int64_t>(neuron_bias.GetTensorTypeAndShapeInfo().GetElementCount()) == a.height * a.width * a.padded,
                "SpikeConvPool: neuron_bias must be [H, W, padded channels]");
        p.pool_bias = neuron_bias.GetTensorData<float>();
      }
      p.kernel_h = kernel_[0];
      p.kernel_w = kernel_[1];
      p.out_h = a.height / p.kernel_h;
      p.out_w = a.width / p.kernel_w;
      std::vector<int64_t> pooled{a.batch, p.out_h, p.out_w, a.padded};
      const StepFactors steps = ReadSteps(context.GetInput(kPoolStepOffset), at.steps);
      a.inverse = steps.inverse.data();
      // Absent states start from the initial state (v = r_out = 0, r_in = the pool bias); absent outputs are not written.
      p.v_in = OptionalState(context, kPoolV, state, "SpikeConvPool: v");
      p.r_in_in = OptionalState(context, kPoolRIn, state, "SpikeConvPool: r_in");
      p.r_out_in = OptionalState(context, kPoolROut, pooled, "SpikeConvPool: r_out");
      p.output = context.GetOutput(kPoolOut, std::vector<int64_t>{at.steps * a.batch, at.channels, p.out_h, p.out_w}).GetTensorMutableData<float>();
      p.v_out = OptionalStateOutput(context, kPoolVOut, state);
      p.r_in_out = OptionalStateOutput(context, kPoolRInOut, state);
      p.r_out_out = OptionalStateOutput(context, kPoolROutOut, pooled);
      const int64_t bands = p.out_h + (a.height - p.out_h * p.kernel_h);
      if (at.count_events) {
        float* events = context.GetOutput(kPoolEvents, std::vector<int64_t>{at.steps * a.batch}).GetTensorMutableData<float>();
        CountPerSample(context, a.batch, bands, at.steps, events, [&](int64_t sample, int64_t band, int64_t* c) { SpikeConvPool(p, sample, band, c, at.portable); });
      } else {
        ParallelPartials(context, static_cast<size_t>(a.batch * bands), 0, [&](size_t index, int64_t*) {
          SpikeConvPool(p, static_cast<int64_t>(index) / bands, static_cast<int64_t>(index) % bands, nullptr, at.portable);
        });
      }
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  CodeConvAttributes attributes_;
  std::vector<int64_t> kernel_;
};

struct SpikeConvPoolOp : Ort::CustomOpBase<SpikeConvPoolOp, SpikeConvPoolKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<SpikeConvPoolKernel>(info, kernel); }
  const char* GetName() const { return "SpikeConvPool"; }
  size_t GetInputTypeCount() const { return kPoolConvInputs; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == kPoolCodes ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == kPoolNeuronBias || index >= kPoolV ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return kPoolConvOutputs; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t index) const {
    return index == kPoolOut ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
  }
};

struct SpikeEncodeKernel {
  SpikeEncodeKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    scales_ = ki.GetAttributes<float>("scales");
    Require(!scales_.empty() && scales_.size() <= static_cast<size_t>(kMaxCodeLevels), "SpikeEncode needs 1 to 7 scales");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue spikes = context.GetInput(0);
      std::vector<int64_t> in = spikes.GetTensorTypeAndShapeInfo().GetShape();
      Require(in.size() >= 2, "SpikeEncode: spikes must be [rows, C, ...]");
      const int64_t channels = in[1];
      Ort::ConstValue theta = context.GetInput(1);
      Require(static_cast<int64_t>(theta.GetTensorTypeAndShapeInfo().GetElementCount()) == channels, "SpikeEncode: theta needs one value per channel");
      std::vector<int64_t> out{in[0]};
      out.insert(out.end(), in.begin() + 2, in.end());
      const int64_t spatial = SampleSize(in) / channels;
      const int64_t words = CodeWords(channels);
      out.push_back(words);
      const float* data = spikes.GetTensorData<float>();
      const float* values = theta.GetTensorData<float>();
      uint64_t* output = context.GetOutput(0, out).GetTensorMutableData<uint64_t>();
      const int levels = static_cast<int>(scales_.size());
      std::vector<int64_t> bad(static_cast<size_t>(in[0]), -1);
      ParallelPartials(context, static_cast<size_t>(in[0]), 0, [&](size_t row, int64_t*) {
        SpikeEncode(data, values, scales_.data(), levels, channels, spatial, words, static_cast<int64_t>(row), output, &bad[row]);
      });
      for (int64_t channel : bad) {
        Require(channel < 0, "SpikeEncode: channel " + std::to_string(channel) + " holds a value that is no spike level of its neuron");
      }
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  std::vector<float> scales_;
};

struct SpikeEncodeOp : Ort::CustomOpBase<SpikeEncodeOp, SpikeEncodeKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<SpikeEncodeKernel>(info, kernel); }
  const char* GetName() const { return "SpikeEncode"; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64; }
};

// CodeUnpack: the floats of packed_ops.h from codes (θ_c·SignedScales[code]), with the neuron's level factors.
class CodeDecode {
 public:
  static constexpr const char* kName = "CodeUnpack";
  static constexpr const char* kTensor = "codes";
  static constexpr int64_t kChannelsPerWord = 16;
  explicit CodeDecode(const Ort::ConstKernelInfo& ki) : scales_(ki.GetAttributes<float>("scales")) {
    Require(!scales_.empty() && scales_.size() <= static_cast<size_t>(kMaxCodeLevels), "CodeUnpack needs 1 to 7 scales");
  }
  void Row(const uint64_t* codes, const float* theta, int64_t channels, int64_t spatial, int64_t words, int64_t row, float* output) const {
    CodeUnpack(codes, theta, scales_.data(), static_cast<int>(scales_.size()), channels, spatial, words, row, output);
  }

 private:
  std::vector<float> scales_;
};

// CodeFanOut: the counts of packed_ops.h on codes.
struct CodeFanOutCount {
  static constexpr const char* kName = "CodeFanOut";
  static constexpr const char* kTensor = "codes";
  static constexpr int64_t kChannelsPerWord = 16;
  static void Row(const uint64_t* packed, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width, int64_t words,
                  int64_t row, float* output) {
    CodeFanOut(packed, fan_h, fan_w, channels, height, width, words, row, output);
  }
};

}  // namespace

void AddCodeOps(Ort::CustomOpDomain& domain) {
  static const SpikeConvMtOp spike_conv_mt;
  static const SpikeConvPoolOp spike_conv_pool;
  static const SpikeEncodeOp spike_encode;
  static const UnpackOp<CodeDecode> code_unpack;
  static const FanOutOp<CodeFanOutCount> code_fan_out;
  domain.Add(&spike_conv_mt);
  domain.Add(&spike_conv_pool);
  domain.Add(&spike_encode);
  domain.Add(&code_unpack);
  domain.Add(&code_fan_out);
}

}  // namespace spiking
