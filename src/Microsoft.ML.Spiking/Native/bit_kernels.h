// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// Bit-packed spike kernels for rate-coded IF networks (BitPackedPlan.cs and BitPackedEmitters.cs build the graphs that use them).
// Between fused layers a spike tensor is bits: [K·B, H, W, words] uint64, bit c of a pixel (word c / 64, bit
// c % 64) set when channel c fired; the amplitude θ_c of the producing neuron is folded into the consumer's tables.
// A spiking convolution reads its input as nibbles (four channels): for every tap and group of four input channels a
// table holds the 16 possible partial sums for all output channels, so an output pixel costs taps·C_in/4 table rows
// instead of taps·C_in multiply-adds. The convolution is fused with the IF neuron it drives: each output pixel runs
// all K steps of the chunk with its membrane potentials in registers and writes only the spike bits. The
// convolution's sum is formed in a different order than a dense convolution's, so results agree with the
// standard-op lowering to float rounding (exactly when every partial sum is representable).

#pragma once

#include <cstdint>

#include "conv_geometry.h"

namespace spiking {

// One convolution whose input is spike bits.
struct BitSource : ConvGeometry {
  const uint64_t* bits = nullptr;  // [K·B, height, width, words]
  const float* table = nullptr;    // [kernel_h·kernel_w][groups][16][padded out channels]
  int64_t groups = 0;              // ceil(C_in / 4)
};

// SpikeConvIf: current = bias + Σ sources + residual spikes·θ_res; the IF neuron of NeuronEmitters.IfNeuron on it.
struct SpikeConvArgs {
  int64_t steps = 1, batch = 1;
  int64_t height = 0, width = 0, channels = 0, padded = 0, words = 0;  // output map; padded = channels rounded up to 16
  int sources = 1;
  BitSource source[2];
  const uint64_t* residual = nullptr;  // [K·B, height, width, words] or null
  const float* residual_theta = nullptr;  // [padded]
  const float* bias = nullptr;   // [padded]
  const float* theta = nullptr;  // [padded]; the padding lanes never fire
  bool reset_to_zero = false;
  const float* membrane_in = nullptr;  // [B, height, width, padded]
  float* membrane_out = nullptr;
  uint64_t* output = nullptr;          // [K·B, height, width, words]
};

// Rows [row_begin, row_end) of sample `sample`, all K steps; counts[t] += spikes of step t. `portable` runs the
// portable kernel even where AVX-512 is available (for tests; both give the same results).
void SpikeConvIf(const SpikeConvArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, bool portable);

// The same kernel compiled for AVX-512 (bit_kernels_avx512.cc); false when the CPU lacks it.
bool HasAvx512();
void SpikeConvIfAvx512(const SpikeConvArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts);
void SpikeFanOutAvx512(const uint64_t* bits, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                       int64_t words, int64_t row, float* output);

// IfPack: the IF neuron of IfScan on a float current [B or K·B, C, spatial] (channel-major), writing spike bits
// [K·B, spatial, words] instead of floats; same float operations as IfScan, so the same spikes.
struct IfPackArgs {
  int64_t steps = 1, batch = 1, channels = 0, spatial = 0, words = 0;
  bool varying = true;
  bool reset_to_zero = false;
  const float* input = nullptr;
  const float* theta = nullptr;  // [channels·spatial], broadcast
  const float* membrane_in = nullptr;  // [B, C, spatial]
  float* membrane_out = nullptr;
  uint64_t* output = nullptr;  // every word written
};

// Pixels [begin, end) of sample `sample`; counts[t] += spikes of step t.
void IfPack(const IfPackArgs& args, int64_t sample, int64_t begin, int64_t end, int64_t* counts);
void IfPackAvx512(const IfPackArgs& args, int64_t sample, int64_t begin, int64_t end, int64_t* counts);

// SpikeUnpack: bits [rows, spatial, words] to floats [rows, C, spatial] holding θ_c where a spike is, else 0.
void SpikeUnpack(const uint64_t* bits, const float* theta, int64_t channels, int64_t spatial, int64_t words, int64_t row, float* output);

// SpikeFanOut: per row and input channel Σ_hw f_h[h]·f_w[w]·s[c,h,w] (the synaptic operations of a convolution reading
// the spikes, before the host's factor of output channels per group), exact integers.
void SpikeFanOut(const uint64_t* bits, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                 int64_t words, int64_t row, float* output);

}  // namespace spiking
