// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The max-pool neuron kernel of neuron_kernels.h (PoolNeuronPlane) as plain loops the compiler vectorizes. Included
// by pool_neuron.cc (baseline target) and pool_neuron_avx512.cc (after its AVX-512 target pragma): each gets its own
// copy (internal linkage), built for its target. Per element the float operations and their order are those of the
// standard lowering (NeuronEmitters.MaxPoolNeuron), so both builds agree with it bit for bit (-ffp-contract=off).

#pragma once

#include <cstring>

#include "neuron_kernels.h"

namespace spiking {
namespace poolneuron {
namespace {

// A state into the buffer the kernel works in; an absent one (a chunk that starts from the initial state) is `initial`,
// or zeros.
void Copy(float* to, const float* from, int64_t n, const float* initial = nullptr) {
  const float* source = from != nullptr ? from : initial;
  if (source == nullptr) {
    std::memset(to, 0, static_cast<size_t>(n) * sizeof(float));
  } else if (to != source) {
    std::memcpy(to, source, static_cast<size_t>(n) * sizeof(float));
  }
}

// v = (v + d) + r_in; r_in = r_in + d·(1/t), with d = x − bias (x, without a bias) for a per-step input, or
// (x − bias)·first (x·first) for an input presented once.
void Integrate(const PoolNeuronArgs& a, const float* x, const float* bias, float first, float inverse, int64_t n, float* v, float* r_in) {
  if (a.varying && bias != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      const float d = x[i] - bias[i];
      v[i] = (v[i] + d) + r_in[i];
      r_in[i] = r_in[i] + d * inverse;
    }
  } else if (a.varying) {
    for (int64_t i = 0; i < n; ++i) {
      const float d = x[i];
      v[i] = (v[i] + d) + r_in[i];
      r_in[i] = r_in[i] + d * inverse;
    }
  } else if (bias != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      const float once = x[i] - bias[i];
      const float d = once * first;
      v[i] = (v[i] + d) + r_in[i];
      r_in[i] = r_in[i] + d * inverse;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float d = x[i] * first;
      v[i] = (v[i] + d) + r_in[i];
      r_in[i] = r_in[i] + d * inverse;
    }
  }
}

// One output row: O = the window's max; the window's v −= O; s = O − r_out; r_out += s·(1/t). KH, KW > 0 fix the
// kernel at compile time (2 × 2: the loop vectorizes over the output pixels); 0 reads it from the args.
template <int KH, int KW>
void PoolRow(const PoolNeuronArgs& a, float* rows, float inverse, float* r_out, float* out) {
  const int64_t kh = KH > 0 ? KH : a.kernel_h;
  const int64_t kw = KW > 0 ? KW : a.kernel_w;
  const int64_t width = a.width;
  for (int64_t ox = 0; ox < a.out_w; ++ox) {
    float* window = rows + ox * kw;
    float o = window[0];
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float e = window[ky * width + kx];
        o = e > o ? e : o;
      }
    }
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        window[ky * width + kx] = window[ky * width + kx] - o;
      }
    }
    const float s = o - r_out[ox];
    r_out[ox] = r_out[ox] + s * inverse;
    out[ox] = s;
  }
}

// The K steps of one channel of one sample, its state worked on in place in the state outputs (in L1 or L2: one map).
template <int KH, int KW>
void Plane(const PoolNeuronArgs& a, int64_t sample, int64_t channel, float* scratch) {
  const int64_t plane = a.height * a.width;
  const int64_t out_plane = a.out_h * a.out_w;
  const int64_t state = (sample * a.channels + channel) * plane;
  const int64_t out_state = (sample * a.channels + channel) * out_plane;
  // In place in the state outputs; where the chunk leaves one out, in the item's scratch (2·plane + out_plane floats).
  float* v = a.v_out != nullptr ? a.v_out + state : scratch;
  float* r_in = a.r_in_out != nullptr ? a.r_in_out + state : scratch + plane;
  float* r_out = a.r_out_out != nullptr ? a.r_out_out + out_state : scratch + 2 * plane;
  const float* bias = a.bias != nullptr ? a.bias + channel * plane : nullptr;
  // Absent states are the initial ones: v = r_out = 0, r_in = the bias (or 0).
  Copy(v, a.v_in != nullptr ? a.v_in + state : nullptr, plane);
  Copy(r_in, a.r_in_in != nullptr ? a.r_in_in + state : nullptr, plane, bias);
  Copy(r_out, a.r_out_in != nullptr ? a.r_out_in + out_state : nullptr, out_plane);
  const int64_t kh = KH > 0 ? KH : a.kernel_h;
  for (int64_t t = 0; t < a.steps; ++t) {
    const float inverse = a.inverse[t];
    const int64_t row = a.varying ? t * a.batch + sample : sample;
    Integrate(a, a.input + (row * a.channels + channel) * plane, bias, a.first[t], inverse, plane, v, r_in);
    float* out = a.output + ((t * a.batch + sample) * a.channels + channel) * out_plane;
    for (int64_t oy = 0; oy < a.out_h; ++oy) {
      PoolRow<KH, KW>(a, v + oy * kh * a.width, inverse, r_out + oy * a.out_w, out + oy * a.out_w);
    }
  }
}

void Run(const PoolNeuronArgs& a, int64_t sample, int64_t channel, float* scratch) {
  if (a.kernel_h == 2 && a.kernel_w == 2) {
    Plane<2, 2>(a, sample, channel, scratch);
  } else {
    Plane<0, 0>(a, sample, channel, scratch);
  }
}

}  // namespace
}  // namespace poolneuron
}  // namespace spiking
