// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

#include <cstring>

#include "bit_conv_impl.h"
#include "fan_out_impl.h"
#include "bit_kernels.h"
#include "lanes_portable.h"

namespace spiking {

void SpikeConvIf(const SpikeConvArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, bool portable) {
  if (!portable && HasAvx512()) {
    SpikeConvIfAvx512(args, sample, row_begin, row_end, counts);
  } else {
    bitconv::Run<PortableOps>(args, sample, row_begin, row_end, counts);
  }
}

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") != 0;
  return has;
}

void IfPack(const IfPackArgs& a, int64_t sample, int64_t begin, int64_t end, int64_t* counts) {
  if (HasAvx512()) {
    IfPackAvx512(a, sample, begin, end, counts);
  } else {
    bitconv::PackRange<PortableOps>(a, sample, begin, end, counts);
  }
}

void SpikeUnpack(const uint64_t* bits, const float* theta, int64_t channels, int64_t spatial, int64_t words, int64_t row, float* output) {
  const uint64_t* in = bits + row * spatial * words;
  float* out = output + row * channels * spatial;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t word = c / 64;
    const int shift = static_cast<int>(c % 64);
    const float value = theta[c];
    for (int64_t p = 0; p < spatial; ++p) {
      out[c * spatial + p] = (in[p * words + word] >> shift) & 1u ? value : 0.0f;
    }
  }
}

void SpikeFanOut(const uint64_t* bits, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                 int64_t words, int64_t row, float* output) {
  if (HasAvx512()) {
    SpikeFanOutAvx512(bits, fan_h, fan_w, channels, height, width, words, row, output);
  } else {
    fanout::Row<PortableOps, bitconv::BitMasks>(bits, fan_h, fan_w, channels, height, width, words, row, output);
  }
}

}  // namespace spiking
