#!/usr/bin/env bash
# Builds one statically linked amlnet for x86_64 Linux: it runs on any
# compute instance or jump box regardless of its glibc (Ubuntu 20.04 too).
# glibc is linked statically (crt-static); amlnet resolves names itself
# (hickory), so glibc's NSS, which static linking cannot load, is never used.
# Output: dist/amlnet-<version>-x86_64-linux (and a .sha256 beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$target"
mkdir -p dist
out="dist/amlnet-${version}-x86_64-linux"
cp "target/$target/release/amlnet" "$out"
if ldd "$out" 2>&1 | grep -q "not a dynamic executable\|statically linked"; then
  echo "static: yes"
else
  echo "error: $out is dynamically linked" >&2
  ldd "$out" >&2 || true
  exit 1
fi
sha256sum "$out" | sed 's|dist/||' > "$out.sha256"
ls -l "$out"
