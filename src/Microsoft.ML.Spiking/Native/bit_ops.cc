// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// ONNX Runtime bindings of the bit-packed spike kernels (bit_kernels.h), in the domain of custom_ops.cc:
//
//   IfPack(x, theta, v) -> (bits, v_out, counts)
//     attributes: steps, varying, reset_to_zero. x [B or K·B, C, spatial...]; bits [K·B, spatial..., words] uint64.
//   SpikeConvIf(bits_a, table_a, bits_b?, table_b?, residual?, residual_theta?, bias, theta, v) -> (bits, v_out, counts)
//     attributes: steps, reset_to_zero, channels, geometry_a / geometry_b = [kernel_h, kernel_w, stride_h, stride_w,
//     pad_top, pad_left], portable (1: the portable kernel even where AVX-512 is available). Sources are bits [K·B, H_in, W_in, words_in]; tables [kernel_h·kernel_w, groups, 16, padded];
//     v [B, H, W, padded] (padded = channels rounded up to 16); bits out [K·B, H, W, words].
//   SpikeUnpack(bits, theta) -> x: floats [rows, C, spatial...] holding θ_c where a spike is (attribute channels).
//   SpikeFanOut(bits, fan_h, fan_w) -> sops [rows, C]: Σ_hw f_h·f_w over each channel's spikes (attribute channels).
//   SpikeMaxPool(bits) -> bits [rows, H / kh, W / kw, words]: max-pooling of the spikes (attribute kernel_shape = strides).

#include <string>
#include <vector>

#include "bit_kernels.h"
#include "packed_ops.h"
#include "ort_support.h"

namespace spiking {

namespace {

// Values per IfPack work item (pixels times channels: a few thousand), in blocks of 16 pixels.
constexpr int64_t kPackGrain = 8192;

int64_t Words(int64_t channels) { return (channels + 63) / 64; }

struct IfPackKernel {
  IfPackKernel(const OrtKernelInfo* info) {
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
      std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
      std::vector<int64_t> state_shape = membrane.GetTensorTypeAndShapeInfo().GetShape();
      Require(shape.size() >= 2 && !state_shape.empty(), "IfPack needs x [rows, C, ...] and v [B, C, ...]");
      IfPackArgs a;
      a.steps = steps_;
      a.varying = varying_;
      a.reset_to_zero = reset_to_zero_;
      a.batch = state_shape[0];
      a.channels = shape[1];
      a.spatial = SampleSize(shape) / a.channels;
      a.words = Words(a.channels);
      Require(shape[0] == (varying_ ? steps_ * a.batch : a.batch) && SampleSize(state_shape) == SampleSize(shape),
              "IfPack: input rows or sample size do not match the state");
      std::vector<float> theta = ExpandTheta(context.GetInput(1), a.channels * a.spatial);
      a.theta = theta.data();
      a.input = x.GetTensorData<float>();
      a.membrane_in = membrane.GetTensorData<float>();
      a.membrane_out = context.GetOutput(1, state_shape).GetTensorMutableData<float>();
      std::vector<int64_t> out_shape{steps_ * a.batch};
      out_shape.insert(out_shape.end(), shape.begin() + 2, shape.end());
      out_shape.push_back(a.words);
      Ort::UnownedValue bits = context.GetOutput(0, out_shape);
      a.output = bits.GetTensorMutableData<uint64_t>();
      float* counts = context.GetOutput(2, std::vector<int64_t>{steps_ * a.batch}).GetTensorMutableData<float>();
      const int64_t per_item = std::max<int64_t>(16, kPackGrain / std::max<int64_t>(1, a.channels) / 16 * 16);
      const int64_t parts = (a.spatial + per_item - 1) / per_item;
      CountPerSample(context, a.batch, parts, steps_, counts, [&](int64_t sample, int64_t part, int64_t* c) {
        const int64_t begin = part * per_item;
        IfPack(a, sample, begin, std::min(a.spatial, begin + per_item), c);
      });
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

struct IfPackOp : Ort::CustomOpBase<IfPackOp, IfPackKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<IfPackKernel>(info, kernel); }
  const char* GetName() const { return "IfPack"; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetOutputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
};

enum ConvInput : size_t { kBitsA, kTableA, kBitsB, kTableB, kResidual, kResidualTheta, kBias, kTheta, kMembrane, kConvInputs };

struct SpikeConvIfKernel {
  SpikeConvIfKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    steps_ = ki.GetAttribute<int64_t>("steps");
    reset_to_zero_ = ki.GetAttribute<int64_t>("reset_to_zero") != 0;
    channels_ = ki.GetAttribute<int64_t>("channels");
    portable_ = ki.GetAttribute<int64_t>("portable") != 0;
    geometry_[0] = ki.GetAttributes<int64_t>("geometry_a");
    geometry_[1] = OptionalInts(ki, "geometry_b");
    Require(steps_ >= 1 && channels_ >= 1 && geometry_[0].size() == 6, "SpikeConvIf needs steps, channels and geometry_a [kh, kw, sh, sw, pad_top, pad_left]");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue membrane = context.GetInput(kMembrane);
      std::vector<int64_t> state = membrane.GetTensorTypeAndShapeInfo().GetShape();
      Require(state.size() == 4, "SpikeConvIf: v must be [B, H, W, padded channels]");
      SpikeConvArgs a;
      a.steps = steps_;
      a.batch = state[0];
      a.height = state[1];
      a.width = state[2];
      a.padded = state[3];
      a.channels = channels_;
      a.words = Words(channels_);
      a.reset_to_zero = reset_to_zero_;
      Require(a.padded % 16 == 0 && a.padded >= channels_ && a.padded < channels_ + 16, "SpikeConvIf: v's last dim must be the channels rounded up to 16");
      a.sources = 0;
      for (int s = 0; s < 2; ++s) {
        Ort::ConstValue bits = context.GetInput(s == 0 ? kBitsA : kBitsB);
        if (bits == nullptr) {
          continue;
        }
        Require(geometry_[s].size() == 6, "SpikeConvIf: a source without its geometry attribute");
        std::vector<int64_t> in = bits.GetTensorTypeAndShapeInfo().GetShape();
        Require(in.size() == 4 && in[0] == steps_ * a.batch, "SpikeConvIf: a source must be bits [K·B, H, W, words] with K·B rows");
        Ort::ConstValue table = context.GetInput(s == 0 ? kTableA : kTableB);
        const int64_t entries = static_cast<int64_t>(table.GetTensorTypeAndShapeInfo().GetElementCount());
        BitSource& src = a.source[a.sources++];
        src.bits = bits.GetTensorData<uint64_t>();
        src.table = table.GetTensorData<float>();
        SetGeometry(src, in, geometry_[s]);
        const int64_t per_group = src.kernel_h * src.kernel_w * 16 * a.padded;
        Require(per_group > 0 && entries % per_group == 0, "SpikeConvIf: a table's size does not match its kernel and channels");
        Require(src.kernel_h * src.kernel_w <= kMaxTaps, "SpikeConvIf: a kernel has more taps than the kernel supports");
        src.groups = entries / per_group;
        Require(src.groups <= src.words * 16, "SpikeConvIf: a table has more channel groups than its source's words hold");
      }
      Require(a.sources >= 1, "SpikeConvIf needs a source");
      Ort::ConstValue residual = context.GetInput(kResidual);
      if (residual != nullptr) {
        std::vector<int64_t> shape = residual.GetTensorTypeAndShapeInfo().GetShape();
        Require(shape.size() == 4 && shape[0] == steps_ * a.batch && shape[1] == a.height && shape[2] == a.width && shape[3] == a.words,
                "SpikeConvIf: the residual must be bits shaped like the output");
        a.residual = residual.GetTensorData<uint64_t>();
        a.residual_theta = context.GetInput(kResidualTheta).GetTensorData<float>();
      }
      a.bias = context.GetInput(kBias).GetTensorData<float>();
      a.theta = context.GetInput(kTheta).GetTensorData<float>();
      a.membrane_in = membrane.GetTensorData<float>();
      a.output = context.GetOutput(0, std::vector<int64_t>{steps_ * a.batch, a.height, a.width, a.words}).GetTensorMutableData<uint64_t>();
      a.membrane_out = context.GetOutput(1, state).GetTensorMutableData<float>();
      float* counts = context.GetOutput(2, std::vector<int64_t>{steps_ * a.batch}).GetTensorMutableData<float>();
      CountPerSample(context, a.batch, a.height, steps_, counts, [&](int64_t sample, int64_t row, int64_t* c) {
        SpikeConvIf(a, sample, row, row + 1, c, portable_);
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t steps_;
  bool reset_to_zero_;
  int64_t channels_;
  bool portable_;
  std::vector<int64_t> geometry_[2];
};

struct SpikeConvIfOp : Ort::CustomOpBase<SpikeConvIfOp, SpikeConvIfKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<SpikeConvIfKernel>(info, kernel); }
  const char* GetName() const { return "SpikeConvIf"; }
  size_t GetInputTypeCount() const { return kConvInputs; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == kBitsA || index == kBitsB || index == kResidual ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == kBitsB || index == kTableB || index == kResidual || index == kResidualTheta ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetOutputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
};

// SpikeUnpack: the floats of packed_ops.h from bits (θ_c where a bit is set).
struct SpikeDecode {
  static constexpr const char* kName = "SpikeUnpack";
  static constexpr const char* kTensor = "bits";
  static constexpr int64_t kChannelsPerWord = 64;
  explicit SpikeDecode(const Ort::ConstKernelInfo&) {}
  void Row(const uint64_t* bits, const float* theta, int64_t channels, int64_t spatial, int64_t words, int64_t row, float* output) const {
    SpikeUnpack(bits, theta, channels, spatial, words, row, output);
  }
};

// SpikeFanOut: the counts of packed_ops.h on bits.
struct SpikeFanOutCount {
  static constexpr const char* kName = "SpikeFanOut";
  static constexpr const char* kTensor = "bits";
  static constexpr int64_t kChannelsPerWord = 64;
  static void Row(const uint64_t* packed, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width, int64_t words,
                  int64_t row, float* output) {
    SpikeFanOut(packed, fan_h, fan_w, channels, height, width, words, row, output);
  }
};

// SpikeMaxPool: the max-pooling of IF spikes (kernel = strides, no padding, floor mode) on their bits. A spike is θ_c or
// 0 and θ_c > 0, so a window's max is θ_c exactly where any of its bits is set: the OR of its words.
struct SpikeMaxPoolKernel {
  SpikeMaxPoolKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    kernel_ = ki.GetAttributes<int64_t>("kernel_shape");
    Require(kernel_.size() == 2 && kernel_[0] >= 1 && kernel_[1] >= 1, "SpikeMaxPool needs kernel_shape [kh, kw]");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue bits = context.GetInput(0);
      std::vector<int64_t> in = bits.GetTensorTypeAndShapeInfo().GetShape();
      Require(in.size() == 4, "SpikeMaxPool: bits must be [rows, H, W, words]");
      const int64_t rows = in[0], height = in[1], width = in[2], words = in[3];
      const int64_t kh = kernel_[0], kw = kernel_[1], out_h = height / kh, out_w = width / kw;
      const uint64_t* source = bits.GetTensorData<uint64_t>();
      uint64_t* output = context.GetOutput(0, std::vector<int64_t>{rows, out_h, out_w, words}).GetTensorMutableData<uint64_t>();
      ParallelPartials(context, static_cast<size_t>(rows), 0, [&](size_t row, int64_t*) {
        const uint64_t* map = source + static_cast<int64_t>(row) * height * width * words;
        uint64_t* pooled = output + static_cast<int64_t>(row) * out_h * out_w * words;
        for (int64_t py = 0; py < out_h; ++py) {
          for (int64_t px = 0; px < out_w; ++px) {
            uint64_t* out = pooled + (py * out_w + px) * words;
            for (int64_t w = 0; w < words; ++w) {
              uint64_t any = 0;
              for (int64_t ky = 0; ky < kh; ++ky) {
                for (int64_t kx = 0; kx < kw; ++kx) {
                  any |= map[((py * kh + ky) * width + px * kw + kx) * words + w];
                }
              }
              out[w] = any;
            }
          }
        }
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  std::vector<int64_t> kernel_;
};

struct SpikeMaxPoolOp : Ort::CustomOpBase<SpikeMaxPoolOp, SpikeMaxPoolKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<SpikeMaxPoolKernel>(info, kernel); }
  const char* GetName() const { return "SpikeMaxPool"; }
  size_t GetInputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64; }
};

}  // namespace

void AddBitOps(Ort::CustomOpDomain& domain) {
  static const IfPackOp if_pack;
  static const SpikeConvIfOp spike_conv_if;
  static const UnpackOp<SpikeDecode> spike_unpack;
  static const FanOutOp<SpikeFanOutCount> spike_fan_out;
  static const SpikeMaxPoolOp spike_max_pool;
  domain.Add(&if_pack);
  domain.Add(&spike_conv_if);
  domain.Add(&spike_unpack);
  domain.Add(&spike_fan_out);
  domain.Add(&spike_max_pool);
}

}  // namespace spiking
