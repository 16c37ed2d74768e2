// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The fused spiking convolution + IF kernel of bit_kernels.h, written once over a 16-lane vector type `Ops` and
// included by bit_kernels.cc (portable lanes) and bit_kernels_avx512.cc (AVX-512 registers). Uses no standard
// library functions, so that nothing here is compiled for a wider instruction set than the file that includes it.

#pragma once

#include "bit_kernels.h"

namespace spiking {
namespace bitconv {
// Internal linkage: the file is compiled once per instruction set, and no copy may stand in for another.
namespace {

static inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Adds the table rows of one input pixel's words. Skip visits only the non-zero nibbles (fewer table rows on sparse
// input, more bookkeeping per row; it pays when each row is several vectors wide).
template <class Ops, int NV, bool Skip>
inline void AddPixel(const uint64_t* pixel, int64_t words, int64_t groups, const float* table, int64_t padded, typename Ops::V* acc) {
  for (int64_t w = 0; w < words; ++w) {
    const uint64_t x = pixel[w];
    if (x == 0) {
      continue;
    }
    const float* base = table + w * 16 * 16 * padded;
    if (Skip) {
      uint64_t nonzero = x | (x >> 1);
      nonzero |= nonzero >> 2;
      nonzero &= 0x1111111111111111ull;
      while (nonzero != 0) {
        const int bit = __builtin_ctzll(nonzero);
        nonzero &= nonzero - 1;
        const float* entry = base + ((bit >> 2) * 16 + static_cast<int64_t>((x >> bit) & 15)) * padded;
        for (int j = 0; j < NV; ++j) {
          acc[j] = Ops::Add(acc[j], Ops::Load(entry + 16 * j));
        }
      }
    } else {
      const int64_t count = Min64(16, groups - w * 16);
      for (int64_t g = 0; g < count; ++g) {
        const float* entry = base + (g * 16 + static_cast<int64_t>((x >> (4 * g)) & 15)) * padded;
        for (int j = 0; j < NV; ++j) {
          acc[j] = Ops::Add(acc[j], Ops::Load(entry + 16 * j));
        }
      }
    }
  }
}

// Adds a source's contribution at one step, alternating two sets of accumulators between taps so that the additions
// form two dependency chains instead of one.
template <class Ops, int NV, bool Skip>
inline void AddSource(const BitSource& s, const PixelTaps& taps, int64_t row, int64_t padded, typename Ops::V* even, typename Ops::V* odd) {
  const uint64_t* bits = s.bits + row * s.height * s.width * s.words;
  int i = 0;
  for (; i + 1 < taps.count; i += 2) {
    AddPixel<Ops, NV, Skip>(bits + taps.offset[i], s.words, s.groups, taps.table[i], padded, even);
    AddPixel<Ops, NV, Skip>(bits + taps.offset[i + 1], s.words, s.groups, taps.table[i + 1], padded, odd);
  }
  if (i < taps.count) {
    AddPixel<Ops, NV, Skip>(bits + taps.offset[i], s.words, s.groups, taps.table[i], padded, even);
  }
}

// Output channels [c0, c0 + 16·NV) of pixel (oy, ox) of one sample over the K steps: the membranes stay in registers.
template <class Ops, int NV, bool Skip>
inline void Block(const SpikeConvArgs& a, int64_t sample, int64_t oy, int64_t ox, int64_t c0, int64_t* counts) {
  using V = typename Ops::V;
  const int64_t state = ((sample * a.height + oy) * a.width + ox) * a.padded + c0;
  PixelTaps taps[2];
  for (int s = 0; s < a.sources; ++s) {
    FindTaps(a.source[s], oy, ox, a.source[s].table + c0, a.source[s].groups * 16 * a.padded, taps[s]);
  }
  V v[NV], theta[NV], bias[NV], residual_theta[NV], zero[NV];
  for (int j = 0; j < NV; ++j) {
    v[j] = Ops::Load(a.membrane_in + state + 16 * j);
    theta[j] = Ops::Load(a.theta + c0 + 16 * j);
    bias[j] = Ops::Load(a.bias + c0 + 16 * j);
    residual_theta[j] = a.residual != nullptr ? Ops::Load(a.residual_theta + c0 + 16 * j) : bias[j];
    zero[j] = Ops::Set(0.0f);
  }
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t row = t * a.batch + sample;
    V acc[NV], odd[NV];
    for (int j = 0; j < NV; ++j) {
      acc[j] = bias[j];
      odd[j] = zero[j];
    }
    for (int s = 0; s < a.sources; ++s) {
      AddSource<Ops, NV, Skip>(a.source[s], taps[s], row, a.padded, acc, odd);
    }
    const int64_t pixel = ((row * a.height + oy) * a.width + ox) * a.words;
    for (int j = 0; j < NV; ++j) {
      acc[j] = Ops::Add(acc[j], odd[j]);
    }
    if (a.residual != nullptr) {
      for (int j = 0; j < NV; ++j) {
        const int64_t c = c0 + 16 * j;
        const uint32_t mask = static_cast<uint32_t>((a.residual[pixel + c / 64] >> (c % 64)) & 0xFFFF);
        acc[j] = Ops::Add(acc[j], Ops::Select(mask, residual_theta[j]));
      }
    }
    for (int j = 0; j < NV; ++j) {
      // The IF step of IfScan: m = v + x; fire = m ≥ θ; out = fire ? θ : 0; v = m − out (or fire ? 0 : m).
      const V m = Ops::Add(v[j], acc[j]);
      const uint32_t fire = Ops::AtLeast(m, theta[j]);
      v[j] = a.reset_to_zero ? Ops::Select(~fire & 0xFFFFu, m) : Ops::Sub(m, Ops::Select(fire, theta[j]));
      const int64_t c = c0 + 16 * j;
      a.output[pixel + c / 64] |= static_cast<uint64_t>(fire) << (c % 64);
      counts[t] += __builtin_popcount(fire);
    }
  }
  for (int j = 0; j < NV; ++j) {
    Ops::Store(a.membrane_out + state + 16 * j, v[j]);
  }
}

template <class Ops, bool Skip>
inline void Rows(const SpikeConvArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts) {
  const int64_t vectors = a.padded / 16;
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    for (int64_t ox = 0; ox < a.width; ++ox) {
      for (int64_t first = 0; first < vectors; first += 4) {
        const int64_t c0 = first * 16;
        switch (Min64(4, vectors - first)) {
          case 1: Block<Ops, 1, Skip>(a, sample, oy, ox, c0, counts); break;
          case 2: Block<Ops, 2, Skip>(a, sample, oy, ox, c0, counts); break;
          case 3: Block<Ops, 3, Skip>(a, sample, oy, ox, c0, counts); break;
          default: Block<Ops, 4, Skip>(a, sample, oy, ox, c0, counts); break;
        }
      }
    }
  }
}

// Zeroes the item's output rows (the blocks OR their bits in), then runs them; visits only non-zero nibbles when
// the output is at least three vectors wide (measured: slower on 16 and 32 channels, 3-6x faster on 64).
template <class Ops>
inline void Run(const SpikeConvArgs& a, int64_t sample, int64_t row_begin, int64_t row_end, int64_t* counts) {
  const int64_t per_row = a.width * a.words;
  for (int64_t t = 0; t < a.steps; ++t) {
    uint64_t* out = a.output + ((t * a.batch + sample) * a.height + row_begin) * per_row;
    for (int64_t i = 0, n = (row_end - row_begin) * per_row; i < n; ++i) {
      out[i] = 0;
    }
  }
  if (a.padded >= 48) {
    Rows<Ops, true>(a, sample, row_begin, row_end, counts);
  } else {
    Rows<Ops, false>(a, sample, row_begin, row_end, counts);
  }
}

// n (≤ 16) floats from p as a vector, the other lanes `fill`.
template <class Ops>
inline typename Ops::V LoadPartial(const float* p, int n, float fill) {
  if (n == 16) {
    return Ops::Load(p);
  }
  float lanes[16];
  for (int l = 0; l < 16; ++l) {
    lanes[l] = l < n ? p[l] : fill;
  }
  return Ops::Load(lanes);
}

// IfPack over pixels [begin, end) of one sample, in blocks of 16 pixels (contiguous in the channel-major input) and 64
// channels (one word): step by step, every channel's 16 membranes from a local block and back (a channel's chain
// over the steps is long, the channels' chains independent), the same float operations as IfScan; the fire masks
// are OR-ed into the 16 pixels' words in registers, written out once per step.
template <class Ops>
inline void PackRange(const IfPackArgs& a, int64_t sample, int64_t begin, int64_t end, int64_t* counts) {
  using V = typename Ops::V;
  const int64_t size = a.channels * a.spatial;
  float v[64 * 16];
  float theta[64 * 16];
  for (int64_t p0 = begin; p0 < end; p0 += 16) {
    const int n = static_cast<int>(end - p0 < 16 ? end - p0 : 16);
    const uint32_t valid = n == 16 ? 0xFFFFu : (1u << n) - 1u;
    for (int64_t w = 0; w < a.words; ++w) {
      const int64_t first = w * 64 * a.spatial + p0;
      const int channels = static_cast<int>(Min64(64, a.channels - w * 64));
      for (int i = 0; i < channels; ++i) {
        Ops::Store(v + 16 * i, LoadPartial<Ops>(a.membrane_in + sample * size + first + i * a.spatial, n, 0.0f));
        Ops::Store(theta + 16 * i, LoadPartial<Ops>(a.theta + first + i * a.spatial, n, 0.0f));
      }
      for (int64_t t = 0; t < a.steps; ++t) {
        const int64_t row = a.varying ? t * a.batch + sample : sample;
        const float* x = a.input + row * size + first;
        typename Ops::Words bits = Ops::NoWords();
        int64_t count = 0;
        for (int i = 0; i < channels; ++i) {
          const V threshold = Ops::Load(theta + 16 * i);
          const V m = Ops::Add(Ops::Load(v + 16 * i), LoadPartial<Ops>(x + i * a.spatial, n, 0.0f));
          const uint32_t fire = Ops::AtLeast(m, threshold) & valid;
          Ops::Store(v + 16 * i, a.reset_to_zero ? Ops::Select(~fire & 0xFFFFu, m) : Ops::Sub(m, Ops::Select(fire, threshold)));
          count += __builtin_popcount(fire);
          bits = Ops::OrBits(bits, fire, i);
        }
        counts[t] += count;
        uint64_t words[16];
        Ops::StoreWords(words, bits);
        uint64_t* out = a.output + ((t * a.batch + sample) * a.spatial + p0) * a.words + w;
        for (int l = 0; l < n; ++l) {
          out[l * a.words] = words[l];
        }
      }
      for (int i = 0; i < channels; ++i) {
        for (int l = 0; l < n; ++l) {
          a.membrane_out[sample * size + first + i * a.spatial + l] = v[16 * i + l];
        }
      }
    }
  }
}

// The spiking channels c … c + 15 of a pixel's bits (fan_out_impl.h).
struct BitMasks {
  static uint32_t Of(const uint64_t* pixel, int64_t c) { return static_cast<uint32_t>((pixel[c / 64] >> (c % 64)) & 0xFFFF); }
};

}  // namespace
}  // namespace bitconv
}  // namespace spiking
