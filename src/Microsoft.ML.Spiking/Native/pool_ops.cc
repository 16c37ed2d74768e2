// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// ONNX Runtime binding of the max-pool neuron kernel (neuron_kernels.h), in the domain of custom_ops.cc:
//
//   MaxPoolScan(x, bias?, step_offset, v, r_in, r_out) -> (out, v_out, r_in_out, r_out_out)
//     attributes: steps (K), varying (x is [K·B, C, H, W] rather than [B, C, H, W]), kernel_shape [kh, kw] (= strides),
//     portable? (the baseline build even where the CPU has AVX-512). bias [C, H, W]; v, r_in [B, C, H, W]; r_out and
//     out per step [B, C, H / kh, W / kw] (floor); out [K·B, C, H / kh, W / kw].

#include <string>
#include <vector>

#include "neuron_kernels.h"
#include "ort_support.h"

namespace spiking {

namespace {

enum PoolInput : size_t { kX, kBias, kStepOffset, kV, kRIn, kROut, kPoolInputs };
enum PoolOutput : size_t { kOut, kVOut, kRInOut, kROutOut, kPoolOutputs };

struct MaxPoolScanKernel {
  MaxPoolScanKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    steps_ = ki.GetAttribute<int64_t>("steps");
    varying_ = ki.GetAttribute<int64_t>("varying") != 0;
    kernel_ = ki.GetAttributes<int64_t>("kernel_shape");
    portable_ = OptionalInt(ki, "portable", 0) != 0;
    Require(steps_ >= 1 && kernel_.size() == 2 && kernel_[0] >= 1 && kernel_[1] >= 1, "MaxPoolScan needs steps and kernel_shape [kh, kw]");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue x = context.GetInput(kX);
      Ort::ConstValue v = context.GetInput(kV);
      std::vector<int64_t> state = v.GetTensorTypeAndShapeInfo().GetShape();
      std::vector<int64_t> in = x.GetTensorTypeAndShapeInfo().GetShape();
      Require(state.size() == 4 && in.size() == 4, "MaxPoolScan: x and v must be [rows, C, H, W]");
      PoolNeuronArgs a;
      a.steps = steps_;
      a.batch = state[0];
      a.channels = state[1];
      a.height = state[2];
      a.width = state[3];
      a.kernel_h = kernel_[0];
      a.kernel_w = kernel_[1];
      a.out_h = a.height / a.kernel_h;
      a.out_w = a.width / a.kernel_w;
      a.varying = varying_;
      Require(in[0] == (varying_ ? steps_ * a.batch : a.batch) && in[1] == a.channels && in[2] == a.height && in[3] == a.width,
              "MaxPoolScan: x must be [" + std::string(varying_ ? "K·B" : "B") + ", C, H, W] like v [B, C, H, W]");
      const int64_t size = a.channels * a.height * a.width;
      std::vector<int64_t> pooled{a.batch, a.channels, a.out_h, a.out_w};
      Ort::ConstValue r_in = context.GetInput(kRIn);
      Ort::ConstValue r_out = context.GetInput(kROut);
      Require(static_cast<int64_t>(r_in.GetTensorTypeAndShapeInfo().GetElementCount()) == a.batch * size &&
                  r_out.GetTensorTypeAndShapeInfo().GetShape() == pooled,
              "MaxPoolScan: r_in must be shaped like v and r_out like its pooled map");
      Ort::ConstValue bias = context.GetInput(kBias);
      if (bias != nullptr) {
        Require(static_cast<int64_t>(bias.GetTensorTypeAndShapeInfo().GetElementCount()) == size, "MaxPoolScan: bias needs one value per element of a sample");
        a.bias = bias.GetTensorData<float>();
      }
      const StepFactors steps = ReadSteps(context.GetInput(kStepOffset), steps_);
      a.inverse = steps.inverse.data();
      a.first = steps.first.data();
      a.input = x.GetTensorData<float>();
      a.v_in = v.GetTensorData<float>();
      a.r_in_in = r_in.GetTensorData<float>();
      a.r_out_in = r_out.GetTensorData<float>();
      a.output = context.GetOutput(kOut, std::vector<int64_t>{steps_ * a.batch, a.channels, a.out_h, a.out_w}).GetTensorMutableData<float>();
      a.v_out = context.GetOutput(kVOut, state).GetTensorMutableData<float>();
      a.r_in_out = context.GetOutput(kRInOut, state).GetTensorMutableData<float>();
      a.r_out_out = context.GetOutput(kROutOut, pooled).GetTensorMutableData<float>();
      const bool portable = portable_;
      ParallelPartials(context, static_cast<size_t>(a.batch * a.channels), 0, [&](size_t index, int64_t*) {
        PoolNeuronPlane(a, static_cast<int64_t>(index) / a.channels, static_cast<int64_t>(index) % a.channels, portable);
      });
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t steps_;
  bool varying_;
  bool portable_;
  std::vector<int64_t> kernel_;
};

struct MaxPoolScanOp : Ort::CustomOpBase<MaxPoolScanOp, MaxPoolScanKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<MaxPoolScanKernel>(info, kernel); }
  const char* GetName() const { return "MaxPoolScan"; }
  size_t GetInputTypeCount() const { return kPoolInputs; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const { return index == kBias ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED; }
  size_t GetOutputTypeCount() const { return kPoolOutputs; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

void AddPoolOps(Ort::CustomOpDomain& domain) {
  static const MaxPoolScanOp max_pool_scan;
  domain.Add(&max_pool_scan);
}

}  // namespace spiking
