// Licensed under the MIT license. Part of Microsoft.ML.Spiking.

#include <algorithm>
#include <cstring>

#include "neuron_kernels.h"

namespace spiking {

namespace {

// Elements processed together: the membrane tile stays in L1 across the K steps while inputs and outputs stream.
constexpr int64_t kTile = 1024;

}  // namespace

std::vector<WorkItem> SplitWork(int64_t batch, int64_t size, int64_t grain) {
  std::vector<WorkItem> items;
  int64_t parts = std::max<int64_t>(1, (size + grain - 1) / grain);
  int64_t step = (size + parts - 1) / parts;
  items.reserve(static_cast<size_t>(batch * parts));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t begin = 0; begin < size; begin += step) {
      items.push_back(WorkItem{b, begin, std::min(size, begin + step)});
    }
  }
  return items;
}

void IfScan(const IfArgs& a, const WorkItem& item, int64_t* counts) {
  const ScanLayout& l = a.layout;
  float v[kTile];
  for (int64_t tile = item.begin; tile < item.end; tile += kTile) {
    const int64_t n = std::min(kTile, item.end - tile);
    const int64_t state = item.sample * l.size + tile;
    std::memcpy(v, a.membrane_in + state, static_cast<size_t>(n) * sizeof(float));
    const float* theta = a.theta + tile;
    for (int64_t t = 0; t < l.steps; ++t) {
      const int64_t row = l.varying ? t * l.batch + item.sample : item.sample;
      const float* x = a.input + row * l.size + tile;
      float* out = a.output + (t * l.batch + item.sample) * l.size + tile;
      int32_t fired = 0;
      if (a.reset_to_zero) {
        for (int64_t i = 0; i < n; ++i) {
          const float m = v[i] + x[i];
          const bool fire = m >= theta[i];
          const float s = fire ? theta[i] : 0.0f;
          out[i] = s;
          v[i] = fire ? 0.0f : m;
          fired += s != 0.0f ? 1 : 0;
        }
      } else {
        for (int64_t i = 0; i < n; ++i) {
          const float m = v[i] + x[i];
          const float s = m >= theta[i] ? theta[i] : 0.0f;
          out[i] = s;
          v[i] = m - s;
          fired += s != 0.0f ? 1 : 0;
        }
      }
      counts[t] += fired;
    }
    std::memcpy(a.membrane_out + state, v, static_cast<size_t>(n) * sizeof(float));
  }
}

}  // namespace spiking
