// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// PoolNeuronPlane: the AVX-512 build of pool_neuron_impl.h where the CPU has it, else the baseline build.

#include "bit_kernels.h"
#include "pool_neuron_impl.h"

namespace spiking {

void PoolNeuronPlane(const PoolNeuronArgs& args, int64_t sample, int64_t channel, float* scratch, bool portable) {
  if (!portable && HasAvx512()) {
    PoolNeuronPlaneAvx512(args, sample, channel, scratch);
  } else {
    poolneuron::Run(args, sample, channel, scratch);
  }
}

}  // namespace spiking
