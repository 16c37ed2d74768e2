// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The fused convolution of spike codes + multi-threshold neuron (code_conv_impl.h) compiled for AVX-512. Only this
// file's own functions are built for AVX-512 (the target pragma comes after every header that defines inline
// functions); code_kernels.cc calls it only when the CPU reports AVX-512F.

#include <cstdint>

#include "code_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

#include "code_conv_impl.h"
#include "code_conv_scatter_impl.h"
#include "code_pool_impl.h"
#include "fan_out_impl.h"
#include "lanes_avx512.h"

namespace spiking {

void SpikeConvMtAvx512(const SpikeConvMtArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* scratch) {
  if (ScattersByInput(args)) {
    codeconv::RunScattered<Avx512Ops>(args, sample, row_begin, row_end, counts, scratch);
  } else {
    codeconv::Run<Avx512Ops>(args, sample, row_begin, row_end, counts);
  }
}

void SpikeConvPoolAvx512(const SpikeConvPoolArgs& args, int64_t sample, int64_t band, int64_t* counts) {
  codeconv::RunPool<Avx512Ops>(args, sample, band, counts);
}

void SpikeEncodeAvx512(const float* spikes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                       int64_t row, uint64_t* output, int64_t* bad) {
  codeconv::EncodeRow<Avx512Ops>(spikes, theta, scale, levels, channels, spatial, words, row, output, bad);
}

void CodeFanOutAvx512(const uint64_t* codes, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                      int64_t words, int64_t row, float* output) {
  fanout::Row<Avx512Ops, codeconv::CodeMasks>(codes, fan_h, fan_w, channels, height, width, words, row, output);
}

}  // namespace spiking

#pragma GCC pop_options
