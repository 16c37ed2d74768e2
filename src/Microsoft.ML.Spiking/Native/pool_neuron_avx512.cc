// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The max-pool neuron kernel (pool_neuron_impl.h) compiled for AVX-512. Only this file's own functions are built for
// AVX-512 (the target pragma comes after every header that defines inline functions); pool_neuron.cc calls it only
// when the CPU reports AVX-512F.

#include <cstring>

#include "neuron_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

#include "pool_neuron_impl.h"

namespace spiking {

void PoolNeuronPlaneAvx512(const PoolNeuronArgs& args, int64_t sample, int64_t channel, float* scratch) { poolneuron::Run(args, sample, channel, scratch); }

}  // namespace spiking

#pragma GCC pop_options
