// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// PortableOps: the 16-lane vector operations the kernel templates (bit_conv_impl.h, code_conv_impl.h, fan_out_impl.h)
// are written over, as plain loops the compiler vectorizes for the build's baseline instruction set. lanes_avx512.h
// has the same operations on AVX-512 registers. Internal linkage: each file that includes it has its own copy.

#pragma once

#include <cstdint>
#include <cstring>

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
  // a·b + c, rounded twice (the build does not contract it into a fused multiply-add).
  static V MulAdd(const V& a, const V& b, const V& c) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = a.lane[i] * b.lane[i] + c.lane[i];
    return r;
  }
  static V Sub(const V& a, const V& b) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = a.lane[i] - b.lane[i];
    return r;
  }
  static V Mul(const V& a, const V& b) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = a.lane[i] * b.lane[i];
    return r;
  }
  static V Abs(const V& a) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = __builtin_fabsf(a.lane[i]);
    return r;
  }
  static V Neg(const V& a) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = -a.lane[i];
    return r;
  }
  // Lane i: v[i] where bit i of mask is set, else 0.
  static V Select(uint32_t mask, const V& v) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = (mask >> i) & 1u ? v.lane[i] : 0.0f;
    return r;
  }
  // Lane i: a[i] where bit i of mask is set, else b[i].
  static V Blend(uint32_t mask, const V& a, const V& b) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = (mask >> i) & 1u ? a.lane[i] : b.lane[i];
    return r;
  }
  // Lane i: table[nibble i of codes].
  static V Lookup(uint64_t codes, const float* table) {
    V r;
    for (int i = 0; i < 16; ++i) r.lane[i] = table[(codes >> (4 * i)) & 15];
    return r;
  }
  // Lane order of Gather and GatherRows, as Avx512Ops has it: lane 2j holds nibble (channel) j, lane 2j + 1 nibble 8 + j.
  static int NibbleOfLane(int lane) { return lane / 2 + 8 * (lane % 2); }
  // The non-zero nibbles of codes as events: row rows[lane] + word_offset and factor table[nibble], packed to the front of
  // offset and factor (which hold 16 slots); returns their number.
  static int Gather(uint64_t codes, const float* table, const int32_t* rows, int32_t word_offset, int32_t* offset, float* factor) {
    int n = 0;
    for (int lane = 0; lane < 16; ++lane) {
      const uint32_t code = static_cast<uint32_t>((codes >> (4 * NibbleOfLane(lane))) & 15);
      if (code != 0) {
        offset[n] = rows[lane] + word_offset;
        factor[n] = table[code];
        ++n;
      }
    }
    return n;
  }
  // The lanes (small non-negative integers 0 … 15 as floats) as nibbles: lane i in bits 4i … 4i + 3.
  static uint64_t PackNibbles(const V& codes) {
    uint64_t word = 0;
    for (int i = 0; i < 16; ++i) word |= static_cast<uint64_t>(codes.lane[i]) << (4 * i);
    return word;
  }
  // The non-zero nibbles of codes as table rows rows[lane] + code_rows[nibble] + word_offset (scaled tables); returns
  // their number.
  static int GatherRows(uint64_t codes, const int32_t* code_rows, const int32_t* rows, int32_t word_offset, int32_t* offset) {
    int n = 0;
    for (int lane = 0; lane < 16; ++lane) {
      const uint32_t code = static_cast<uint32_t>((codes >> (4 * NibbleOfLane(lane))) & 15);
      if (code != 0) {
        offset[n++] = rows[lane] + code_rows[code] + word_offset;
      }
    }
    return n;
  }
  // to[i] = from[i] + base for the 16 lanes.
  static void OffsetRows(int32_t* to, const int32_t* from, int32_t base) {
    for (int i = 0; i < 16; ++i) to[i] = from[i] + base;
  }
  // 16 words (one per lane) kept while bits are OR-ed into them.
  struct Words {
    uint64_t lane[16];
  };
  static Words NoWords() { return Words{}; }
  // Word i | bit i of mask << shift, for the 16 lanes.
  static Words OrBits(const Words& words, uint32_t mask, int shift) {
    Words result = words;
    for (int i = 0; i < 16; ++i) result.lane[i] |= static_cast<uint64_t>((mask >> i) & 1u) << shift;
    return result;
  }
  static void StoreWords(uint64_t* p, const Words& words) { std::memcpy(p, words.lane, sizeof(words.lane)); }
  // words[i] |= lane i (a small non-negative integer as a float) << shift, for the 16 lanes.
  static void OrShifted(uint64_t* words, const V& codes, int shift) {
    for (int i = 0; i < 16; ++i) words[i] |= static_cast<uint64_t>(codes.lane[i]) << shift;
  }
  // Bit i set where a[i] ≥ b[i] (false for NaN).
  static uint32_t AtLeast(const V& a, const V& b) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= (a.lane[i] >= b.lane[i] ? 1u : 0u) << i;
    return mask;
  }
  // Bit i set where a[i] == b[i] (false for NaN).
  static uint32_t Equal(const V& a, const V& b) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= (a.lane[i] == b.lane[i] ? 1u : 0u) << i;
    return mask;
  }
  // Bit i set where a[i] < b[i] (false for NaN).
  static uint32_t Less(const V& a, const V& b) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= (a.lane[i] < b.lane[i] ? 1u : 0u) << i;
    return mask;
  }
  // Bit i set where a[i] != 0 (true for NaN).
  static uint32_t NonZero(const V& a) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= (a.lane[i] != 0.0f ? 1u : 0u) << i;
    return mask;
  }
};

}  // namespace
}  // namespace spiking
