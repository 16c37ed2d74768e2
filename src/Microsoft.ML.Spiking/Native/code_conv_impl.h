// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The fused convolution of spike codes + differential multi-threshold neuron of code_kernels.h, written once over a
// 16-lane vector type `Ops` (Load, Store, Set, Add, Sub, Mul, MulAdd, Abs, Neg, Select, Blend, Lookup, Gather,
// GatherRows, PackNibbles, OrShifted and the lane masks AtLeast, Equal, Less, NonZero) and included by code_kernels.cc
// (portable lanes) and code_kernels_avx512.cc (AVX-512). Uses no standard library functions, so that nothing here is
// compiled for a wider instruction set than the file that includes it.

#pragma once

#include "code_kernels.h"

namespace spiking {
namespace codeconv {
// Internal linkage: the file is compiled once per instruction set, and no copy may stand in for another.
namespace {

static inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Bit 4i of the result set where nibble i of x is non-zero.
static inline uint64_t NonZeroNibbles(uint64_t x) {
  uint64_t nonzero = x | (x >> 1);
  nonzero |= nonzero >> 2;
  return nonzero & 0x1111111111111111ull;
}

// Bits 4i of x gathered into bits i (a 16-bit lane mask).
static inline uint32_t GatherNibbleBits(uint64_t x) {
  x = (x | (x >> 3)) & 0x0303030303030303ull;
  x = (x | (x >> 6)) & 0x000F000F000F000Full;
  x = (x | (x >> 12)) & 0x000000FF000000FFull;
  x = (x | (x >> 24)) & 0xFFFFull;
  return static_cast<uint32_t>(x);
}

// Events (non-zero codes) gathered before they are added: the table row (an offset from the source's table) and the
// factor ±2^−k. Gathering them branch-free and adding them in one loop costs one mispredicted loop exit per pixel and
// step instead of one per tap and word (measured: the event loop was 70 % of the kernel, mostly those exits).
constexpr int kMaxEvents = 1024;

struct Events {
  int32_t offset[kMaxEvents + 16];
  float factor[kMaxEvents + 16];
};

// Chains events at a time: with one vector per event, four chains (a fused multiply-add's latency is four cycles),
// with more the vectors themselves are independent chains.
template <int NV>
constexpr int kChains = NV == 1 ? 4 : 2;

// One event into the chain acc: a scaled table's row as it stands, an unscaled one times the event's factor.
template <class Ops, int NV, bool Scaled>
inline void AddEvent(const float* table, const Events& events, int64_t e, typename Ops::V* acc) {
  const float* row = table + events.offset[e];
  if constexpr (Scaled) {
    for (int j = 0; j < NV; ++j) {
      acc[j] = Ops::Add(Ops::Load(row + 16 * j), acc[j]);
    }
  } else {
    const typename Ops::V f = Ops::Set(events.factor[e]);
    for (int j = 0; j < NV; ++j) {
      acc[j] = Ops::MulAdd(Ops::Load(row + 16 * j), f, acc[j]);
    }
  }
}

// The chains at the start of a step: the first holds the bias, the others zeros.
template <class Ops, int NV>
inline void StartChains(const typename Ops::V* bias, typename Ops::V (*acc)[NV]) {
  for (int j = 0; j < NV; ++j) {
    acc[0][j] = bias[j];
    for (int i = 1; i < kChains<NV>; ++i) {
      acc[i][j] = Ops::Set(0.0f);
    }
  }
}

// Vector j of the step's sums: the chains added pairwise, (0 + 1) + (2 + 3).
template <class Ops, int NV>
inline typename Ops::V SumChains(const typename Ops::V (*acc)[NV], int j) {
  typename Ops::V x = Ops::Add(acc[0][j], acc[1][j]);
  if constexpr (kChains<NV> == 4) {
    x = Ops::Add(x, Ops::Add(acc[2][j], acc[3][j]));
  }
  return x;
}

template <class Ops, int NV, bool Scaled>
inline void AddEvents(const float* table, const Events& events, int64_t count, typename Ops::V (*acc)[NV]) {
  constexpr int E = kChains<NV>;
  int64_t e = 0;
  for (; e + E <= count; e += E) {
    for (int i = 0; i < E; ++i) {
      AddEvent<Ops, NV, Scaled>(table, events, e + i, acc[i]);
    }
  }
  for (int i = 0; e < count; ++e, ++i) {
    AddEvent<Ops, NV, Scaled>(table, events, e, acc[i]);
  }
}

// The rows a source's lanes and codes select: a word's lanes come in the Ops' interleaved order (lane 2j input channel
// 16·w + j, lane 2j + 1 channel 16·w + 8 + j), whose rows start at channel·per_channel; a scaled table's code c is its
// slot (0 … 2·levels − 1) times padded on. (Codes of levels the neuron lacks never reach a kernel: SpikeEncode rejects
// such values and SpikeConvMt writes none.)
struct SourceRows {
  int32_t lane[16];
  int32_t code[16];
  int64_t per_channel;  // floats per input channel of a tap
};

inline void FormSourceRows(const SpikeConvMtArgs& a, SourceRows& r) {
  const int64_t rows = a.scaled ? 2 * a.levels : 1;
  r.per_channel = rows * a.padded;
  for (int l = 0; l < 16; ++l) {
    r.lane[l] = static_cast<int32_t>((l / 2 + 8 * (l % 2)) * r.per_channel);
    const int k = (l & 7) - 1;
    r.code[l] = k < 0 || k >= a.levels ? 0 : static_cast<int32_t>(((l >= 8 ? a.levels : 0) + k) * a.padded);
  }
}

// Each tap's rows for the 16 lanes of a word (its base plus the lane rows), formed once per pixel and read at every step.
struct TapRows {
  int32_t row[kMaxTaps][16];
};

// One vector per tap (left to itself, the compiler vectorized across taps, transposing).
template <class Ops>
inline void FormTapRows(const CodeSource& s, const PixelTaps& taps, const SourceRows& rows, TapRows& tap_rows) {
  for (int i = 0; i < taps.count; ++i) {
    Ops::OffsetRows(tap_rows.row[i], rows.lane, static_cast<int32_t>(taps.table[i] - s.table));
  }
}

// One word's events, stored at events + count; returns their number. A scaled table's events are rows only.
template <class Ops, bool Scaled>
inline int GatherWord(uint64_t word, const float* signed_scale, const SourceRows& rows, const int32_t* tap_row, int32_t word_offset, Events& events,
                      int64_t count) {
  if constexpr (Scaled) {
    return Ops::GatherRows(word, rows.code, tap_row, word_offset, events.offset + count);
  } else {
    return Ops::Gather(word, signed_scale, tap_row, word_offset, events.offset + count, events.factor + count);
  }
}

// Adds a source's contribution at one step: for every non-zero code of the pixels under the taps, the input channel's
// weight row (θ folded in) times ±2^−k.
// Always inlined: its accumulators stay in registers (as a call, they and the neuron's lanes went through memory).
// Returns the number of events.
template <class Ops, int NV, bool Scaled>
__attribute__((always_inline)) inline int64_t AddCodesOf(const CodeSource& s, const PixelTaps& taps, const TapRows& tap_rows, int64_t row, const float* signed_scale,
                                                     const SourceRows& rows, Events& events, typename Ops::V (*acc)[NV]) {
  const uint64_t* codes = s.codes + row * s.height * s.width * s.words;
  // The count in a local: the stores of the events may alias a member, which would keep it in memory. 64 bits wide, as
  // it indexes the events (no sign extension per tap).
  int64_t count = 0;
  int64_t flushed = 0;
  if (s.words == 1 && taps.count * 16 <= kMaxEvents) {
    // One word per pixel whose events all fit (16-channel sources): one gather per tap, no flush tests, no word loop.
    for (int i = 0; i < taps.count; ++i) {
      count += GatherWord<Ops, Scaled>(codes[taps.offset[i]], signed_scale, rows, tap_rows.row[i], 0, events, count);
    }
  } else {
    const int32_t word_rows = static_cast<int32_t>(16 * rows.per_channel);
    for (int i = 0; i < taps.count; ++i) {
      const uint64_t* pixel = codes + taps.offset[i];
      if (count > kMaxEvents - 16 * s.words) {
        AddEvents<Ops, NV, Scaled>(s.table, events, count, acc);
        flushed += count;
        count = 0;
      }
      // Words without spikes are gathered too (no events): a test per word mispredicts where spikes are sparse.
      for (int64_t w = 0; w < s.words; ++w) {
        count += GatherWord<Ops, Scaled>(pixel[w], signed_scale, rows, tap_rows.row[i], static_cast<int32_t>(w) * word_rows, events, count);
      }
    }
  }
  AddEvents<Ops, NV, Scaled>(s.table, events, count, acc);
  return flushed + count;
}

template <class Ops, int NV>
__attribute__((always_inline)) inline int64_t AddCodes(const CodeSource& s, const PixelTaps& taps, const TapRows& tap_rows, int64_t row, bool scaled,
                                                   const float* signed_scale, const SourceRows& rows, Events& events, typename Ops::V (*acc)[NV]) {
  if (scaled) {
    return AddCodesOf<Ops, NV, true>(s, taps, tap_rows, row, signed_scale, rows, events, acc);
  }
  return AddCodesOf<Ops, NV, false>(s, taps, tap_rows, row, signed_scale, rows, events, acc);
}

// The state of up to 64 channels of one output pixel, and their thresholds (copies of SpikeConvMtArgs' value and
// positive: in a local, stores elsewhere cannot alias them, so they stay in registers across the steps).
struct Lanes {
  float m[64], c[64], cumulative[64], r_out[64];
  float value[kMaxCodeLevels][64], positive[kMaxCodeLevels][64];
};

// The largest value[k] (lanes o …) whose point[k] ≤ x, scanning k = Levels − 1 … 0 (both decrease with k), and its
// level 1 + k; 0 and 0 where none.
template <class Ops, int Levels>
inline void SelectLevel(typename Ops::V x, const float (*point)[64], const float (*value)[64], int o, typename Ops::V& selected, typename Ops::V& level) {
  selected = Ops::Set(0.0f);
  level = Ops::Set(0.0f);
  for (int k = Levels - 1; k >= 0; --k) {
    const uint32_t qualifies = Ops::AtLeast(x, Ops::Load(point[k] + o));
    selected = Ops::Blend(qualifies, Ops::Load(value[k] + o), selected);
    level = Ops::Blend(qualifies, Ops::Set(static_cast<float>(k + 1)), level);
  }
}

// One step of MtScan's differential neuron (StepFused) on the NV vectors of lanes, from the current x: d = x − b_n;
// m += d; m += c; C += r_out; s = rule(m, C); m −= s; C += s; c += (d − s)/t; r_out += s/t. The same float operations
// as MtScan per lane, on vectors with lane masks for its selections; the level index of each spike comes out as a
// code (0, 1 + k or 9 + k) in the nibbles of words[j].
template <class Ops, int NV, int Levels, bool Gated>
inline int64_t MtStep(Lanes& s, const typename Ops::V* x, const float* neuron_bias, float inverse, uint64_t* words) {
  using V = typename Ops::V;
  int64_t count = 0;
  const V zero = Ops::Set(0.0f);
  const V eight = Ops::Set(8.0f);
  const V step = Ops::Set(inverse);
  for (int j = 0; j < NV; ++j) {
    const int o = 16 * j;
    const V d = Ops::Sub(x[j], Ops::Load(neuron_bias + o));
    V m = Ops::Add(Ops::Load(s.m + o), d);
    m = Ops::Add(m, Ops::Load(s.c + o));
    const V cumulative = Gated ? Ops::Add(Ops::Load(s.cumulative + o), Ops::Load(s.r_out + o)) : zero;
    V magnitude, k_magnitude;
    SelectLevel<Ops, Levels>(Ops::Abs(m), s.positive, s.value, o, magnitude, k_magnitude);
    V low = magnitude;
    V k_low = k_magnitude;
    if (Gated) {
      V reached, k_reached;
      SelectLevel<Ops, Levels>(cumulative, s.value, s.value, o, reached, k_reached);
      const uint32_t gate = Ops::Less(reached, magnitude);
      low = Ops::Blend(gate, reached, magnitude);
      k_low = Ops::Blend(gate, k_reached, k_magnitude);
    }
    const uint32_t rising = Ops::AtLeast(m, zero);
    const V spike = Ops::Blend(rising, magnitude, Ops::Neg(low));
    const V falling = Ops::Select(Ops::Less(zero, k_low), Ops::Add(k_low, eight));
    words[j] = Ops::PackNibbles(Ops::Blend(rising, k_magnitude, falling));
    Ops::Store(s.m + o, Ops::Sub(m, spike));
    if (Gated) {
      Ops::Store(s.cumulative + o, Ops::Add(cumulative, spike));
    }
    const V difference = Ops::Sub(d, spike);
    Ops::Store(s.c + o, Ops::Add(Ops::Load(s.c + o), Ops::Mul(difference, step)));
    if (Gated) {
      Ops::Store(s.r_out + o, Ops::Add(Ops::Load(s.r_out + o), Ops::Mul(spike, step)));
    }
    count += __builtin_popcount(Ops::NonZero(spike));
  }
  return count;
}

static inline void LoadLanes(float* to, const float* from, int64_t offset, int n) {
  for (int i = 0; i < n; ++i) {
    to[i] = from != nullptr ? from[offset + i] : 0.0f;
  }
}

static inline void StoreLanes(float* to, const float* from, int64_t offset, int n) {
  if (to != nullptr) {
    for (int i = 0; i < n; ++i) {
      to[offset + i] = from[i];
    }
  }
}

// The neuron of output channels [c0, c0 + 16·NV) of one pixel (its states at `state`, its neuron bias at `pixel_state`):
// absent states are the initial state (m = C = r_out = 0, c = b_n); with them the levels' values and thresholds.
template <class Ops, int NV, int Levels>
inline void LoadNeuron(const SpikeConvMtArgs& a, int64_t state, int64_t pixel_state, int64_t c0, Lanes& lanes) {
  constexpr int n = 16 * NV;
  LoadLanes(lanes.m, a.m_in, state, n);
  if (a.c_in != nullptr) {
    LoadLanes(lanes.c, a.c_in, state, n);
  } else {
    LoadLanes(lanes.c, a.neuron_bias, pixel_state, n);
  }
  LoadLanes(lanes.cumulative, a.cumulative_in, state, n);
  LoadLanes(lanes.r_out, a.r_out_in, state, n);
  for (int k = 0; k < Levels; ++k) {
    for (int j = 0; j < NV; ++j) {
      Ops::Store(lanes.value[k] + 16 * j, Ops::Load(a.value + k * a.padded + c0 + 16 * j));
      Ops::Store(lanes.positive[k] + 16 * j, Ops::Load(a.positive + k * a.padded + c0 + 16 * j));
    }
  }
}

// The neuron's final states, where they are written.
template <int NV>
inline void StoreNeuron(const SpikeConvMtArgs& a, int64_t state, const Lanes& lanes) {
  constexpr int n = 16 * NV;
  StoreLanes(a.m_out, lanes.m, state, n);
  StoreLanes(a.c_out, lanes.c, state, n);
  StoreLanes(a.cumulative_out, lanes.cumulative, state, n);
  StoreLanes(a.r_out_out, lanes.r_out, state, n);
}

// Output channels [c0, c0 + 16·NV) of pixel (oy, ox) of one sample over the K steps.
template <class Ops, int NV, int Levels>
inline void MtBlock(const SpikeConvMtArgs& a, const float* signed_scale, const SourceRows& rows, int64_t sample, int64_t oy, int64_t ox, int64_t c0, int64_t* counts) {
  using V = typename Ops::V;
  constexpr int n = 16 * NV;
  const int64_t pixel_state = (oy * a.width + ox) * a.padded + c0;
  const int64_t state = sample * a.height * a.width * a.padded + pixel_state;
  PixelTaps taps[2];
  for (int s = 0; s < a.sources; ++s) {
    FindTaps(a.source[s], oy, ox, a.source[s].table + c0, a.source[s].channels * rows.per_channel, taps[s]);
  }
  TapRows tap_rows[2];
  for (int s = 0; s < a.sources; ++s) {
    FormTapRows<Ops>(a.source[s], taps[s], rows, tap_rows[s]);
  }
  Events events;
  Lanes lanes;
  LoadNeuron<Ops, NV, Levels>(a, state, pixel_state, c0, lanes);
  // Without a neuron bias, d = x − 0 = x exactly (MtScan's drive is x then).
  float no_bias[n] = {};
  const float* neuron_bias = a.neuron_bias != nullptr ? a.neuron_bias + pixel_state : no_bias;
  V bias[NV];
  for (int j = 0; j < NV; ++j) {
    bias[j] = Ops::Load(a.bias + c0 + 16 * j);
  }
  // Every block of channels gathers the same events: the first counts them.
  const bool count_events = a.count_events && c0 == 0;
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t row = t * a.batch + sample;
    V acc[kChains<NV>][NV];
    StartChains<Ops, NV>(bias, acc);
    for (int s = 0; s < a.sources; ++s) {
      const int64_t gathered = AddCodes<Ops, NV>(a.source[s], taps[s], tap_rows[s], row, a.scaled, signed_scale, rows, events, acc);
      if (count_events) {
        counts[a.steps * (1 + s) + t] += gathered;
      }
    }
    // x in registers (through memory, the neuron's loads waited on the stores of the sums).
    V x[NV];
    for (int j = 0; j < NV; ++j) {
      x[j] = SumChains<Ops, NV>(acc, j);
    }
    const int64_t pixel = ((row * a.height + oy) * a.width + ox) * a.words;
    if (a.residual != nullptr) {
      // The residual spikes: θ·SignedScales[code] per lane (MtScan's values; θ·0 = 0 where no spike is).
      for (int j = 0; j < NV; ++j) {
        const V spikes = Ops::Mul(Ops::Load(a.residual_theta + c0 + 16 * j), Ops::Lookup(a.residual[pixel + c0 / 16 + j], signed_scale));
        x[j] = Ops::Add(x[j], spikes);
      }
    }
    uint64_t* words = a.output + pixel + c0 / 16;
    counts[t] += a.gated ? MtStep<Ops, NV, Levels, true>(lanes, x, neuron_bias, a.inverse[t], words) : MtStep<Ops, NV, Levels, false>(lanes, x, neuron_bias, a.inverse[t], words);
  }
  StoreNeuron<NV>(a, state, lanes);
}

template <class Ops, int NV>
inline void MtBlockLevels(const SpikeConvMtArgs& a, const float* signed_scale, const SourceRows& rows, int64_t sample, int64_t oy, int64_t ox, int64_t c0, int64_t* counts) {
  switch (a.levels) {
    case 1: MtBlock<Ops, NV, 1>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    case 2: MtBlock<Ops, NV, 2>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    case 3: MtBlock<Ops, NV, 3>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    case 4: MtBlock<Ops, NV, 4>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    case 5: MtBlock<Ops, NV, 5>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    case 6: MtBlock<Ops, NV, 6>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
    default: MtBlock<Ops, NV, 7>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
  }
}

// Runs the item's output rows (every block writes its own words of the output).
template <class Ops>
inline void Run(const SpikeConvMtArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts) {
  float signed_scale[16];
  SignedScales(a.scale, a.levels, signed_scale);
  SourceRows rows;
  FormSourceRows(a, rows);
  const int64_t vectors = a.padded / 16;
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    for (int64_t ox = 0; ox < a.width; ++ox) {
      for (int64_t first = 0; first < vectors; first += 4) {
        const int64_t c0 = first * 16;
        switch (Min64(4, vectors - first)) {
          case 1: MtBlockLevels<Ops, 1>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
          case 2: MtBlockLevels<Ops, 2>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
          case 3: MtBlockLevels<Ops, 3>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
          default: MtBlockLevels<Ops, 4>(a, signed_scale, rows, sample, oy, ox, c0, counts); break;
        }
      }
    }
  }
}

// SpikeEncode of one row: for blocks of 16 pixels and 16 channels, each channel's 16 contiguous values are compared with
// its ±θ·2^−k on vectors (no branches: spikes are sparse and their levels random) and their codes OR-ed into the
// pixels' words in a local block. A non-zero value that is no level of its channel sets *bad to the channel.
template <class Ops>
inline void EncodeRow(const float* spikes, const float* theta, const float* scale, int levels, int64_t channels, int64_t spatial, int64_t words,
                      int64_t row, uint64_t* output, int64_t* bad) {
  using V = typename Ops::V;
  const float* in = spikes + row * channels * spatial;
  uint64_t* out = output + row * spatial * words;
  const V zero = Ops::Set(0.0f);
  for (int64_t p0 = 0; p0 < spatial; p0 += 16) {
    const int pixels = static_cast<int>(spatial - p0 < 16 ? spatial - p0 : 16);
    for (int64_t w = 0; w < words; ++w) {
      uint64_t word[16] = {};
      for (int64_t c = w * 16; c < channels && c < w * 16 + 16; ++c) {
        // A whole block is loaded in place; a partial one through zero-filled lanes.
        float lanes[16];
        if (pixels < 16) {
          for (int l = 0; l < 16; ++l) {
            lanes[l] = l < pixels ? in[c * spatial + p0 + l] : 0.0f;
          }
        }
        const V s = Ops::Load(pixels == 16 ? in + c * spatial + p0 : lanes);
        V code = zero;
        uint32_t known = 0;
        for (int k = 0; k < levels; ++k) {
          const float value = k == 0 ? theta[c] : theta[c] * scale[k];
          const uint32_t up = Ops::Equal(s, Ops::Set(value));
          const uint32_t down = Ops::Equal(s, Ops::Set(-value));
          code = Ops::Blend(up, Ops::Set(static_cast<float>(1 + k)), code);
          code = Ops::Blend(down, Ops::Set(static_cast<float>(9 + k)), code);
          known |= up | down;
        }
        if ((Ops::NonZero(s) & ~known) != 0) {
          *bad = c;
        }
        Ops::OrShifted(word, code, static_cast<int>(4 * (c % 16)));
      }
      for (int l = 0; l < pixels; ++l) {
        out[(p0 + l) * words + w] = word[l];
      }
    }
  }
}

// The channels c … c + 15 of a pixel's codes that hold a spike (fan_out_impl.h).
struct CodeMasks {
  static uint32_t Of(const uint64_t* pixel, int64_t c) { return GatherNibbleBits(NonZeroNibbles(pixel[c / 16])); }
};

}  // namespace
}  // namespace codeconv
}  // namespace spiking
