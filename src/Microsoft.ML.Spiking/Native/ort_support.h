// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// What the custom-op bindings (custom_ops.cc, bit_ops.cc, code_ops.cc) share: sample sizes, θ broadcasting, argument
// checks, optional attributes, convolution geometry, errors as statuses, kernel creation and the work loop over ONNX
// Runtime's intra-op threads.

#pragma once

#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "conv_geometry.h"

namespace spiking {

// Values per sample: the product of every dim after the first.
inline int64_t SampleSize(const std::vector<int64_t>& shape) {
  int64_t size = 1;
  for (size_t d = 1; d < shape.size(); ++d) {
    size *= shape[d];
  }
  return size;
}

// θ (1, C or N values) broadcast to the N values of one sample, as ChunkContext.Broadcastable lays it out.
inline std::vector<float> ExpandTheta(const Ort::ConstValue& theta, int64_t size) {
  const int64_t count = static_cast<int64_t>(theta.GetTensorTypeAndShapeInfo().GetElementCount());
  const float* values = theta.GetTensorData<float>();
  std::vector<float> expanded(static_cast<size_t>(size));
  if (count == size) {
    std::memcpy(expanded.data(), values, static_cast<size_t>(size) * sizeof(float));
  } else if (count == 1) {
    std::fill(expanded.begin(), expanded.end(), values[0]);
  } else if (count > 0 && size % count == 0) {
    const int64_t per_channel = size / count;
    for (int64_t i = 0; i < size; ++i) {
      expanded[static_cast<size_t>(i)] = values[i / per_channel];
    }
  } else {
    throw Ort::Exception("theta has " + std::to_string(count) + " values for samples of " + std::to_string(size), ORT_INVALID_ARGUMENT);
  }
  return expanded;
}

// Throws an invalid-argument error with the message unless the condition holds.
inline void Require(bool condition, const std::string& message) {
  if (!condition) {
    throw Ort::Exception(std::string(message), ORT_INVALID_ARGUMENT);
  }
}

// An optional ints attribute: its values, or none when the node does not have it.
inline std::vector<int64_t> OptionalInts(const Ort::ConstKernelInfo& ki, const char* name) {
  try {
    return ki.GetAttributes<int64_t>(name);
  } catch (const Ort::Exception&) {
    return {};
  }
}

// An optional int attribute: its value, or fallback when the node does not have it.
inline int64_t OptionalInt(const Ort::ConstKernelInfo& ki, const char* name, int64_t fallback) {
  try {
    return ki.GetAttribute<int64_t>(name);
  } catch (const Ort::Exception&) {
    return fallback;
  }
}

// A fused convolution's source: the map of its packed spikes from their shape [K·B, H, W, words] and the kernel from the
// node's geometry attribute [kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left] (checked by the caller).
inline void SetGeometry(ConvGeometry& g, const std::vector<int64_t>& shape, const std::vector<int64_t>& attribute) {
  g.height = shape[1];
  g.width = shape[2];
  g.words = shape[3];
  g.kernel_h = attribute[0];
  g.kernel_w = attribute[1];
  g.stride_h = attribute[2];
  g.stride_w = attribute[3];
  g.pad_top = attribute[4];
  g.pad_left = attribute[5];
}

inline OrtStatusPtr ToStatus(const std::exception& e) {
  const Ort::Exception* ort = dynamic_cast<const Ort::Exception*>(&e);
  return Ort::GetApi().CreateStatus(ort != nullptr ? ort->GetOrtErrorCode() : ORT_FAIL, e.what());
}

// Creates an operator's kernel, turning a bad attribute into a status.
template <typename Kernel>
OrtStatusPtr NewKernel(const OrtKernelInfo* info, void** kernel) {
  try {
    *kernel = new Kernel(info);
    return nullptr;
  } catch (const std::exception& e) {
    return ToStatus(e);
  }
}

// Runs body(index, partial) for index in [0, items) on ONNX Runtime's intra-op threads, each item with its own
// `width` partial counts, and returns them [items, width] for the caller to add up (integers: any order).
template <typename Body>
std::vector<int64_t> ParallelPartials(const Ort::KernelContext& context, size_t items, size_t width, const Body& body) {
  std::vector<int64_t> partial(items * width, 0);
  struct Job {
    int64_t* partial;
    size_t width;
    const Body* body;
  } job{partial.data(), width, &body};
  auto run = [](void* data, size_t index) {
    Job* j = static_cast<Job*>(data);
    (*j->body)(index, j->partial + index * j->width);
  };
  context.ParallelFor(run, items, 0, &job);
  return partial;
}

// counts[t·B + b] = Σ over items of sample b of partial[item][t], as float (the graphs' spike-count outputs).
inline void SumPerSample(const std::vector<int64_t>& partial, const std::vector<int64_t>& item_samples, int64_t steps, int64_t batch, float* counts) {
  std::vector<int64_t> totals(static_cast<size_t>(steps * batch), 0);
  for (size_t i = 0; i < item_samples.size(); ++i) {
    for (int64_t t = 0; t < steps; ++t) {
      totals[static_cast<size_t>(t * batch + item_samples[i])] += partial[i * static_cast<size_t>(steps) + static_cast<size_t>(t)];
    }
  }
  for (size_t r = 0; r < totals.size(); ++r) {
    counts[r] = static_cast<float>(totals[r]);
  }
}

// The states [B, sample dims of x] of a neuron run over a chunk whose input x is [K·B, ...] (varying) or [B, ...], read
// from x since the states themselves may be absent (a chunk that starts the run). rank: x's rank, or 0 for any; dims
// names x's sample dims in errors.
inline std::vector<int64_t> StatesOfInput(const Ort::ConstValue& x, int64_t steps, bool varying, size_t rank, const std::string& dims, const std::string& op) {
  std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
  const int64_t rows = varying ? steps : 1;
  Require(!shape.empty() && (rank == 0 || shape.size() == rank) && shape[0] % rows == 0,
          op + ": x must be [" + (varying ? "K·B" : "B") + ", " + dims + "]");
  shape[0] /= rows;
  return shape;
}

// A state input that a chunk may leave out (the chunk then starts from the state's initial value, which the kernel
// forms itself): its data, checked against the state's shape, or null where the node has no such input.
inline const float* OptionalState(const Ort::KernelContext& context, size_t index, const std::vector<int64_t>& shape, const std::string& what) {
  Ort::ConstValue value = context.GetInput(index);
  if (value == nullptr) {
    return nullptr;
  }
  Require(value.GetTensorTypeAndShapeInfo().GetShape() == shape, what + " does not have the state's shape");
  return value.GetTensorData<float>();
}

// A state output that a chunk may leave out (nothing reads the final state): where to write it, or null where the node
// has no such output.
inline float* OptionalStateOutput(Ort::KernelContext& context, size_t index, const std::vector<int64_t>& shape) {
  if (index >= context.GetOutputCount()) {
    return nullptr;
  }
  Ort::UnownedValue value = context.GetOutput(index, shape);
  return value == nullptr ? nullptr : value.GetTensorMutableData<float>();
}

// The steps of a chunk from its step_offset input, as ChunkContext forms them: t = step_offset + k + 1 (Add), 1/t
// (Reciprocal) and [t = 1] (Equal: the step an input presented once arrives at).
struct StepFactors {
  std::vector<float> inverse;
  std::vector<float> first;
};

inline StepFactors ReadSteps(const Ort::ConstValue& step_offset, int64_t steps) {
  const float offset = step_offset.GetTensorData<float>()[0];
  StepFactors f{std::vector<float>(static_cast<size_t>(steps)), std::vector<float>(static_cast<size_t>(steps))};
  for (int64_t k = 0; k < steps; ++k) {
    const float step = offset + static_cast<float>(k + 1);
    f.inverse[static_cast<size_t>(k)] = 1.0f / step;
    f.first[static_cast<size_t>(k)] = step == 1.0f ? 1.0f : 0.0f;
  }
  return f;
}

// CountPerSample with `groups` counts per step: the body's partial holds group g's count of step t at g·K + t, and
// totals[g][t·B + b] receives them.
template <typename Body>
void CountGroupsPerSample(const Ort::KernelContext& context, int64_t batch, int64_t parts, int64_t steps, const std::vector<float*>& totals, const Body& body) {
  const size_t items = static_cast<size_t>(batch * parts);
  const size_t width = static_cast<size_t>(steps) * totals.size();
  std::vector<int64_t> samples(items);
  for (size_t i = 0; i < items; ++i) {
    samples[i] = static_cast<int64_t>(i) / parts;
  }
  std::vector<int64_t> partial = ParallelPartials(context, items, width, [&](size_t index, int64_t* c) {
    body(samples[index], static_cast<int64_t>(index) % parts, c);
  });
  if (totals.size() == 1) {
    SumPerSample(partial, samples, steps, batch, totals[0]);  // one group: the partials are its own
    return;
  }
  std::vector<int64_t> group(items * static_cast<size_t>(steps));
  for (size_t g = 0; g < totals.size(); ++g) {
    for (size_t i = 0; i < items; ++i) {
      std::copy_n(partial.begin() + static_cast<std::ptrdiff_t>(i * width + g * static_cast<size_t>(steps)), steps, group.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(steps)));
    }
    SumPerSample(group, samples, steps, batch, totals[g]);
  }
}

// Runs body(sample, part, partial) for every sample of the batch and part in [0, parts) on ONNX Runtime's intra-op
// threads, then writes each sample's spike counts per step to counts[t·B + b] (SumPerSample).
template <typename Body>
void CountPerSample(const Ort::KernelContext& context, int64_t batch, int64_t parts, int64_t steps, float* counts, const Body& body) {
  CountGroupsPerSample(context, batch, parts, steps, std::vector<float*>{counts}, body);
}

// Adds the bit-packed spike operators (bit_ops.cc) to the domain.
void AddBitOps(Ort::CustomOpDomain& domain);

// Adds the spike-code operators (code_ops.cc) to the domain.
void AddCodeOps(Ort::CustomOpDomain& domain);

// Adds the spike-train counting operator (train_ops.cc) to the domain.
void AddTrainOps(Ort::CustomOpDomain& domain);

// Adds the max-pool neuron operator (pool_ops.cc) to the domain.
void AddPoolOps(Ort::CustomOpDomain& domain);

}  // namespace spiking
