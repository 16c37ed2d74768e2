// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The ONNX Runtime operators that read packed spikes the same way whether they are bits (bit_ops.cc) or codes
// (code_ops.cc); a traits class names the operator and its tensor, gives the channels per word and does one row:
//   UnpackOp<Decode>: (packed [rows, spatial..., words], theta [C]) -> floats [rows, C, spatial...] (attribute channels;
//     Decode may read attributes of its own).
//   FanOutOp<Count>: (packed [rows, H, W, words], fan_h [H], fan_w [W]) -> [rows, C], Σ_hw f_h·f_w over each channel's
//     spikes (attribute channels).

#pragma once

#include <string>
#include <vector>

#include "ort_support.h"

namespace spiking {
namespace {

template <class Decode>
struct UnpackKernel {
  UnpackKernel(const OrtKernelInfo* info) : decode_(Ort::ConstKernelInfo(info)) {
    channels_ = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("channels");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue packed = context.GetInput(0);
      std::vector<int64_t> in = packed.GetTensorTypeAndShapeInfo().GetShape();
      const int64_t words = (channels_ + Decode::kChannelsPerWord - 1) / Decode::kChannelsPerWord;
      Require(in.size() >= 2 && in.back() == words, std::string(Decode::kName) + ": " + Decode::kTensor + " must be [rows, spatial..., words] for its channels");
      Ort::ConstValue theta = context.GetInput(1);
      Require(static_cast<int64_t>(theta.GetTensorTypeAndShapeInfo().GetElementCount()) == channels_, std::string(Decode::kName) + ": theta needs one value per channel");
      std::vector<int64_t> out{in[0], channels_};
      out.insert(out.end(), in.begin() + 1, in.end() - 1);
      const int64_t spatial = SampleSize(out) / channels_;
      const uint64_t* data = packed.GetTensorData<uint64_t>();
      const float* values = theta.GetTensorData<float>();
      float* output = context.GetOutput(0, out).GetTensorMutableData<float>();
      const int64_t channels = channels_;
      ParallelPartials(context, static_cast<size_t>(in[0]), 0, [&](size_t row, int64_t*) {
        decode_.Row(data, values, channels, spatial, words, static_cast<int64_t>(row), output);
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  Decode decode_;
  int64_t channels_;
};

template <class Decode>
struct UnpackOp : Ort::CustomOpBase<UnpackOp<Decode>, UnpackKernel<Decode>, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<UnpackKernel<Decode>>(info, kernel); }
  const char* GetName() const { return Decode::kName; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

template <class Count>
struct FanOutKernel {
  FanOutKernel(const OrtKernelInfo* info) { channels_ = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("channels"); }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue packed = context.GetInput(0);
      std::vector<int64_t> in = packed.GetTensorTypeAndShapeInfo().GetShape();
      const int64_t words = (channels_ + Count::kChannelsPerWord - 1) / Count::kChannelsPerWord;
      Require(in.size() == 4 && in[3] == words, std::string(Count::kName) + ": " + Count::kTensor + " must be [rows, H, W, words] for its channels");
      Ort::ConstValue fan_h = context.GetInput(1);
      Ort::ConstValue fan_w = context.GetInput(2);
      Require(static_cast<int64_t>(fan_h.GetTensorTypeAndShapeInfo().GetElementCount()) == in[1] &&
              static_cast<int64_t>(fan_w.GetTensorTypeAndShapeInfo().GetElementCount()) == in[2], std::string(Count::kName) + ": one fan-out per row and per column");
      const uint64_t* data = packed.GetTensorData<uint64_t>();
      const float* fh = fan_h.GetTensorData<float>();
      const float* fw = fan_w.GetTensorData<float>();
      float* output = context.GetOutput(0, std::vector<int64_t>{in[0], channels_}).GetTensorMutableData<float>();
      const int64_t channels = channels_;
      ParallelPartials(context, static_cast<size_t>(in[0]), 0, [&](size_t row, int64_t*) {
        Count::Row(data, fh, fw, channels, in[1], in[2], in[3], static_cast<int64_t>(row), output);
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t channels_;
};

template <class Count>
struct FanOutOp : Ort::CustomOpBase<FanOutOp<Count>, FanOutKernel<Count>, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<FanOutKernel<Count>>(info, kernel); }
  const char* GetName() const { return Count::kName; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace
}  // namespace spiking
