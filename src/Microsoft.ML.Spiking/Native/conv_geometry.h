// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// What the fused convolutions of packed spikes (bit_kernels.h, code_kernels.h) share: a source's map and kernel
// geometry, and the taps of it that land inside the map for one output pixel.

#pragma once

#include <cstdint>

namespace spiking {

// Most taps (kernel_h·kernel_w) a fused convolution may have (BitPackedPlan.MaxTaps).
constexpr int kMaxTaps = 64;

// A source of packed spikes [K·B, height, width, words] and the convolution's kernel over it.
struct ConvGeometry {
  int64_t height = 0, width = 0, words = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
};

// The taps of one source that land inside its input map for one output pixel, found once per pixel and used at every
// step: the offset of the input pixel's words within a row of the packed spikes, and the tap's table.
struct PixelTaps {
  int count = 0;
  int64_t offset[kMaxTaps];
  const float* table[kMaxTaps];
};

// `table` points at the first tap's rows for the output channels of interest; each tap's rows are `per_tap` floats on.
// Defined before any target pragma, so that the AVX-512 files inline this portable definition.
inline void FindTaps(const ConvGeometry& s, int64_t oy, int64_t ox, const float* table, int64_t per_tap, PixelTaps& taps) {
  taps.count = 0;
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    const int64_t iy = oy * s.stride_h - s.pad_top + ky;
    if (iy < 0 || iy >= s.height) {
      continue;
    }
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      const int64_t ix = ox * s.stride_w - s.pad_left + kx;
      if (ix < 0 || ix >= s.width) {
        continue;
      }
      taps.offset[taps.count] = (iy * s.width + ix) * s.words;
      taps.table[taps.count] = table + (ky * s.kernel_w + kx) * per_tap;
      ++taps.count;
    }
  }
}

}  // namespace spiking
