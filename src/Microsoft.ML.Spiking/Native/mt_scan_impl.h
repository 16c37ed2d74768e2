// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The multi-threshold neuron kernels of neuron_kernels.h (MtScan, MtScanCodes) as plain loops the compiler vectorizes.
// Included by mt_scan.cc (baseline target) and mt_scan_avx512.cc (after its AVX-512 target pragma): each gets its own
// copy (internal linkage), built for its target. The float operations are the same in both (-ffp-contract=off), so
// the two agree bit for bit.

#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>

#include "code_kernels.h"
#include "neuron_kernels.h"

namespace spiking {
namespace mtscan {
namespace {

// Elements processed together: the tile's state and thresholds (2·levels rows, formed once per tile) stay in L1
// across the K steps while the inputs and outputs stream.
constexpr int64_t kTile = 256;
constexpr int kMaxLevels = 24;

struct Tile {
  float m[kTile];
  float c[kTile];
  float cumulative[kTile];
  float r_out[kTile];
  float drive[kTile];
  float value[kMaxLevels][kTile];
  float positive[kMaxLevels][kTile];
  float spike[kTile];  // MtScanCodes: the step's spikes
  float code[kTile];   // and their codes (as floats, so that the selections vectorize)
};

// A state in; an absent one (a chunk that starts from the initial state) is `initial` at `initial_offset`, or zeros.
void Load(float* to, const float* from, int64_t offset, int64_t n, const float* initial = nullptr, int64_t initial_offset = 0) {
  if (from != nullptr) {
    std::memcpy(to, from + offset, static_cast<size_t>(n) * sizeof(float));
  } else if (initial != nullptr) {
    std::memcpy(to, initial + initial_offset, static_cast<size_t>(n) * sizeof(float));
  } else {
    std::memset(to, 0, static_cast<size_t>(n) * sizeof(float));
  }
}

void Store(float* to, const float* from, int64_t offset, int64_t n) {
  if (to != nullptr) {
    std::memcpy(to + offset, from, static_cast<size_t>(n) * sizeof(float));
  }
}

// The drive of step t: the input (rate form), x − bias, or (x − bias)·first[t] for a constant input.
void Drive(const MtArgs& a, const WorkItem& item, int64_t tile, int64_t t, int64_t n, float* drive) {
  const ScanLayout& l = a.layout;
  const int64_t row = l.varying ? t * l.batch + item.sample : item.sample;
  const float* x = a.input + row * l.size + tile;
  const float* bias = a.bias != nullptr ? a.bias + tile : nullptr;
  if (!a.differential || l.varying) {
    if (bias != nullptr && a.differential) {
      for (int64_t i = 0; i < n; ++i) {
        drive[i] = x[i] - bias[i];
      }
    } else {
      std::memcpy(drive, x, static_cast<size_t>(n) * sizeof(float));
    }
    return;
  }
  const float first = a.first[t];
  if (bias != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      const float once = x[i] - bias[i];
      drive[i] = once * first;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      drive[i] = x[i] * first;
    }
  }
}

// One step over a tile, every operation of an element in one loop body so that its values stay in registers:
// the levels loop is unrolled (Levels is a template argument) and the compiler vectorizes across elements. Per
// element the operations and their order are those of the standard lowering (NeuronEmitters.MultiThresholdNeuron).
template <int Levels, bool Gated, bool Differential>
int64_t StepFused(Tile& s, int64_t n, const float* drive, float inverse, float* out) {
  int32_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = drive[i];
    float m = s.m[i] + d;
    float cumulative = 0.0f;
    if (Differential) {
      m = m + s.c[i];
    }
    if (Gated) {
      cumulative = Differential ? s.cumulative[i] + s.r_out[i] : s.cumulative[i];
    }
    // |m| selects the magnitude: the largest value[k] whose positive[k] ≤ |m|, scanning k = n−1 … 0.
    const float magnitude_of_m = std::fabs(m);
    float magnitude = 0.0f;
    for (int k = Levels - 1; k >= 0; --k) {
      magnitude = magnitude_of_m >= s.positive[k][i] ? s.value[k][i] : magnitude;
    }
    float low = magnitude;
    if (Gated) {
      // The gate caps a negative spike at the threshold C has reached (Min of the two selections).
      float reached = 0.0f;
      for (int k = Levels - 1; k >= 0; --k) {
        reached = cumulative >= s.value[k][i] ? s.value[k][i] : reached;
      }
      low = reached < magnitude ? reached : magnitude;
    }
    const float fall = -low;
    const float spike = m >= 0.0f ? magnitude : fall;
    out[i] = spike;
    s.m[i] = m - spike;
    count += spike != 0.0f ? 1 : 0;
    if (Gated) {
      s.cumulative[i] = cumulative + spike;
    }
    if (Differential) {
      const float difference = d - spike;
      s.c[i] = s.c[i] + difference * inverse;
      if (Gated) {
        s.r_out[i] = s.r_out[i] + spike * inverse;
      }
    }
  }
  return count;
}

using StepFunction = int64_t (*)(Tile&, int64_t, const float*, float, float*);

// The codes of a tile's spikes, compared as SpikeEncode compares them: 1 + k for +value[k], 9 + k for −value[k], else 0.
template <int Levels>
void EncodeFused(Tile& s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float spike = s.spike[i];
    float code = 0.0f;
    for (int k = 0; k < Levels; ++k) {
      code = spike == s.value[k][i] ? static_cast<float>(1 + k) : code;
      code = spike == -s.value[k][i] ? static_cast<float>(9 + k) : code;
    }
    s.code[i] = code;
  }
}

using EncodeFunction = void (*)(Tile&, int64_t);

template <int Levels>
EncodeFunction PickEncode(int levels) {
  if constexpr (Levels > kMaxCodeLevels) {
    return nullptr;
  } else {
    return levels == Levels ? &EncodeFused<Levels> : PickEncode<Levels + 1>(levels);
  }
}

template <int Levels>
StepFunction Pick(int levels, bool gated, bool differential) {
  if constexpr (Levels > kMaxLevels) {
    return nullptr;
  } else {
    if (levels != Levels) {
      return Pick<Levels + 1>(levels, gated, differential);
    }
    if (gated) {
      return differential ? &StepFused<Levels, true, true> : &StepFused<Levels, true, false>;
    }
    return differential ? &StepFused<Levels, false, true> : &StepFused<Levels, false, false>;
  }
}

// The state of a tile (elements tile … of a sample) in and out. Absent states are the initial ones: m = C = r_out = 0,
// c = the bias (differential) or 0.
void LoadState(const MtArgs& a, Tile& s, int64_t state, int64_t tile, int64_t n) {
  Load(s.m, a.m_in, state, n);
  Load(s.c, a.c_in, state, n, a.differential ? a.bias : nullptr, tile);
  Load(s.cumulative, a.cumulative_in, state, n);
  Load(s.r_out, a.r_out_in, state, n);
}

void StoreState(const MtArgs& a, const Tile& s, int64_t state, int64_t n) {
  Store(a.m_out, s.m, state, n);
  Store(a.c_out, s.c, state, n);
  Store(a.cumulative_out, s.cumulative, state, n);
  Store(a.r_out_out, s.r_out, state, n);
}

void Scan(const MtArgs& a, const WorkItem& item, int64_t* counts) {
  const ScanLayout& l = a.layout;
  const StepFunction step = Pick<1>(a.levels, a.gated, a.differential);
  if (step == nullptr) {
    return;  // The operator checks 1 ≤ levels ≤ 24 when it is created.
  }
  Tile s;
  for (int64_t tile = item.begin; tile < item.end; tile += kTile) {
    const int64_t n = std::min(kTile, item.end - tile);
    const int64_t state = item.sample * l.size + tile;
    FormLevels(a.theta + tile, n, a.scale, a.fraction, a.levels, kTile, &s.value[0][0], &s.positive[0][0]);
    LoadState(a, s, state, tile, n);
    for (int64_t t = 0; t < l.steps; ++t) {
      Drive(a, item, tile, t, n, s.drive);
      float* out = a.output + (t * l.batch + item.sample) * l.size + tile;
      counts[t] += step(s, n, s.drive, a.differential ? a.inverse[t] : 0.0f, out);
    }
    StoreState(a, s, state, n);
  }
}

void ScanCodes(const MtArgs& a, const CodeLayout& codes, const WorkItem& item, int64_t* counts) {
  const ScanLayout& l = a.layout;
  const StepFunction step = Pick<1>(a.levels, a.gated, a.differential);
  const EncodeFunction encode = PickEncode<1>(a.levels);
  if (step == nullptr || encode == nullptr) {
    return;  // The operator checks 1 ≤ levels ≤ 7 when it is created.
  }
  // Locals: the stores of the codes may alias the layout's members, which would keep them in memory.
  const int64_t stride = codes.words;
  const int64_t row_words = codes.spatial * stride;
  for (int64_t t = 0; t < l.steps; ++t) {
    std::memset(codes.output + (t * l.batch + item.sample) * row_words, 0, static_cast<size_t>(row_words) * sizeof(uint64_t));
  }
  Tile s;
  for (int64_t tile = 0; tile < l.size;) {
    // A tile stays within one channel: its codes share a nibble of their pixels' words.
    const int64_t channel = tile / codes.spatial;
    const int64_t pixel = tile - channel * codes.spatial;
    const int64_t n = std::min(kTile, codes.spatial - pixel);
    const int64_t state = item.sample * l.size + tile;
    FormLevels(a.theta + tile, n, a.scale, a.fraction, a.levels, kTile, &s.value[0][0], &s.positive[0][0]);
    LoadState(a, s, state, tile, n);
    const int shift = static_cast<int>(4 * (channel % 16));
    for (int64_t t = 0; t < l.steps; ++t) {
      Drive(a, item, tile, t, n, s.drive);
      counts[t] += step(s, n, s.drive, a.differential ? a.inverse[t] : 0.0f, s.spike);
      encode(s, n);
      uint64_t* words = codes.output + (t * l.batch + item.sample) * row_words + pixel * stride + channel / 16;
      if (stride == 1) {
        for (int64_t i = 0; i < n; ++i) {  // contiguous words (up to 16 channels): vectorized
          words[i] |= static_cast<uint64_t>(static_cast<int32_t>(s.code[i])) << shift;
        }
      } else {
        for (int64_t i = 0; i < n; ++i) {
          words[i * stride] |= static_cast<uint64_t>(static_cast<int32_t>(s.code[i])) << shift;
        }
      }
    }
    StoreState(a, s, state, n);
    tile += n;
  }
}

}  // namespace
}  // namespace mtscan
}  // namespace spiking
