#!/usr/bin/env bash
# The scale benchmark of issue 11: a catalogue of N endpoints, a third open,
# a third refused, a third filtered, checked by the release binary inside a
# private network namespace (user + network + mount namespaces made here with
# unshare; no route out, nothing beyond loopback). Real dnsmasq answers every
# name; bench/listeners.py holds the open and the filtered port.
#
# Prints, per N, the median of RUNS runs: wall time, CPU time (user + sys),
# peak RSS, and how many probes were unfinished.
#
# Usage: bench/scale.sh [RUNS] [N...]        (default: 3 runs of 100 1000 5000)
#        TIMEOUT=2s DEADLINE=300s bench/scale.sh
# Needs: unshare (util-linux), dnsmasq (dnsmasq-base), python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lab.sh
bench_enter "$@"
runs=${1:-3}
shift || true
sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(100 1000 5000)
timeout=${TIMEOUT:-2s}
deadline=${DEADLINE:-300s}
bench_network

for n in "${sizes[@]}"; do
  bench_catalogue "$n" "$work/cat-$n"
  : >"$work/times"
  for _ in $(seq "$runs"); do
    bench_amlnet "$work/cat-$n" "$timeout" "$deadline" "$work/r.json"
    /usr/bin/time -f "%e %U %S %M" -o "$work/t" "${AMLNET[@]}" || true
    unfinished=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(1 for c in r['checks'] if c.get('error') in ('deadline reached','interrupted')))" "$work/r.json")
    states=$(python3 -c "import json,sys,collections; r=json.load(open(sys.argv[1])); print(' '.join(f'{k}={v}' for k,v in sorted(collections.Counter(c['tcp_state'] for c in r['checks'] if c['area'] == 'tcp' and c['host'].endswith('.bench.test')).items(), key=str)))" "$work/r.json")
    read -r wall user sys rss < <(tail -n 1 "$work/t")
    echo "$wall $(echo "$user + $sys" | bc) $rss $unfinished" >>"$work/times"
  done
  wall=$(awk '{print $1}' "$work/times" | median)
  cpu=$(awk '{print $2}' "$work/times" | median)
  rss=$(awk '{print $3}' "$work/times" | median)
  left=$(awk '{print $4}' "$work/times" | median)
  printf 'N=%-5d timeout %s deadline %s: wall %s s, CPU %s s, peak RSS %d MB, unfinished %s (median of %d; last run: %s)\n' \
    "$n" "$timeout" "$deadline" "$wall" "$cpu" "$((rss / 1024))" "$left" "$runs" "$states"
done
