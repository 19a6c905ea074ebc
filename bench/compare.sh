#!/usr/bin/env bash
# amlnet against what a support engineer would run instead, on the same 100
# endpoints (a third open, refused, filtered) in the benchmark's private
# network (bench/lab.sh): a getent + /dev/tcp + curl loop under `xargs -P 64`,
# and `nmap -sT -T4`. Prints each one's median wall time over RUNS runs and
# amlnet's ratio to it. Needs nmap (apt-get install nmap) and curl.
#
# Usage: bench/compare.sh [RUNS] [N]      (default: 3 runs, 100 endpoints)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab.sh
for tool in nmap curl getent; do
  command -v "$tool" >/dev/null || { echo "bench/compare.sh needs $tool" >&2; exit 2; }
done
bench_enter "$@"
runs=${1:-3}
n=${2:-100}
bench_network
bench_catalogue "$n" "$work/cat"
bench_hosts "$n" >"$work/hosts"

# One endpoint as the script would check it: resolve, connect, then ask.
probe_one() {
  local ip
  ip=$(getent ahostsv4 "$1" | awk 'NR==1{print $1}') || return 0
  [ -n "$ip" ] || return 0
  timeout 2 bash -c "</dev/tcp/$ip/443" 2>/dev/null || return 0
  curl -sk -m 2 -o /dev/null "https://$1/" || true
}
export -f probe_one

time_of() { # command...: wall seconds
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  echo "scale=3; ($end - $start) / 1000000000" | bc
}

bench_amlnet "$work/cat" 2s 300s "$work/r.json"
declare -A results
for name in amlnet xargs nmap; do
  : >"$work/$name"
  for _ in $(seq "$runs"); do
    case $name in
      amlnet) time_of "${AMLNET[@]}" >>"$work/$name" ;;
      xargs) time_of xargs -P 64 -I{} bash -c 'probe_one "$1"' _ {} <"$work/hosts" >>"$work/$name" ;;
      nmap) time_of nmap -sT -T4 -Pn -p 443 -iL "$work/hosts" >>"$work/$name" ;;
    esac
  done
  results[$name]=$(median <"$work/$name")
done
echo "$n endpoints, median of $runs runs:"
echo "  amlnet check --timeout 2s          ${results[amlnet]} s"
for other in xargs nmap; do
  ratio=$(echo "scale=1; ${results[$other]} / ${results[amlnet]}" | bc)
  case $other in
    xargs) label="xargs -P 64 getent+/dev/tcp+curl" ;;
    nmap) label="nmap -sT -T4 -Pn -p 443         " ;;
  esac
  echo "  $label ${results[$other]} s (amlnet is ${ratio}x faster)"
done
