#!/usr/bin/env bash
# Runs the Windows build's demo scenarios under Wine, each with a time limit,
# and says which did not end or failed. Test tooling only: nothing here goes
# into the shipped amlnet.exe.
#
# Debian 12's Wine 8 has no bcryptprimitives.dll, whose ProcessPrng the
# Rust standard library (1.78 and later) imports, so amlnet.exe stops with
#   err:module:import_dll Library bcryptprimitives.dll (which is needed by
#   L"...\amlnet.exe") not found
# This script builds a stand-in from bcryptprimitives.c (ProcessPrng over
# advapi32's RtlGenRandom) with mingw and puts it in a throwaway Wine
# prefix's system32. Needs: wine64 (apt-get install wine64), mingw-w64.
#
# Usage: packaging/wine/demo.sh [amlnet.exe] [scenario...]
# Every demo runs on loopback only (the lab), as on Linux.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exe="${1:-$here/../../target/x86_64-pc-windows-gnu/debug/amlnet.exe}"
shift || true
wine="$(command -v wine64 || echo /usr/lib/wine/wine64)"
[ -x "$wine" ] || { echo "wine64 not found (apt-get install wine64)" >&2; exit 2; }
if [ -z "${WINEPREFIX:-}" ]; then
  WINEPREFIX="$(mktemp -d /tmp/amlnet-wine.XXXXXX)"
  trap 'rm -rf "$WINEPREFIX"' EXIT
fi
export WINEPREFIX WINEDEBUG=-all
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
"$wine" wineboot --init >/dev/null 2>&1 || true
cp "$WINEPREFIX/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || mapfile -t scenarios < <(timeout 60 "$wine" "$exe" demo --list | awk '{print $1}')
bad=0
for s in "${scenarios[@]}"; do
  start=$(date +%s%N)
  rc=0
  timeout 60 "$wine" "$exe" demo --scenario "$s" --output json --deadline 30s >/dev/null 2>&1 || rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  # 0 and 1 are verdicts; 124 is the time limit; anything else is a failure.
  case $rc in 0|1) echo "$s: exit $rc in $ms ms" ;; *) echo "$s: FAILED (exit $rc) after $ms ms"; bad=1 ;; esac
done
"${wine%64}server" -k 2>/dev/null || true
exit $bad
