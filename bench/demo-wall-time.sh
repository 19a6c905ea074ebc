#!/usr/bin/env bash
# Prints the wall time of `amlnet demo` for the healthy network and for a
# network with a filtered port, N runs each (default 5): min / median / max.
# Loopback only, like every demo. Usage: bench/demo-wall-time.sh [N] [TIMEOUT]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
timeout=${2:-2s}
cargo build --release --locked --quiet
bin=target/release/amlnet
for scenario in healthy workspace-port-filtered; do
  times=()
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$bin" demo --scenario "$scenario" --timeout "$timeout" --output json >/dev/null || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  echo "demo --scenario $scenario --timeout $timeout: min ${sorted[0]} ms, median ${sorted[$(( runs / 2 ))]} ms, max ${sorted[$(( runs - 1 ))]} ms ($runs runs)"
done
ls -l "$bin" | awk '{print "release binary: " $5 " bytes"}'
