// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// The multi-threshold neuron kernels (mt_scan_impl.h) compiled for AVX-512. Only this file's own functions are built
// for AVX-512 (the target pragma comes after every header that defines inline functions); mt_scan.cc calls them only
// when the CPU reports AVX-512F.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "code_kernels.h"
#include "neuron_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f")

#include "mt_scan_impl.h"

namespace spiking {

void MtScanAvx512(const MtArgs& args, const WorkItem& item, int64_t* counts) { mtscan::Scan(args, item, counts); }

void MtScanCodesAvx512(const MtArgs& args, const CodeLayout& codes, const WorkItem& item, int64_t* counts) {
  mtscan::ScanCodes(args, codes, item, counts);
}

}  // namespace spiking

#pragma GCC pop_options
