// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// SpikeConvPool (code_kernels.h): the convolution of code_conv_impl.h (its taps, gathering and chained sums) feeding the
// differential max-pool neuron, over one window of output pixels at a time and the K steps, written once over the
// 16-lane `Ops` and included after code_conv_impl.h by code_kernels.cc and code_kernels_avx512.cc.

#pragma once

#include "code_conv_impl.h"

namespace spiking {
namespace codeconv {
namespace {

// The state of up to 64 channels of the map pixels of one window (or one leftover pixel) and of their pooled pixel.
struct PoolLanes {
  float v[kMaxPoolWindow][64], r_in[kMaxPoolWindow][64], r_out[64];
};

// Pixels (oy, ox) of the map, channels [c0, c0 + 16·NV): their convolutions, v = (v + d) + r_in and r_in += d/t with
// d = x − b (x where there is no bias) at every step; with pooled, O = their max (scanned as MaxPoolScan scans its
// window), v −= O, s = O − r_out, r_out += s/t, written to the pooled pixel (py, px).
template <class Ops, int NV>
inline void PoolBlock(const SpikeConvPoolArgs& p, const float* signed_scale, const SourceRows& rows, int64_t sample, const int64_t* oy, const int64_t* ox, int pixels,
                      bool pooled, int64_t py, int64_t px, int64_t c0, int64_t* counts) {
  using V = typename Ops::V;
  constexpr int n = 16 * NV;
  const SpikeConvMtArgs& a = p.conv;
  const CodeSource& source = a.source[0];
  PixelTaps taps[kMaxPoolWindow];
  TapRows tap_rows[kMaxPoolWindow];
  PoolLanes lanes;
  int64_t state[kMaxPoolWindow];
  for (int i = 0; i < pixels; ++i) {
    FindTaps(source, oy[i], ox[i], source.table + c0, source.channels * rows.per_channel, taps[i]);
    FormTapRows<Ops>(source, taps[i], rows, tap_rows[i]);
    state[i] = (oy[i] * a.width + ox[i]) * a.padded + c0;
    // Absent states are the initial ones: v = r_out = 0, r_in = the pool neuron's bias (or 0).
    LoadLanes(lanes.v[i], p.v_in, sample * a.height * a.width * a.padded + state[i], n);
    if (p.r_in_in != nullptr) {
      LoadLanes(lanes.r_in[i], p.r_in_in, sample * a.height * a.width * a.padded + state[i], n);
    } else {
      LoadLanes(lanes.r_in[i], p.pool_bias, state[i], n);
    }
  }
  const int64_t pooled_state = ((sample * p.out_h + py) * p.out_w + px) * a.padded + c0;
  if (pooled) {
    LoadLanes(lanes.r_out, p.r_out_in, pooled_state, n);
  }
  V bias[NV];
  for (int j = 0; j < NV; ++j) {
    bias[j] = Ops::Load(a.bias + c0 + 16 * j);
  }
  // Every block of channels gathers the same events: the first counts them.
  const bool count_events = a.count_events && c0 == 0;
  Events events;
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t row = t * a.batch + sample;
    const V step = Ops::Set(a.inverse[t]);
    for (int i = 0; i < pixels; ++i) {
      V acc[kChains<NV>][NV];
      StartChains<Ops, NV>(bias, acc);
      const int64_t gathered = AddCodes<Ops, NV>(source, taps[i], tap_rows[i], row, a.scaled, signed_scale, rows, events, acc);
      if (count_events) {
        counts[t] += gathered;
      }
      for (int j = 0; j < NV; ++j) {
        const V x = SumChains<Ops, NV>(acc, j);
        const int o = 16 * j;
        const V d = p.pool_bias != nullptr ? Ops::Sub(x, Ops::Load(p.pool_bias + state[i] + o)) : x;
        const V r_in = Ops::Load(lanes.r_in[i] + o);
        Ops::Store(lanes.v[i] + o, Ops::Add(Ops::Add(Ops::Load(lanes.v[i] + o), d), r_in));
        Ops::Store(lanes.r_in[i] + o, Ops::Add(r_in, Ops::Mul(d, step)));
      }
    }
    if (!pooled) {
      continue;
    }
    for (int j = 0; j < NV; ++j) {
      const int o = 16 * j;
      V top = Ops::Load(lanes.v[0] + o);
      for (int i = 1; i < pixels; ++i) {
        const V e = Ops::Load(lanes.v[i] + o);
        top = Ops::Blend(Ops::Less(top, e), e, top);  // e > top ? e : top
      }
      for (int i = 0; i < pixels; ++i) {
        Ops::Store(lanes.v[i] + o, Ops::Sub(Ops::Load(lanes.v[i] + o), top));
      }
      const V r_out = Ops::Load(lanes.r_out + o);
      const V s = Ops::Sub(top, r_out);
      Ops::Store(lanes.r_out + o, Ops::Add(r_out, Ops::Mul(s, step)));
      float spikes[16];
      Ops::Store(spikes, s);
      float* out = p.output + ((row * a.channels + c0 + o) * p.out_h + py) * p.out_w + px;
      const int64_t plane = p.out_h * p.out_w;
      for (int l = 0; l < 16 && c0 + o + l < a.channels; ++l) {
        out[l * plane] = spikes[l];
      }
    }
  }
  for (int i = 0; i < pixels; ++i) {
    StoreLanes(p.v_out, lanes.v[i], sample * a.height * a.width * a.padded + state[i], n);
    StoreLanes(p.r_in_out, lanes.r_in[i], sample * a.height * a.width * a.padded + state[i], n);
  }
  if (pooled) {
    StoreLanes(p.r_out_out, lanes.r_out, pooled_state, n);
  }
}

template <class Ops>
inline void PoolBlocks(const SpikeConvPoolArgs& p, const float* signed_scale, const SourceRows& rows, int64_t sample, const int64_t* oy, const int64_t* ox, int pixels,
                       bool pooled, int64_t py, int64_t px, int64_t* counts) {
  const int64_t vectors = p.conv.padded / 16;
  for (int64_t first = 0; first < vectors; first += 4) {
    const int64_t c0 = first * 16;
    switch (Min64(4, vectors - first)) {
      case 1: PoolBlock<Ops, 1>(p, signed_scale, rows, sample, oy, ox, pixels, pooled, py, px, c0, counts); break;
      case 2: PoolBlock<Ops, 2>(p, signed_scale, rows, sample, oy, ox, pixels, pooled, py, px, c0, counts); break;
      case 3: PoolBlock<Ops, 3>(p, signed_scale, rows, sample, oy, ox, pixels, pooled, py, px, c0, counts); break;
      default: PoolBlock<Ops, 4>(p, signed_scale, rows, sample, oy, ox, pixels, pooled, py, px, c0, counts); break;
    }
  }
}

// One band (code_kernels.h): its windows in row-major order (MaxPoolScan's scan of a window), then the band's pixels past
// the last window, or one leftover row pixel by pixel.
template <class Ops>
inline void RunPool(const SpikeConvPoolArgs& p, int64_t sample, int64_t band, int64_t* counts) {
  const SpikeConvMtArgs& a = p.conv;
  float signed_scale[16];
  SignedScales(a.scale, a.levels, signed_scale);
  SourceRows rows;
  FormSourceRows(a, rows);
  int64_t oy[kMaxPoolWindow], ox[kMaxPoolWindow];
  if (band >= p.out_h) {
    const int64_t y = p.out_h * p.kernel_h + band - p.out_h;
    for (int64_t x = 0; x < a.width; ++x) {
      oy[0] = y;
      ox[0] = x;
      PoolBlocks<Ops>(p, signed_scale, rows, sample, oy, ox, 1, false, 0, 0, counts);
    }
    return;
  }
  for (int64_t px = 0; px < p.out_w; ++px) {
    int pixels = 0;
    for (int64_t ky = 0; ky < p.kernel_h; ++ky) {
      for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
        oy[pixels] = band * p.kernel_h + ky;
        ox[pixels] = px * p.kernel_w + kx;
        ++pixels;
      }
    }
    PoolBlocks<Ops>(p, signed_scale, rows, sample, oy, ox, pixels, true, band, px, counts);
  }
  for (int64_t ky = 0; ky < p.kernel_h; ++ky) {
    for (int64_t x = p.out_w * p.kernel_w; x < a.width; ++x) {
      oy[0] = band * p.kernel_h + ky;
      ox[0] = x;
      PoolBlocks<Ops>(p, signed_scale, rows, sample, oy, ox, 1, false, 0, 0, counts);
    }
  }
}

}  // namespace
}  // namespace codeconv
}  // namespace spiking
