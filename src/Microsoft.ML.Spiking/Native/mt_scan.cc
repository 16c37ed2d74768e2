// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "neuron_kernels.h"

namespace spiking {

namespace {

// Elements processed together. Every pass below is a simple loop over one tile held in L1, so the compiler
// vectorizes it; the thresholds of the tile (2·levels rows) are formed once per tile.
constexpr int64_t kTile = 256;
constexpr int kMaxLevels = 24;

struct Tile {
  float m[kTile];
  float c[kTile];
  float cumulative[kTile];
  float r_out[kTile];
  float drive[kTile];
  float spike[kTile];
  float magnitude[kTile];
  float selected[kTile];
  float value[kMaxLevels][kTile];
  float positive[kMaxLevels][kTile];
};

void Load(float* to, const float* from, int64_t offset, int64_t n) {
  if (from != nullptr) {
    std::memcpy(to, from + offset, static_cast<size_t>(n) * sizeof(float));
  }
}

void Store(float* to, const float* from, int64_t offset, int64_t n) {
  if (to != nullptr) {
    std::memcpy(to + offset, from, static_cast<size_t>(n) * sizeof(float));
  }
}

// The largest value[k] whose point[k] ≤ x, scanning k = n−1 … 0 like NeuronEmitters.Select; 0 if none.
void Select(const float* x, const float (*point)[kTile], const float (*value)[kTile], int levels, float* selected, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    selected[i] = 0.0f;
  }
  for (int k = levels - 1; k >= 0; --k) {
    const float* p = point[k];
    const float* v = value[k];
    for (int64_t i = 0; i < n; ++i) {
      selected[i] = x[i] >= p[i] ? v[i] : selected[i];
    }
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

void Step(const MtArgs& a, Tile& s, int64_t n, float* out, int64_t* fired) {
  float* m = s.m;
  const float* d = s.drive;
  if (a.differential) {
    for (int64_t i = 0; i < n; ++i) {
      const float sum = m[i] + d[i];
      m[i] = sum + s.c[i];
    }
    if (a.gated) {
      for (int64_t i = 0; i < n; ++i) {
        s.cumulative[i] = s.cumulative[i] + s.r_out[i];
      }
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m[i] + d[i];
    }
  }
  // |m| selects the magnitude; the gate caps a negative spike at the threshold C has reached.
  float* magnitude = s.magnitude;
  for (int64_t i = 0; i < n; ++i) {
    s.selected[i] = std::fabs(m[i]);
  }
  Select(s.selected, s.positive, s.value, a.levels, magnitude, n);
  if (a.gated) {
    Select(s.cumulative, s.value, s.value, a.levels, s.selected, n);
  }
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float low = a.gated ? (s.selected[i] < magnitude[i] ? s.selected[i] : magnitude[i]) : magnitude[i];
    const float fall = -low;
    const float spike = m[i] >= 0.0f ? magnitude[i] : fall;
    out[i] = spike;
    m[i] = m[i] - spike;
    count += spike != 0.0f;
    s.spike[i] = spike;
  }
  *fired += count;
  if (a.gated) {
    for (int64_t i = 0; i < n; ++i) {
      s.cumulative[i] = s.cumulative[i] + s.spike[i];
    }
  }
}

// Differential rate updates after step t: c += (d − s)·(1/t); r_out += s·(1/t).
void Rates(const MtArgs& a, Tile& s, int64_t t, int64_t n) {
  const float inverse = a.inverse[t];
  const float* d = s.drive;
  const float* spike = s.spike;
  for (int64_t i = 0; i < n; ++i) {
    const float difference = d[i] - spike[i];
    const float scaled = difference * inverse;
    s.c[i] = s.c[i] + scaled;
  }
  if (a.gated) {
    for (int64_t i = 0; i < n; ++i) {
      const float scaled = spike[i] * inverse;
      s.r_out[i] = s.r_out[i] + scaled;
    }
  }
}

}  // namespace

void MtScan(const MtArgs& a, const WorkItem& item, int64_t* counts) {
  const ScanLayout& l = a.layout;
  Tile s;
  for (int64_t tile = item.begin; tile < item.end; tile += kTile) {
    const int64_t n = std::min(kTile, item.end - tile);
    const int64_t state = item.sample * l.size + tile;
    const float* theta = a.theta + tile;
    for (int k = 0; k < a.levels; ++k) {
      // value[0] is θ itself (the standard lowering multiplies only for k > 0; θ·1 is θ anyway).
      const float scale = a.scale[k];
      const float fraction = a.fraction[k];
      for (int64_t i = 0; i < n; ++i) {
        s.value[k][i] = k == 0 ? theta[i] : theta[i] * scale;
        s.positive[k][i] = theta[i] * fraction;
      }
    }
    Load(s.m, a.m_in, state, n);
    Load(s.c, a.c_in, state, n);
    Load(s.cumulative, a.cumulative_in, state, n);
    Load(s.r_out, a.r_out_in, state, n);
    for (int64_t t = 0; t < l.steps; ++t) {
      Drive(a, item, tile, t, n, s.drive);
      float* out = a.output + (t * l.batch + item.sample) * l.size + tile;
      Step(a, s, n, out, &counts[t]);
      if (a.differential) {
        Rates(a, s, t, n);
      }
    }
    Store(a.m_out, s.m, state, n);
    Store(a.c_out, s.c, state, n);
    Store(a.cumulative_out, s.cumulative, state, n);
    Store(a.r_out_out, s.r_out, state, n);
  }
}

}  // namespace spiking
