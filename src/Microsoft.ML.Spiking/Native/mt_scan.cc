// Licensed under the MIT license. Part of Microsoft.ML.Spiking.
//
// MtScan and MtScanCodes: the AVX-512 build of mt_scan_impl.h where the CPU has it (four times the lanes of the
// baseline build's vectors), else the baseline build.

#include "bit_kernels.h"
#include "mt_scan_impl.h"

namespace spiking {

void MtScan(const MtArgs& args, const WorkItem& item, int64_t* counts, bool portable) {
  if (!portable && HasAvx512()) {
    MtScanAvx512(args, item, counts);
  } else {
    mtscan::Scan(args, item, counts);
  }
}

void MtScanCodes(const MtArgs& args, const CodeLayout& codes, const WorkItem& item, int64_t* counts, bool portable) {
  if (!portable && HasAvx512()) {
    MtScanCodesAvx512(args, codes, item, counts);
  } else {
    mtscan::ScanCodes(args, codes, item, counts);
  }
}

}  // namespace spiking
