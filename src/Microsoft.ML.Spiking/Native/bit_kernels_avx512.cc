// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The fused spiking convolution (bit_conv_impl.h) compiled for AVX-512: sixteen lanes in one register, lane masks
// in mask registers. Only this file's own functions are built for AVX-512 (the target pragma comes after every
// standard header); bit_kernels.cc calls it only when the CPU reports AVX-512F.

#include <cstdint>

#include "bit_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

#include <immintrin.h>

#include "bit_conv_impl.h"

namespace spiking {

namespace {

struct Avx512Ops {
  using V = __m512;
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V Set(float value) { return _mm512_set1_ps(value); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V Select(uint32_t mask, V v) { return _mm512_maskz_mov_ps(static_cast<__mmask16>(mask), v); }
  static uint32_t AtLeast(V a, V b) { return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)); }
};

}  // namespace

void SpikeConvIfAvx512(const SpikeConvArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts) {
  bitconv::Run<Avx512Ops>(args, sample, row_begin, row_end, counts);
}

void IfPackAvx512(const IfPackArgs& args, int64_t sample, int64_t begin, int64_t end, int64_t* counts, uint64_t* words) {
  bitconv::PackRange<Avx512Ops>(args, sample, begin, end, counts, words);
}

void SpikeFanOutAvx512(const uint64_t* bits, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                       int64_t words, int64_t row, float* output) {
  bitconv::FanOutRow<Avx512Ops>(bits, fan_h, fan_w, channels, height, width, words, row, output);
}

}  // namespace spiking

#pragma GCC pop_options
