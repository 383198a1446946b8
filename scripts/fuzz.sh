#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, `fuzz` preset) and fuzzes each for SECONDS
# (default 60), growing its corpus in fuzz/corpus/<target>/. A crash leaves the input as
# fuzz/crash-*; turn it into a corpus file and a unit test before fixing it.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
scripts/build.sh fuzz >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(find build/fuzz/fuzz -maxdepth 1 -type f -name '*_fuzzer' -printf '%f\n' | sort)
fi
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/${t%_fuzzer}
  mkdir -p "$corpus"
  echo "fuzz: $t for ${seconds}s (corpus $corpus: $(ls "$corpus" | wc -l) inputs)"
  build/fuzz/fuzz/"$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=fuzz/ "$corpus" 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY)" || true
done
