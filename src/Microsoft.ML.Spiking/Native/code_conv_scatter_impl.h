// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// SpikeConvMt by input pixels, for the convolutions that dominate a ResNet's first two stages: 16 or 32 input channels
// (one or two words per pixel) onto as many output channels, 3×3 taps at stride 1 with one pixel of padding
// (ScattersByInput in code_kernels.h). The output-pixel kernel of code_conv_impl.h gathers the events under each of its
// nine taps, so every input word is gathered nine times; here each input pixel's events are gathered once, summed under
// all nine taps at once (nine times one or two vectors of accumulators, held in registers over the pixel's events), and
// the nine sums added to the output pixels they reach, kept per step for three output rows. When an output row has all
// its sums, its neurons run over the K steps as MtBlock's do (same MtStep). Same events and neuron as MtBlock; the sums
// add the same rows in another order, so they may differ from MtBlock's in the last bits. Included after
// code_conv_impl.h by code_kernels.cc (portable lanes) and code_kernels_avx512.cc (AVX-512); uses no standard library
// functions (see code_conv_impl.h).

#pragma once

#include "code_conv_impl.h"

namespace spiking {
namespace codeconv {
namespace {

// The sums of an item's output rows: [4 slots][K][width + 2][16·NV] floats. Rows of the band take slot oy mod 3 (at most
// three are open at a time); sums for rows outside the band go to slot 3, and for columns outside the map to columns
// 0 and width + 1 of each row, and are never read, so that every input pixel adds under all nine taps without tests.
template <int NV>
struct ScatterSums {
  float* data;
  int64_t steps, columns;
  float* At(int64_t slot, int64_t t, int64_t column) const { return data + ((slot * steps + t) * columns + column) * 16 * NV; }
};

// The output row's sums at every step and column start from the convolution's bias.
template <class Ops, int NV>
inline void OpenRow(const ScatterSums<NV>& sums, int64_t slot, const float* bias) {
  typename Ops::V b[NV];
  for (int j = 0; j < NV; ++j) {
    b[j] = Ops::Load(bias + 16 * j);
  }
  for (int64_t t = 0; t < sums.steps; ++t) {
    for (int64_t column = 0; column < sums.columns; ++column) {
      for (int j = 0; j < NV; ++j) {
        Ops::Store(sums.At(slot, t, column) + 16 * j, b[j]);
      }
    }
  }
}

// Input row iy at every step: each pixel's events (its Words words) gathered once, their rows summed under the nine taps,
// and each tap's sum added to the output pixel (iy + 1 − ky, ix + 1 − kx) it reaches.
// events_per_step[t], where not null, receives the events the band's output pixels see (each input event times its
// taps that land on the band and the map).
template <class Ops, int Words, int NV, bool Scaled>
inline void ScatterRow(const SpikeConvMtArgs& a, const float* signed_scale, const SourceRows& rows, const ScatterSums<NV>& sums, int64_t sample, int64_t iy,
                       int64_t row_begin, int64_t row_end, int64_t* events_per_step) {
  using V = typename Ops::V;
  const CodeSource& s = a.source[0];
  const int64_t per_tap = s.channels * rows.per_channel;
  const int32_t word_rows = static_cast<int32_t>(16 * rows.per_channel);
  int64_t slot[3];
  int64_t rows_reached = 0;
  for (int ky = 0; ky < 3; ++ky) {
    const int64_t oy = iy + 1 - ky;
    const bool inside = oy >= row_begin && oy < row_end;
    slot[ky] = inside ? oy % 3 : 3;
    rows_reached += inside ? 1 : 0;
  }
  Events events;
  for (int64_t t = 0; t < a.steps; ++t) {
    const uint64_t* codes = s.codes + ((t * a.batch + sample) * s.height + iy) * s.width * Words;
    float* out[3];
    for (int ky = 0; ky < 3; ++ky) {
      out[ky] = sums.At(slot[ky], t, 0);
    }
    int64_t reached = 0;
    for (int64_t ix = 0; ix < s.width; ++ix) {
      int count = GatherWord<Ops, Scaled>(codes[ix * Words], signed_scale, rows, rows.lane, 0, events, 0);
      for (int w = 1; w < Words; ++w) {
        count += GatherWord<Ops, Scaled>(codes[ix * Words + w], signed_scale, rows, rows.lane, w * word_rows, events, count);
      }
      // Nine taps times NV vectors of accumulators, in registers.
      V tap[9][NV];
      for (int k = 0; k < 9; ++k) {
        for (int j = 0; j < NV; ++j) {
          tap[k][j] = Ops::Set(0.0f);
        }
      }
      for (int e = 0; e < count; ++e) {
        const float* row = s.table + events.offset[e];
        if constexpr (Scaled) {
          for (int k = 0; k < 9; ++k) {
            for (int j = 0; j < NV; ++j) {
              tap[k][j] = Ops::Add(Ops::Load(row + k * per_tap + 16 * j), tap[k][j]);
            }
          }
        } else {
          const V f = Ops::Set(events.factor[e]);
          for (int k = 0; k < 9; ++k) {
            for (int j = 0; j < NV; ++j) {
              tap[k][j] = Ops::MulAdd(Ops::Load(row + k * per_tap + 16 * j), f, tap[k][j]);
            }
          }
        }
      }
      // Output column ox = ix + 1 − kx sits at column ix + 2 − kx of the sums.
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          float* sum = out[ky] + (ix + 2 - kx) * 16 * NV;
          for (int j = 0; j < NV; ++j) {
            Ops::Store(sum + 16 * j, Ops::Add(Ops::Load(sum + 16 * j), tap[3 * ky + kx][j]));
          }
        }
      }
      const int64_t columns = 3 - (ix == 0 ? 1 : 0) - (ix == s.width - 1 ? 1 : 0);
      reached += count * columns;
    }
    if (events_per_step != nullptr) {
      events_per_step[t] += reached * rows_reached;
    }
  }
}

// Output row oy's neurons over the K steps, from its finished sums.
template <class Ops, int NV, int Levels>
inline void FinishRow(const SpikeConvMtArgs& a, const float* signed_scale, const ScatterSums<NV>& sums, int64_t sample, int64_t oy, int64_t* counts) {
  using V = typename Ops::V;
  constexpr int n = 16 * NV;
  for (int64_t ox = 0; ox < a.width; ++ox) {
    const int64_t pixel_state = (oy * a.width + ox) * n;
    const int64_t state = sample * a.height * a.width * n + pixel_state;
    Lanes lanes;
    LoadNeuron<Ops, NV, Levels>(a, state, pixel_state, 0, lanes);
    float no_bias[n] = {};
    const float* neuron_bias = a.neuron_bias != nullptr ? a.neuron_bias + pixel_state : no_bias;
    for (int64_t t = 0; t < a.steps; ++t) {
      const int64_t pixel = (((t * a.batch + sample) * a.height + oy) * a.width + ox) * NV;
      const float* sum = sums.At(oy % 3, t, ox + 1);
      V x[NV];
      for (int j = 0; j < NV; ++j) {
        x[j] = Ops::Load(sum + 16 * j);
        if (a.residual != nullptr) {
          x[j] = Ops::Add(x[j], Ops::Mul(Ops::Load(a.residual_theta + 16 * j), Ops::Lookup(a.residual[pixel + j], signed_scale)));
        }
      }
      counts[t] += a.gated ? MtStep<Ops, NV, Levels, true>(lanes, x, neuron_bias, a.inverse[t], a.output + pixel)
                           : MtStep<Ops, NV, Levels, false>(lanes, x, neuron_bias, a.inverse[t], a.output + pixel);
    }
    StoreNeuron<NV>(a, state, lanes);
  }
}

template <class Ops, int Words, int NV, int Levels, bool Scaled>
inline void RunScatteredOf(const SpikeConvMtArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* buffer) {
  float signed_scale[16];
  SignedScales(a.scale, a.levels, signed_scale);
  SourceRows rows;
  FormSourceRows(a, rows);
  const ScatterSums<NV> sums{buffer, a.steps, a.width + 2};
  int64_t* events = a.count_events ? counts + a.steps : nullptr;
  for (int64_t iy = row_begin - 1; iy <= row_end; ++iy) {
    if (iy + 1 < row_end) {
      OpenRow<Ops, NV>(sums, (iy + 1) % 3, a.bias);
    }
    if (iy >= 0 && iy < a.height) {
      ScatterRow<Ops, Words, NV, Scaled>(a, signed_scale, rows, sums, sample, iy, row_begin, row_end, events);
    }
    if (iy - 1 >= row_begin) {
      FinishRow<Ops, NV, Levels>(a, signed_scale, sums, sample, iy - 1, counts);
    }
  }
}

template <class Ops, int Words, int NV, int Levels>
inline void RunScatteredScaled(const SpikeConvMtArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* buffer) {
  if (a.scaled) {
    RunScatteredOf<Ops, Words, NV, Levels, true>(a, sample, row_begin, row_end, counts, buffer);
  } else {
    RunScatteredOf<Ops, Words, NV, Levels, false>(a, sample, row_begin, row_end, counts, buffer);
  }
}

template <class Ops, int Levels>
inline void RunScatteredLevels(const SpikeConvMtArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* buffer) {
  if (a.source[0].words == 1) {
    RunScatteredScaled<Ops, 1, 1, Levels>(a, sample, row_begin, row_end, counts, buffer);
  } else {
    RunScatteredScaled<Ops, 2, 2, Levels>(a, sample, row_begin, row_end, counts, buffer);
  }
}

// Runs the item's output rows [row_begin, row_end) by input pixels; buffer holds ScatterFloats(a) floats.
template <class Ops>
inline void RunScattered(const SpikeConvMtArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts, float* buffer) {
  switch (a.levels) {
    case 1: RunScatteredLevels<Ops, 1>(a, sample, row_begin, row_end, counts, buffer); break;
    case 2: RunScatteredLevels<Ops, 2>(a, sample, row_begin, row_end, counts, buffer); break;
    case 3: RunScatteredLevels<Ops, 3>(a, sample, row_begin, row_end, counts, buffer); break;
    case 4: RunScatteredLevels<Ops, 4>(a, sample, row_begin, row_end, counts, buffer); break;
    case 5: RunScatteredLevels<Ops, 5>(a, sample, row_begin, row_end, counts, buffer); break;
    case 6: RunScatteredLevels<Ops, 6>(a, sample, row_begin, row_end, counts, buffer); break;
    default: RunScatteredLevels<Ops, 7>(a, sample, row_begin, row_end, counts, buffer); break;
  }
}

}  // namespace
}  // namespace codeconv
}  // namespace spiking
