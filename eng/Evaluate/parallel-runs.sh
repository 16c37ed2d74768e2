#!/usr/bin/env bash
# The parallel-conversion figures of README's "Measured figures": ResNet-20 (a ReLU network, training-free) with
# threshold recording (channel max over files 0500-0549 of each class), without and with distribution-aware
# calibration (one more pass over the same 500 images), T = 4, 8, 16, 32, evaluated on the other images.
# Usage: eng/Evaluate/parallel-runs.sh [DATA] [LIMIT]     (defaults ../shared/data and 9500, i.e. all of them)
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data}"
limit="${2:-9500}"
out="artifacts/parallel-$limit"
mkdir -p "$out"
dotnet build -c Release eng/Evaluate -v q -nologo
for T in 4 8 16 32; do
  batch=$(( T >= 32 ? 20 : 50 ))
  for da in false true; do
    dotnet run -c Release --no-build --project eng/Evaluate -- --data="$data" --method=parallel --T=$T --da=$da --batch=$batch \
      --limit="$limit" --out="$out/T$T-da-$da.csv" | tail -n 24 > "$out/T$T-da-$da.txt"
  done
done
grep -H "ANN\|SNN" "$out"/*.txt
