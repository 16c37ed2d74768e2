// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// Avx512Ops: the operations of PortableOps (lanes_portable.h) on AVX-512 registers, lane masks in mask registers. To be
// included only after `#pragma GCC target("avx512f")` (bit_kernels_avx512.cc, code_kernels_avx512.cc), so that only
// those files' own functions are built for AVX-512. Internal linkage: each file that includes it has its own copy.

#pragma once

#include <immintrin.h>

#include <cstdint>

namespace spiking {
namespace {

// Sixteen float lanes in one register.
struct Avx512Ops {
  using V = __m512;
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V Set(float value) { return _mm512_set1_ps(value); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V MulAdd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V Abs(V a) { return _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF))); }
  static V Neg(V a) { return _mm512_castsi512_ps(_mm512_xor_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(static_cast<int>(0x80000000u)))); }
  static V Select(uint32_t mask, V v) { return _mm512_maskz_mov_ps(static_cast<__mmask16>(mask), v); }
  static V Blend(uint32_t mask, V a, V b) { return _mm512_mask_blend_ps(static_cast<__mmask16>(mask), b, a); }
  // Lane i: table[nibble i of codes] (the nibbles spread to bytes, widened to 32-bit indices, one permute).
  static V Lookup(uint64_t codes, const float* table) {
    const __m128i word = _mm_cvtsi64_si128(static_cast<long long>(codes));
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i bytes = _mm_unpacklo_epi8(_mm_and_si128(word, nibble), _mm_and_si128(_mm_srli_epi64(word, 4), nibble));
    return _mm512_maskz_permutexvar_ps(0xFFFF, _mm512_maskz_cvtepu8_epi32(0xFFFF, bytes), _mm512_loadu_ps(table));
  }
  // The 16 nibbles of codes in the low four bits of 32-bit lanes (the bits above them are the word's higher nibbles),
  // interleaved: lane 2j holds nibble j, lane 2j + 1 nibble 8 + j (each 64-bit lane of the broadcast word shifts its
  // two halves alike: one broadcast, one shift). A permute reads only those four bits, so none are masked off.
  static __m512i NibbleLanes(uint64_t codes) {
    const __m512i shifts = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    return _mm512_maskz_srlv_epi32(0xFFFF, _mm512_set1_epi64(static_cast<long long>(codes)), shifts);
  }
  static int Count(__mmask16 mask) { return __builtin_popcount(_cvtmask16_u32(mask)); }
  // The non-zero nibbles of codes as events: row rows[lane] + word_offset and factor table[nibble], compressed in
  // registers and stored whole (16 slots; a compressing store to memory is slow on some CPUs); returns their number.
  // Lanes in NibbleLanes' order; rows[] follows it.
  static int Gather(uint64_t codes, const float* table, const int32_t* rows, int32_t word_offset, int32_t* offset, float* factor) {
    const __m512 factors = _mm512_maskz_permutexvar_ps(0xFFFF, NibbleLanes(codes), _mm512_loadu_ps(table));
    const __mmask16 mask = _mm512_cmp_ps_mask(factors, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    __m512i selected = _mm512_loadu_si512(rows);
    if (word_offset != 0) {
      selected = _mm512_add_epi32(selected, _mm512_set1_epi32(word_offset));
    }
    _mm512_storeu_ps(factor, _mm512_maskz_compress_ps(mask, factors));
    _mm512_storeu_si512(offset, _mm512_maskz_compress_epi32(mask, selected));
    return Count(mask);
  }
  // The lanes (small non-negative integers 0 … 15 as floats) as nibbles: lane i in bits 4i … 4i + 3.
  static uint64_t PackNibbles(V codes) {
    const __m128i bytes = _mm512_maskz_cvtepi32_epi8(0xFFFF, _mm512_maskz_cvttps_epi32(0xFFFF, codes));
    const __m128i pairs = _mm_and_si128(_mm_or_si128(bytes, _mm_srli_epi16(bytes, 4)), _mm_set1_epi16(0x00FF));
    return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs)));
  }
  // The non-zero nibbles of codes as table rows rows[lane] + code_rows[nibble] + word_offset (scaled tables), stored as
  // Gather stores them; returns their number.
  static int GatherRows(uint64_t codes, const int32_t* code_rows, const int32_t* rows, int32_t word_offset, int32_t* offset) {
    const __m512i index = NibbleLanes(codes);
    const __mmask16 mask = _mm512_test_epi32_mask(index, _mm512_set1_epi32(15));
    __m512i selected = _mm512_add_epi32(_mm512_loadu_si512(rows), _mm512_maskz_permutexvar_epi32(0xFFFF, index, _mm512_loadu_si512(code_rows)));
    if (word_offset != 0) {
      selected = _mm512_add_epi32(selected, _mm512_set1_epi32(word_offset));
    }
    _mm512_storeu_si512(offset, _mm512_maskz_compress_epi32(mask, selected));
    return Count(mask);
  }
  // to[i] = from[i] + base for the 16 lanes.
  static void OffsetRows(int32_t* to, const int32_t* from, int32_t base) {
    _mm512_storeu_si512(to, _mm512_add_epi32(_mm512_loadu_si512(from), _mm512_set1_epi32(base)));
  }
  // 16 words (one per lane, eight to a register) kept in registers while bits are OR-ed into them.
  struct Words {
    __m512i low, high;
  };
  static Words NoWords() { return Words{_mm512_setzero_si512(), _mm512_setzero_si512()}; }
  // Word i | bit i of mask << shift, for the 16 lanes: the bit OR-ed into the words of the set lanes, eight at a time.
  static Words OrBits(const Words& words, uint32_t mask, int shift) {
    const __m512i bit = _mm512_set1_epi64(static_cast<long long>(1ull << shift));
    return Words{_mm512_mask_or_epi64(words.low, static_cast<__mmask8>(mask), words.low, bit),
                 _mm512_mask_or_epi64(words.high, static_cast<__mmask8>(mask >> 8), words.high, bit)};
  }
  static void StoreWords(uint64_t* p, const Words& words) {
    _mm512_storeu_si512(p, words.low);
    _mm512_storeu_si512(p + 8, words.high);
  }
  // words[i] |= lane i (a small non-negative integer as a float) << shift, for the 16 lanes.
  static void OrShifted(uint64_t* words, V codes, int shift) {
    // The two halves widened from memory (GCC's 512-to-256-bit cast reads an undefined register).
    int32_t lanes[16];
    _mm512_storeu_si512(lanes, _mm512_maskz_cvttps_epi32(0xFFFF, codes));
    const __m128i count = _mm_cvtsi32_si128(shift);
    for (int half = 0; half < 2; ++half) {
      const __m512i wide = _mm512_maskz_cvtepu32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes + 8 * half)));
      _mm512_storeu_si512(words + 8 * half, _mm512_or_si512(_mm512_loadu_si512(words + 8 * half), _mm512_maskz_sll_epi64(0xFF, wide, count)));
    }
  }
  static uint32_t AtLeast(V a, V b) { return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)); }
  static uint32_t Equal(V a, V b) { return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)); }
  static uint32_t Less(V a, V b) { return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)); }
  static uint32_t NonZero(V a) { return static_cast<uint32_t>(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_NEQ_UQ)); }
};

}  // namespace
}  // namespace spiking
