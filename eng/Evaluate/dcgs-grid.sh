#!/usr/bin/env bash
# The differential-coding grid of README's "Measured figures": ResNet-20 on the CIFAR-10 JPEG test set,
# calibration on files 0500-0549 of each class, evaluation on the first LIMIT other images (class-balanced).
#   n = 1, 2, 4, 8 thresholds; channel-wise threshold iteration (N = T*2^n, so one run per T) and 99.9th-percentile
#   thresholds (independent of T: one T = 16 run gives every prefix); rate coding at the same T for comparison.
# Usage: eng/Evaluate/dcgs-grid.sh [DATA] [LIMIT]     (defaults ../shared/data and 2000)
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data}"
limit="${2:-2000}"
out="artifacts/dcgs-grid-$limit"
mkdir -p "$out"
dotnet build -c Release eng/Evaluate -v q -nologo
run() { dotnet run -c Release --no-build --project eng/Evaluate -- --data="$data" --limit="$limit" "$@"; }
run --method=rate --thresholds=p99.9 --T=16 --out="$out/rate-p99.9-T16.csv" | tail -n 12 > "$out/rate-p99.9-T16.txt"
for n in 1 2 4 8; do
  run --method=differential --thresholds=p99.9 --n=$n --T=16 --out="$out/diff-n$n-p99.9-T16.csv" | tail -n 12 > "$out/diff-n$n-p99.9-T16.txt"
  for T in 1 2 4 8 16; do
    run --method=differential --thresholds=iteration --n=$n --T=$T --out="$out/diff-n$n-iteration-T$T.csv" | tail -n 12 > "$out/diff-n$n-iteration-T$T.txt"
  done
done
grep -H "SNN\|energy\|ANN" "$out"/*.txt
