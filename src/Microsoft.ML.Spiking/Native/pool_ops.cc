// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// ONNX Runtime binding of the max-pool neuron kernel (neuron_kernels.h), in the domain of custom_ops.cc:
//
//   MaxPoolScan(x, bias?, step_offset, v?, r_in?, r_out?) -> (out, v_out?, r_in_out?, r_out_out?)
//     attributes: steps (K), varying (x is [K·B, C, H, W] rather than [B, C, H, W]), kernel_shape [kh, kw] (= strides),
//     portable? (the baseline build even where the CPU has AVX-512). bias [C, H, W]; v, r_in [B, C, H, W]; r_out and
//     out per step [B, C, H / kh, W / kw] (floor); out [K·B, C, H / kh, W / kw]. Absent states are the initial state
//     (v = r_out = 0, r_in = bias or 0: a chunk that starts the run); absent state outputs are not written (nothing
//     reads the chunk's final state).

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
      const std::vector<int64_t> state = StatesOfInput(x, steps_, varying_, 4, "C, H, W", "MaxPoolScan");
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
      const int64_t size = a.channels * a.height * a.width;
      const std::vector<int64_t> pooled{a.batch, a.channels, a.out_h, a.out_w};
      Ort::ConstValue bias = context.GetInput(kBias);
      if (bias != nullptr) {
        Require(static_cast<int64_t>(bias.GetTensorTypeAndShapeInfo().GetElementCount()) == size, "MaxPoolScan: bias needs one value per element of a sample");
        a.bias = bias.GetTensorData<float>();
      }
      const StepFactors steps = ReadSteps(context.GetInput(kStepOffset), steps_);
      a.inverse = steps.inverse.data();
      a.first = steps.first.data();
      a.input = x.GetTensorData<float>();
      // Absent states start from the initial state (v = r_out = 0, r_in = bias); absent outputs are not written.
      a.v_in = OptionalState(context, kV, state, "MaxPoolScan: v");
      a.r_in_in = OptionalState(context, kRIn, state, "MaxPoolScan: r_in");
      a.r_out_in = OptionalState(context, kROut, pooled, "MaxPoolScan: r_out");
      a.output = context.GetOutput(kOut, std::vector<int64_t>{steps_ * a.batch, a.channels, a.out_h, a.out_w}).GetTensorMutableData<float>();
      a.v_out = OptionalStateOutput(context, kVOut, state);
      a.r_in_out = OptionalStateOutput(context, kRInOut, state);
      a.r_out_out = OptionalStateOutput(context, kROutOut, pooled);
      const bool portable = portable_;
      const bool scratch = a.v_out == nullptr || a.r_in_out == nullptr || a.r_out_out == nullptr;
      const size_t scratch_size = scratch ? static_cast<size_t>(2 * a.height * a.width + a.out_h * a.out_w) : 0;
      ParallelPartials(context, static_cast<size_t>(a.batch * a.channels), 0, [&](size_t index, int64_t*) {
        std::vector<float> work(scratch_size);
        PoolNeuronPlane(a, static_cast<int64_t>(index) / a.channels, static_cast<int64_t>(index) % a.channels, work.data(), portable);
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
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == kBias || index >= kV ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return kPoolOutputs; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t index) const { return index == kOut ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL; }
};

}  // namespace

void AddPoolOps(Ort::CustomOpDomain& domain) {
  static const MaxPoolScanOp max_pool_scan;
  domain.Add(&max_pool_scan);
}

}  // namespace spiking
