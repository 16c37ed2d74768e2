// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The counts of a parallel neuron's spike trains from its spike counts N alone (algorithms.md §3.2: step t fires iff
// N ≥ t, or N ≥ T − t + 1 for spikes in the last steps), instead of building T comparison planes and reducing each:
//   TrainCounts(counts [B, C, spatial...], fan_h? [H], fan_w? [W]) -> [T·B, C]: per step and channel, Σ f_h·f_w over the
//     elements that fire (1 each without fan-outs); attributes steps (T), last (0: first steps, 1: last steps).
// One pass per sample and channel: a histogram of N weighted by the fan-out, then its sums from each level up. The
// weights are small integers, so the sums are exact in any order (as the plane products they replace).

#include <algorithm>
#include <string>
#include <vector>

#include "ort_support.h"

namespace spiking {
namespace {

struct TrainCountsKernel {
  TrainCountsKernel(const OrtKernelInfo* info) {
    Ort::ConstKernelInfo ki(info);
    steps_ = ki.GetAttribute<int64_t>("steps");
    last_ = ki.GetAttribute<int64_t>("last") != 0;
    Require(steps_ >= 1, "TrainCounts needs steps >= 1");
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* raw) {
    try {
      Ort::KernelContext context(raw);
      Ort::ConstValue counts = context.GetInput(0);
      std::vector<int64_t> shape = counts.GetTensorTypeAndShapeInfo().GetShape();
      Require(shape.size() >= 2 && shape[1] >= 1, "TrainCounts: counts must be [B, C, spatial...]");
      const int64_t batch = shape[0];
      const int64_t channels = shape[1];
      const int64_t spatial = SampleSize(shape) / channels;
      Ort::ConstValue fan_h = context.GetInput(1);
      Ort::ConstValue fan_w = context.GetInput(2);
      std::vector<float> weights;
      if (fan_h != nullptr || fan_w != nullptr) {
        Require(fan_h != nullptr && fan_w != nullptr && shape.size() == 4, "TrainCounts: fan_h and fan_w go together, with counts [B, C, H, W]");
        const int64_t height = shape[2];
        const int64_t width = shape[3];
        Require(static_cast<int64_t>(fan_h.GetTensorTypeAndShapeInfo().GetElementCount()) == height &&
                    static_cast<int64_t>(fan_w.GetTensorTypeAndShapeInfo().GetElementCount()) == width,
                "TrainCounts: fan_h must hold one value per row and fan_w one per column");
        const float* fh = fan_h.GetTensorData<float>();
        const float* fw = fan_w.GetTensorData<float>();
        weights.resize(static_cast<size_t>(height * width));
        for (int64_t h = 0; h < height; ++h) {
          for (int64_t w = 0; w < width; ++w) {
            weights[static_cast<size_t>(h * width + w)] = fh[h] * fw[w];
          }
        }
      }
      const float* n = counts.GetTensorData<float>();
      float* out = context.GetOutput(0, std::vector<int64_t>{steps_ * batch, channels}).GetTensorMutableData<float>();
      const int64_t steps = steps_;
      const bool last = last_;
      const float* weight = weights.empty() ? nullptr : weights.data();
      // Per sample; the partial holds 1 + the first element (of the sample) whose count is no integer in [0, T].
      std::vector<int64_t> bad = ParallelPartials(context, static_cast<size_t>(batch), 1, [&](size_t sample, int64_t* first_bad) {
        // Eight histograms, element s into histogram s mod 8: most counts are 0, and one histogram would chain every
        // addition on the one before through memory.
        constexpr int kCopies = 8;
        const int64_t levels = steps + 1;
        std::vector<double> histograms(static_cast<size_t>(kCopies * levels));
        std::vector<double> above(static_cast<size_t>(levels + 1));
        const int64_t b = static_cast<int64_t>(sample);
        for (int64_t c = 0; c < channels; ++c) {
          std::fill(histograms.begin(), histograms.end(), 0.0);
          const float* values = n + (b * channels + c) * spatial;
          for (int64_t s = 0; s < spatial; ++s) {
            const float v = values[s];
            // In range before the conversion (a NaN or infinite float has no integer value).
            const int64_t k = v >= 0.0f && v <= static_cast<float>(steps) ? static_cast<int64_t>(v) : -1;
            if (k < 0 || static_cast<float>(k) != v) {
              if (*first_bad == 0) {
                *first_bad = c * spatial + s + 1;
              }
              continue;
            }
            histograms[static_cast<size_t>((s % kCopies) * levels + k)] += weight != nullptr ? static_cast<double>(weight[s]) : 1.0;
          }
          // Sums from each level up: above[k] = Σ_{j ≥ k} over the copies.
          above[static_cast<size_t>(levels)] = 0.0;
          for (int64_t k = steps; k >= 0; --k) {
            double level = 0.0;
            for (int copy = 0; copy < kCopies; ++copy) {
              level += histograms[static_cast<size_t>(copy * levels + k)];
            }
            above[static_cast<size_t>(k)] = above[static_cast<size_t>(k + 1)] + level;
          }
          for (int64_t t = 1; t <= steps; ++t) {
            const int64_t needed = last ? steps - t + 1 : t;
            out[((t - 1) * batch + b) * channels + c] = static_cast<float>(above[static_cast<size_t>(needed)]);
          }
        }
      });
      for (size_t sample = 0; sample < bad.size(); ++sample) {
        if (bad[sample] != 0) {
          const int64_t element = bad[sample] - 1;
          const float value = n[static_cast<int64_t>(sample) * channels * spatial + element];
          Require(false, "TrainCounts: sample " + std::to_string(sample) + ", channel " + std::to_string(element / spatial) + ", element " +
                             std::to_string(element % spatial) + ": the spike count is " + std::to_string(value) + ", not an integer in [0, " +
                             std::to_string(steps) + "] (a NaN or infinite input or weight gives NaN)");
        }
      }
      return nullptr;
    } catch (const std::exception& e) {
      return ToStatus(e);
    }
  }

 private:
  int64_t steps_;
  bool last_;
};

struct TrainCountsOp : Ort::CustomOpBase<TrainCountsOp, TrainCountsKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const { return NewKernel<TrainCountsKernel>(info, kernel); }
  const char* GetName() const { return "TrainCounts"; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const { return index == 0 ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

void AddTrainOps(Ort::CustomOpDomain& domain) {
  static const TrainCountsOp train_counts;
  domain.Add(&train_counts);
}

}  // namespace spiking
