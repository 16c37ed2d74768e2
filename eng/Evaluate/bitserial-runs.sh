#!/usr/bin/env bash
# The bit-serial figures of README's "Measured figures": ResNet-20 (a ReLU network) quantized after training to
# QCFS with L = 2^T − 1 levels (λ per channel: the 99.9th percentile, or the error-minimising Gaussian fit; calibrated on files 0500-0549 of
# each class), converted bit-serially and simulated on EVERY row of the CIFAR-10 JPEG test set, T = 3, 4, 5, 6.
# Each run prints the float ANN, the quantized ANN and the SNN accuracy, how many rows the SNN and the quantized ANN
# agree on, and the bit check (neurons whose bits differ from their QCFS level; must be 0).
# Usage: eng/Evaluate/bitserial-runs.sh [DATA] [THRESHOLDS]     (defaults ../shared/data and p99.9; "iteration" for the Gaussian fit)
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data}"
thresholds="${2:-p99.9}"
out="artifacts/bitserial-$thresholds"
mkdir -p "$out"
dotnet build -c Release eng/Evaluate -v q -nologo
for T in 3 4 5 6; do
  dotnet run -c Release --no-build --project eng/Evaluate -- --data="$data" --method=bitserial --thresholds="$thresholds" \
    --T=$T --every-row --out="$out/T$T.csv" | tail -n 24 > "$out/T$T.txt"
done
grep -H "ANN\|SNN\|energy\|spikes\|quantized" "$out"/*.txt
