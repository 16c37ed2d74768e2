// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

#include <cstring>
#include <vector>

#include "code_conv_impl.h"
#include "code_conv_scatter_impl.h"
#include "code_pool_impl.h"
#include "fan_out_impl.h"
#include "code_kernels.h"
#include "lanes_portable.h"

namespace spiking {

void SpikeConvMt(const SpikeConvMtArgs& args, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, bool portable) {
  std::vector<float> scratch(ScattersByInput(args) ? static_cast<size_t>(ScatterFloats(args)) : 0);
  if (!portable && HasAvx512()) {
    SpikeConvMtAvx512(args, sample, row_begin, row_end, counts, scratch.data());
  } else if (ScattersByInput(args)) {
    codeconv::RunScattered<PortableOps>(args, sample, row_begin, row_end, counts, scratch.data());
  } else {
    codeconv::Run<PortableOps>(args, sample, row_begin, row_end, counts);
  }
}

void SpikeConvPool(const SpikeConvPoolArgs& args, int64_t sample, int64_t band, int64_t* counts, bool portable) {
  if (!portable && HasAvx512()) {
    SpikeConvPoolAvx512(args, sample, band, counts);
  } else {
    codeconv::RunPool<PortableOps>(args, sample, band, counts);
  }
}

void SpikeEncode(const float* spikes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                 int64_t row, uint64_t* output, int64_t* bad) {
  if (HasAvx512()) {
    SpikeEncodeAvx512(spikes, theta, scale, levels, channels, spatial, words, row, output, bad);
  } else {
    codeconv::EncodeRow<PortableOps>(spikes, theta, scale, levels, channels, spatial, words, row, output, bad);
  }
}

void CodeUnpack(const uint64_t* codes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                int64_t row, float* output) {
  const uint64_t* in = codes + row * spatial * words;
  float* out = output + row * channels * spatial;
  float table[16];
  SignedScales(scale, levels, table);
  for (int64_t c = 0; c < channels; ++c) {
    const uint64_t* column = in + c / 16;
    const int shift = static_cast<int>(4 * (c % 16));
    const float value = theta[c];
    for (int64_t p = 0; p < spatial; ++p) {
      out[c * spatial + p] = value * table[(column[p * words] >> shift) & 15];
    }
  }
}

void CodeFanOut(const uint64_t* codes, const float* fan_h, const float* fan_w, int64_t channels, int64_t height, int64_t width,
                int64_t words, int64_t row, float* output) {
  if (HasAvx512()) {
    CodeFanOutAvx512(codes, fan_h, fan_w, channels, height, width, words, row, output);
  } else {
    fanout::Row<PortableOps, codeconv::CodeMasks>(codes, fan_h, fan_w, channels, height, width, words, row, output);
  }
}

}  // namespace spiking
