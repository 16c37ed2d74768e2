// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// Fused neuron kernels: the math of the simulator's IF and multi-threshold neurons over the K steps of a chunk,
// without ONNX Runtime types (custom_ops.cc binds them to ONNX Runtime). Each kernel performs, per element and
// step, the same float operations in the same order as the standard-op lowering in NeuronEmitters.cs, so the
// results are bit-identical. Build with -ffp-contract=off and without -ffast-math: a fused multiply-add or a
// reassociated sum would round differently.

#pragma once

#include <cstdint>
#include <vector>

namespace spiking {

// Layout shared by the kernels. Time-varying values are [K·B, N] step-major (row t·B + b); a constant input is
// [B, N] and seen at every step; state is [B, N]. theta holds N values (already broadcast to one sample).
struct ScanLayout {
  int64_t steps = 1;     // K
  int64_t batch = 1;     // B
  int64_t size = 1;      // N, values per sample
  bool varying = true;   // input is [K·B, N] (else [B, N])
};

// One work item: sample b, elements [begin, end) of it. Items never share a (step, sample) count.
struct WorkItem {
  int64_t sample;
  int64_t begin;
  int64_t end;
};

// Splits B samples of N values into items of at most `grain` values each.
std::vector<WorkItem> SplitWork(int64_t batch, int64_t size, int64_t grain);

// Integrate-and-fire neuron (NeuronEmitters.IfNeuron): m = v + x[t]; fire = m ≥ θ; out = fire ? θ : 0;
// v = m − out (reset by subtraction) or fire ? 0 : m (reset to zero). counts[t] (one per step, for the item's
// sample) receives the number of non-zero outputs.
struct IfArgs {
  ScanLayout layout;
  bool reset_to_zero = false;
  const float* input = nullptr;
  const float* theta = nullptr;
  const float* membrane_in = nullptr;
  float* output = nullptr;
  float* membrane_out = nullptr;
};

void IfScan(const IfArgs& args, const WorkItem& item, int64_t* counts);

// Multi-threshold neuron (NeuronEmitters.MultiThresholdNeuron). value[k] = θ·scale[k] and positive[k] = θ·fraction[k]
// (the products the standard lowering forms, with the same float factors). Differential form: d[t] = x[t] − bias (or
// (x − bias)·first[t] for a constant input presented once); m += d; m += c; C += r_out; s = rule(m, C); m −= s;
// C += s; c += (d − s)·inverse[t]; r_out += s·inverse[t]. Rate form: m += x[t]; s = rule(m, C); m −= s; C += s.
struct MtArgs {
  ScanLayout layout;
  int levels = 1;
  bool gated = false;
  bool differential = false;
  const float* scale = nullptr;      // [levels]
  const float* fraction = nullptr;   // [levels]: firing fraction × scale
  const float* inverse = nullptr;    // [K]: 1/t (differential)
  const float* first = nullptr;      // [K]: 1 at step 1 of the simulation, else 0 (differential)
  const float* input = nullptr;
  const float* theta = nullptr;
  const float* bias = nullptr;       // [N] or null
  const float* m_in = nullptr;
  const float* c_in = nullptr;       // differential
  const float* cumulative_in = nullptr;  // gated
  const float* r_out_in = nullptr;   // differential and gated
  float* output = nullptr;
  float* m_out = nullptr;
  float* c_out = nullptr;
  float* cumulative_out = nullptr;
  float* r_out_out = nullptr;
};

// portable: the baseline build even where the CPU has AVX-512 (the tests compare the two builds).
void MtScan(const MtArgs& args, const WorkItem& item, int64_t* counts, bool portable = false);
void MtScanAvx512(const MtArgs& args, const WorkItem& item, int64_t* counts);

// Where MtScanCodes writes: codes [K·B, spatial, words] of a [B, C, spatial] neuron (SpikeEncode's layout: channel c in
// nibble c mod 16 of word c / 16 of its pixel).
struct CodeLayout {
  int64_t spatial = 1;
  int64_t words = 1;
  uint64_t* output = nullptr;
};

// MtScan whose spikes go out as codes (args.output unused), the codes SpikeEncode would give its float spikes. The item
// must span its whole sample: it clears the sample's code rows and ORs every channel into them.
void MtScanCodes(const MtArgs& args, const CodeLayout& codes, const WorkItem& item, int64_t* counts, bool portable = false);
void MtScanCodesAvx512(const MtArgs& args, const CodeLayout& codes, const WorkItem& item, int64_t* counts);

// Max-pool neuron (NeuronEmitters.MaxPoolNeuron; kernel = stride, no padding, floor mode): per step d = x[t] − bias
// (or (x − bias)·first[t] for an input presented once); v = (v + d) + r_in; r_in += d·inverse[t]; O = maxpool(v);
// v −= O over each window; s = O − r_out; r_out += s·inverse[t]; out = s. Maps [rows, C, H, W] in, [K·B, C, out_h,
// out_w] out; states v, r_in [B, C, H, W] and r_out [B, C, out_h, out_w]. The rows and columns past the last whole
// window belong to none: they integrate only.
struct PoolNeuronArgs {
  int64_t steps = 1;
  int64_t batch = 1;
  int64_t channels = 1;
  int64_t height = 1;
  int64_t width = 1;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t out_h = 1;
  int64_t out_w = 1;
  bool varying = true;
  const float* input = nullptr;
  const float* bias = nullptr;      // [C, H, W] or null
  const float* inverse = nullptr;   // [K]: 1/t
  const float* first = nullptr;     // [K]: 1 at step 1 of the simulation, else 0
  const float* v_in = nullptr;
  const float* r_in_in = nullptr;
  const float* r_out_in = nullptr;
  float* output = nullptr;
  float* v_out = nullptr;
  float* r_in_out = nullptr;
  float* r_out_out = nullptr;
};

// The K steps of one channel of one sample (its state copied to the state outputs and updated there). Absent state
// inputs are the initial state (v = r_out = 0, r_in = bias or 0); where a state output is absent the plane is worked on
// in `scratch` (2·H·W + out_h·out_w floats; may be null when every state output is present).
void PoolNeuronPlane(const PoolNeuronArgs& args, int64_t sample, int64_t channel, float* scratch, bool portable = false);
void PoolNeuronPlaneAvx512(const PoolNeuronArgs& args, int64_t sample, int64_t channel, float* scratch);

// Each level's spike value and rising threshold for n elements of θ, level k's row `stride` floats after level 0's:
// value = θ (level 0; the standard lowering multiplies only for k > 0) or θ·scale[k], positive = θ·fraction[k]. The
// products the standard lowering forms, shared by MtScan and SpikeConvMt so that their neurons compare alike.
inline void FormLevels(const float* theta, int64_t n, const float* scale, const float* fraction, int levels, int64_t stride, float* value, float* positive) {
  for (int k = 0; k < levels; ++k) {
    for (int64_t i = 0; i < n; ++i) {
      value[k * stride + i] = k == 0 ? theta[i] : theta[i] * scale[k];
      positive[k * stride + i] = theta[i] * fraction[k];
    }
  }
}

}  // namespace spiking
