// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The fused spiking convolution (bit_conv_impl.h) compiled for AVX-512: sixteen lanes in one register, lane masks
// in mask registers. Only this file's own functions are built for AVX-512 (the target pragma comes after every
// standard header); bit_kernels.cc calls it only when the CPU reports AVX-512F.

#include <cstdint>

#include "bit_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

#include "bit_conv_impl.h"
#include "fan_out_impl.h"
#include "lanes_avx512.h"

namespace spiking {

void SpikeConvIfAvx512(const SpikeConvArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts) {
  bitconv::Run<Avx512Ops>(args, sample, row_begin, row_end, counts);
}

void IfPackAvx512(const IfPackArgs& args, int64_t sample, int64_t begin, int64_t end, int64_t* counts) {
  bitconv::PackRange<Avx512Ops>(args, sample, begin, end, counts);
}

void SpikeFanOutAvx512(const uint64_t* bits, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                       int64_t words, int64_t row, float* output) {
  fanout::Row<Avx512Ops, bitconv::BitMasks>(bits, fan_h, fan_w, channels, height, width, words, row, output);
}

}  // namespace spiking

#pragma GCC pop_options
