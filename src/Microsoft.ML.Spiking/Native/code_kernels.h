// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// Spike-code kernels for differential-coding networks of multi-threshold neurons (BitPackedPlan.cs, BitPackedEmitters.cs build the
// graphs). A multi-threshold neuron emits 0 or ±θ·2^−k (k < levels ≤ 7) per element and step, so its spikes pass
// between layers as 4-bit codes: [K·B, H, W, words] uint64 with 16 channels per word (channel c in bits
// 4·(c % 16) … of word c / 16); code 0 is no spike, 1 + k is +θ·2^−k, 9 + k is −θ·2^−k. A convolution of codes
// visits only the non-zero codes and adds the input channel's weight row (θ of the source folded in) times ±2^−k;
// it is fused with the multi-threshold neuron it drives (the operations of MtScan, per element and step).

#pragma once

#include <cstdint>

#include "bit_kernels.h"

namespace spiking {

// Most threshold levels a code holds.
constexpr int kMaxCodeLevels = 7;

// One convolution whose input is spike codes.
struct CodeSource : ConvGeometry {
  const uint64_t* codes = nullptr;  // [K·B, height, width, words]
  // Unscaled: [kernel_h·kernel_w][channels][padded out channels], W·θ_in. Scaled: [kernel_h·kernel_w][channels]
  // [2·levels][padded], slot k (code 1 + k) W·θ_in·scale[k] and slot levels + k (code 9 + k) W·θ_in·(−scale[k]).
  const float* table = nullptr;
  int64_t channels = 0;
};

// SpikeConvMt: x = bias + Σ sources + residual spikes; the differential multi-threshold neuron of MtScan on d = x − b_n.
// The scales are powers of two, so a scaled table's rows are the unscaled kernel's products and both give the same sums.
struct SpikeConvMtArgs {
  int64_t steps = 1, batch = 1;
  int64_t height = 0, width = 0, channels = 0, padded = 0, words = 0;  // padded = channels rounded up to 16
  int sources = 1;
  CodeSource source[2];
  const uint64_t* residual = nullptr;     // codes shaped like the output, or null
  const float* residual_theta = nullptr;  // [padded]
  const float* bias = nullptr;            // [padded]: the convolutions' biases
  const float* neuron_bias = nullptr;     // [height·width·padded] or null: b_n
  const float* theta = nullptr;           // [padded]; padding lanes hold +inf and never fire
  int levels = 1;
  bool gated = false;
  bool scaled = false;  // the sources' tables are scaled (an event adds a row) or not (an event multiplies a row)
  const float* scale = nullptr;     // [levels]
  const float* value = nullptr;     // [levels][padded]: θ (level 0) and θ·scale[k] (MtScan's products)
  const float* positive = nullptr;  // [levels][padded]: θ·fraction[k]
  const float* inverse = nullptr;   // [K]: 1/t
  const float* m_in = nullptr;      // states [B, height, width, padded]
  const float* c_in = nullptr;
  const float* cumulative_in = nullptr;  // gated
  const float* r_out_in = nullptr;       // gated
  float* m_out = nullptr;
  float* c_out = nullptr;
  float* cumulative_out = nullptr;
  float* r_out_out = nullptr;
  uint64_t* output = nullptr;  // [K·B, height, width, words]
  // Count each source's events (its non-zero codes under the taps of every output pixel: Σ f_h·f_w over its spikes) per
  // step, after the spike counts: counts[K·(1 + s) + t] (the synaptic operations, divided by the output channels).
  bool count_events = false;
};

// counts: the item's spike counts per step [K], followed with count_events by each source's events per step [K].
void SpikeConvMt(const SpikeConvMtArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, bool portable);
// scratch: ScatterFloats(args) floats where ScattersByInput(args).
void SpikeConvMtAvx512(const SpikeConvMtArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* scratch);

// Most steps a SpikeConvMt call may have to run by input pixels (its sums hold three output rows at every step).
constexpr int64_t kMaxScatterSteps = 64;

// Whether SpikeConvMt runs by input pixels (code_conv_scatter_impl.h): one source of 16 or 32 channels (one or two words
// per pixel) onto as many output channels, 3×3 taps at stride 1 with one pixel of padding on each side (the map keeps
// its size), and at most kMaxScatterSteps steps: a ResNet's first two stages. (Measured on ResNet-20: the 64-channel
// stage, summed 32 channels at a time, ran no faster than the output-pixel kernel.)
inline bool ScattersByInput(const SpikeConvMtArgs& a) {
  const CodeSource& s = a.source[0];
  return a.sources == 1 && (s.words == 1 || s.words == 2) && a.padded == 16 * s.words && s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_top == 1 && s.pad_left == 1 && s.height == a.height && s.width == a.width && a.steps <= kMaxScatterSteps;
}

// Output rows per work item of SpikeConvMt: one for the output-pixel kernel; by input pixels, whose items gather each
// input row once and the rows either side of the band again, bands of 32 rows (ResNet-20's whole maps; on its 32 × 32
// maps 3–5 % faster than bands of 8), or of 8 in batches under 16 samples, which would leave too few items for the
// threads.
inline int64_t SpikeConvMtRowsPerItem(const SpikeConvMtArgs& a) {
  if (!ScattersByInput(a)) {
    return 1;
  }
  return a.batch >= 16 ? 32 : 8;
}

// The scratch floats of a call that runs by input pixels: the sums of four output rows (three open, one for the sums
// that leave the band) at every step, with a column either side.
inline int64_t ScatterFloats(const SpikeConvMtArgs& a) { return 4 * a.steps * (a.width + 2) * a.padded; }

// SpikeConvPool: a convolution of codes (conv: its source, input levels and scales, bias, scaled tables, event counting;
// its height/width/channels/padded are the convolution's output map) feeding the differential max-pool neuron of
// MaxPoolScan (neuron_kernels.h; windows kernel_h × kernel_w = strides, floor mode), whose outputs s are written as floats
// [K·B, C, out_h, out_w]. Per element the pool neuron's float operations are MaxPoolScan's; the convolution's sums are
// SpikeConvMt's. States v, r_in [B, height, width, padded] and r_out [B, out_h, out_w, padded]; the map's pixels past
// the last whole window integrate only.
constexpr int kMaxPoolWindow = 9;

struct SpikeConvPoolArgs {
  SpikeConvMtArgs conv;
  int64_t kernel_h = 1, kernel_w = 1, out_h = 0, out_w = 0;
  const float* pool_bias = nullptr;  // [height·width·padded] or null: the pool neuron's step-0 input
  const float* v_in = nullptr;
  const float* r_in_in = nullptr;
  const float* r_out_in = nullptr;
  float* v_out = nullptr;
  float* r_in_out = nullptr;
  float* r_out_out = nullptr;
  float* output = nullptr;  // [K·B, channels, out_h, out_w]
};

// One work item: band < out_h is the band of windows py = band (kernel_h rows of the map, and the columns past the last
// window in them); band ≥ out_h is the leftover map row out_h·kernel_h + band − out_h. counts: the item's events per step
// [K] when conv.count_events.
void SpikeConvPool(const SpikeConvPoolArgs& args, int64_t sample, int64_t band, int64_t* counts, bool portable);
void SpikeConvPoolAvx512(const SpikeConvPoolArgs& args, int64_t sample, int64_t band, int64_t* counts);

// Code → its factor ±2^−k (0 for code 0, +scale[k] for 1 + k, −scale[k] for 9 + k, 0 for levels the neuron lacks):
// the spike a code stands for is θ·table[code], which is MtScan's value (θ·1 = θ for k = 0, and a product takes the
// sign of its factor). Defined before any target pragma, so the AVX-512 file inlines the portable definition.
inline void SignedScales(const float* scale, int levels, float* table) {
  for (int code = 0; code < 16; ++code) {
    const int k = (code & 7) - 1;
    table[code] = k < 0 || k >= levels ? 0.0f : (code >= 8 ? -scale[k] : scale[k]);
  }
}

// SpikeEncode: float spikes [rows, C, spatial] (MtScan's outputs) to codes [rows, spatial, words]; throws nothing, a
// value that is no spike level of its channel becomes -1 in *bad (the operator reports it).
void SpikeEncode(const float* spikes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                 int64_t row, uint64_t* output, int64_t* bad);

void SpikeEncodeAvx512(const float* spikes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                       int64_t row, uint64_t* output, int64_t* bad);

// CodeUnpack: codes [rows, spatial, words] to floats [rows, C, spatial] (θ_c·SignedScales[code] each).
void CodeUnpack(const uint64_t* codes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                int64_t row, float* output);

// CodeFanOut: per row and input channel Σ_hw f_h[h]·f_w[w] over its non-zero codes (exact integers).
void CodeFanOut(const uint64_t* codes, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                int64_t words, int64_t row, float* output);
void CodeFanOutAvx512(const uint64_t* codes, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                      int64_t words, int64_t row, float* output);

}  // namespace spiking
