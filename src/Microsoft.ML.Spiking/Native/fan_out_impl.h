// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The synaptic-operation count of a convolution reading packed spikes (SpikeFanOut on bits, CodeFanOut on codes),
// written once over a 16-lane vector type `Ops` (lanes_portable.h, lanes_avx512.h) and a `Masks` policy that reads
// the spiking channels of a pixel from its words. No standard library functions: the file is compiled once per
// instruction set, and internal linkage keeps the copies apart.

#pragma once

#include <cstdint>

namespace spiking {
namespace fanout {
namespace {

// One row for the channels [c0, c0 + 16·NV): per input channel Σ_hw f_h[h]·f_w[w] over its spikes, one masked vector
// addition per pixel and 16 channels into accumulators held in registers (the counts are integers below 2^24, so float
// sums are exact). Masks::Of(pixel, c) gives the 16-bit lane mask of the spiking channels c … c + 15 of a pixel.
template <class Ops, class Masks, int NV>
inline void Block(const uint64_t* in, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                  int64_t words, int64_t c0, float* out) {
  using V = typename Ops::V;
  V acc[NV];
  for (int j = 0; j < NV; ++j) {
    acc[j] = Ops::Set(0.0f);
  }
  for (int64_t h = 0; h < height; ++h) {
    for (int64_t w = 0; w < width; ++w) {
      const uint64_t* pixel = in + (h * width + w) * words;
      const V fan = Ops::Set(fan_h[h] * fan_w[w]);
      for (int j = 0; j < NV; ++j) {
        acc[j] = Ops::Add(acc[j], Ops::Select(Masks::Of(pixel, c0 + 16 * j), fan));
      }
    }
  }
  float lanes[16 * NV];
  for (int j = 0; j < NV; ++j) {
    Ops::Store(lanes + 16 * j, acc[j]);
  }
  for (int64_t c = c0; c < channels && c < c0 + 16 * NV; ++c) {
    out[c] = lanes[c - c0];
  }
}

template <class Ops, class Masks>
inline void Row(const uint64_t* packed, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                int64_t words, int64_t row, float* output) {
  const uint64_t* in = packed + row * height * width * words;
  float* out = output + row * channels;
  const int64_t vectors = (channels + 15) / 16;
  for (int64_t first = 0; first < vectors; first += 4) {
    switch (vectors - first < 4 ? vectors - first : 4) {
      case 1: Block<Ops, Masks, 1>(in, fan_h, fan_w, channels, height, width, words, first * 16, out); break;
      case 2: Block<Ops, Masks, 2>(in, fan_h, fan_w, channels, height, width, words, first * 16, out); break;
      case 3: Block<Ops, Masks, 3>(in, fan_h, fan_w, channels, height, width, words, first * 16, out); break;
      default: Block<Ops, Masks, 4>(in, fan_h, fan_w, channels, height, width, words, first * 16, out); break;
    }
  }
}

}  // namespace
}  // namespace fanout
}  // namespace spiking
