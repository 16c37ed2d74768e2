// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

#include <cstring>
#include <vector>

#include "bit_conv_impl.h"
#include "bit_kernels.h"

namespace spiking {

namespace {

// Sixteen float lanes in plain loops (the compiler vectorizes them for the build's baseline instruction set).
struct PortableOps {
  struct V {
    float lane[16];
  };
  static V Load(const float* p) {
    V r;
    std::memcpy(r.lane, p, sizeof(r.lane));
    return r;
  }
  static void Store(float* p, const V& v) { std::memcpy(p, v.lane, sizeof(v.lane)); }
  static V Set(float value) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = value;
    return r;
  }
  static V Add(const V& a, const V& b) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = a.lane[i] + b.lane[i];
    return r;
  }
  static V Sub(const V& a, const V& b) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = a.lane[i] - b.lane[i];
    return r;
  }
  // Lane i: v[i] where bit i of mask is set, else 0.
  static V Select(uint32_t mask, const V& v) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = (mask >> i) & 1u ? v.lane[i] : 0.0f;
    return r;
  }
  // Bit i set where a[i] ≥ b[i] (false for NaN, as GreaterOrEqual).
  static uint32_t AtLeast(const V& a, const V& b) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= (a.lane[i] >= b.lane[i] ? 1u : 0u) << i;
    return mask;
  }
};

}  // namespace

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
  std::vector<uint64_t> words(static_cast<size_t>(16 * a.steps));
  if (HasAvx512()) {
    IfPackAvx512(a, sample, begin, end, counts, words.data());
  } else {
    bitconv::PackRange<PortableOps>(a, sample, begin, end, counts, words.data());
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
    bitconv::FanOutRow<PortableOps>(bits, fan_h, fan_w, channels, height, width, words, row, output);
  }
}

}  // namespace spiking
