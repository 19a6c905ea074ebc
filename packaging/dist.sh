#!/usr/bin/env bash
# Builds amlnet for shipping. Usage:
#
#   packaging/dist.sh TARGET...
#
# TARGET is one of
#   x86_64-unknown-linux-musl    dist/amlnet-<version>-x86_64-unknown-linux-musl.tar.gz
#   aarch64-unknown-linux-musl   dist/amlnet-<version>-aarch64-unknown-linux-musl.tar.gz
#   x86_64-pc-windows-gnu        dist/amlnet-<version>-x86_64-pc-windows-gnu.zip
#   deb                          dist/amlnet_<version>_amd64.deb (the x86_64 musl binary)
#
# Each archive holds the binary (amlnet, amlnet.exe), README.md, LICENSE,
# completions for bash, zsh, fish and PowerShell, and the man page. The
# Linux binaries are fully static (musl): they run on Ubuntu 20.04 and
# later, Debian, RHEL and Azure Linux whatever their glibc. dist/SHA256SUMS
# covers every file in dist/.
#
# It installs what it needs: the Rust targets (rustup), musl-tools, the
# aarch64 cross gcc, mingw-w64, zip (apt-get; run as root or with sudo).
# The completions and the man page come from running the x86_64 musl
# binary, so that one is built whatever the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: packaging/dist.sh TARGET... (x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-pc-windows-gnu deb)" >&2; exit 2; }
[ "$#" -gt 0 ] || usage
for t in "$@"; do
  case "$t" in
    x86_64-unknown-linux-musl|aarch64-unknown-linux-musl|x86_64-pc-windows-gnu|deb) ;;
    *) echo "dist.sh: unknown target '$t'" >&2; usage ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
target_dir=${CARGO_TARGET_DIR:-target}
dist=dist
mkdir -p "$dist"
# Archives are byte-for-byte repeatable: fixed times, owners and order.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

apt_updated=no
need_pkg() { # need_pkg COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$apt_updated" = no ]; then $sudo apt-get update -qq; apt_updated=yes; fi
  echo "dist.sh: installing $2" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

need_target() { # need_target TRIPLE
  if ! rustup target list --installed | grep -qx "$1"; then
    echo "dist.sh: rustup target add $1" >&2
    rustup target add "$1" || { echo "dist.sh: cannot add the Rust target $1 (rustup could not fetch its std)" >&2; exit 1; }
  fi
}

build() { # build TRIPLE -> path of the binary
  local triple=$1 upper
  upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  need_target "$triple"
  case "$triple" in
    x86_64-unknown-linux-musl)
      need_pkg musl-gcc musl-tools
      export CC_x86_64_unknown_linux_musl=musl-gcc ;;
    aarch64-unknown-linux-musl)
      need_pkg aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
      export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
      export "CARGO_TARGET_${upper}_LINKER=aarch64-linux-gnu-gcc" ;;
    x86_64-pc-windows-gnu)
      need_pkg x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
      export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
      export "CARGO_TARGET_${upper}_LINKER=x86_64-w64-mingw32-gcc" ;;
  esac
  echo "dist.sh: cargo build --release --target $triple" >&2
  cargo build --release --locked --target "$triple" >&2
  local exe="$target_dir/$triple/release/amlnet"
  [ "$triple" = x86_64-pc-windows-gnu ] && exe="$exe.exe"
  case "$triple" in
    *-linux-musl)
      # Fully static: no program interpreter, no shared library.
      if readelf -l "$exe" | grep -q "INTERP" || readelf -d "$exe" 2>/dev/null | grep -q "(NEEDED)"; then
        echo "dist.sh: $exe is not static" >&2; readelf -d "$exe" >&2; exit 1
      fi ;;
  esac
  echo "$exe"
}

# The completions and the man page, from a binary that runs here.
docs_dir=$(mktemp -d)
trap 'rm -rf "$docs_dir"' EXIT
host_exe=$(build x86_64-unknown-linux-musl)
"$host_exe" completions bash > "$docs_dir/amlnet.bash"
"$host_exe" completions zsh > "$docs_dir/_amlnet"
"$host_exe" completions fish > "$docs_dir/amlnet.fish"
"$host_exe" completions powershell > "$docs_dir/_amlnet.ps1"
"$host_exe" man > "$docs_dir/amlnet.1"

stage() { # stage DIR EXE NAME: the archive's tree
  local dir=$1
  mkdir -p "$dir/completions" "$dir/man"
  cp "$2" "$dir/$3"
  cp README.md LICENSE "$dir/"
  cp "$docs_dir"/amlnet.bash "$docs_dir"/_amlnet "$docs_dir"/amlnet.fish "$docs_dir"/_amlnet.ps1 "$dir/completions/"
  cp "$docs_dir/amlnet.1" "$dir/man/"
  find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

tarball() { # tarball TRIPLE EXE
  local name="amlnet-$version-$1" work
  work=$(mktemp -d)
  stage "$work/$name" "$2" amlnet
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" -C "$work" -cf - "$name" \
    | gzip -n -9 > "$dist/$name.tar.gz"
  rm -rf "$work"
  echo "dist.sh: wrote $dist/$name.tar.gz" >&2
}

zipball() { # zipball TRIPLE EXE
  local name="amlnet-$version-$1" work
  need_pkg zip zip
  work=$(mktemp -d)
  stage "$work/$name" "$2" amlnet.exe
  rm -f "$dist/$name.zip"
  (cd "$work" && find "$name" | LC_ALL=C sort | zip -q -X -9 "$OLDPWD/$dist/$name.zip" -@)
  rm -rf "$work"
  echo "dist.sh: wrote $dist/$name.zip" >&2
}

debian() { # debian EXE: a .deb built by hand with dpkg-deb
  local exe=$1 work root size
  work=$(mktemp -d)
  root="$work/root"
  install -D -m 0755 "$exe" "$root/usr/bin/amlnet"
  install -d "$root/usr/share/man/man1"
  gzip -n -9 -c "$docs_dir/amlnet.1" > "$root/usr/share/man/man1/amlnet.1.gz"
  install -D -m 0644 "$docs_dir/amlnet.bash" "$root/usr/share/bash-completion/completions/amlnet"
  install -D -m 0644 "$docs_dir/_amlnet" "$root/usr/share/zsh/vendor-completions/_amlnet"
  install -D -m 0644 "$docs_dir/amlnet.fish" "$root/usr/share/fish/vendor_completions.d/amlnet.fish"
  install -D -m 0644 LICENSE "$root/usr/share/doc/amlnet/copyright"
  size=$(du -sk "$root/usr" | cut -f1)
  install -d "$root/DEBIAN"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: amlnet
Version: $version
Architecture: amd64
Maintainer: amlnet authors <amlnet@invalid>
Installed-Size: $size
Section: net
Priority: optional
Description: network diagnostics for network-isolated Azure Machine Learning workspaces
 Checks, from the machine it runs on, whether a network-isolated Azure
 Machine Learning workspace is reachable (private DNS, paths, TLS, HTTP,
 proxy settings), and says why not. One static binary.
CONTROL
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$dist/amlnet_${version}_amd64.deb" >/dev/null
  rm -rf "$work"
  echo "dist.sh: wrote $dist/amlnet_${version}_amd64.deb" >&2
}

for t in "$@"; do
  case "$t" in
    x86_64-unknown-linux-musl) tarball "$t" "$host_exe" ;;
    aarch64-unknown-linux-musl) tarball "$t" "$(build "$t")" ;;
    x86_64-pc-windows-gnu) zipball "$t" "$(build "$t")" ;;
    deb) debian "$host_exe" ;;
  esac
done

(cd "$dist" && find . -maxdepth 1 -type f \( -name 'amlnet-*' -o -name 'amlnet_*' \) -printf '%f\n' | LC_ALL=C sort \
  | xargs -r sha256sum > SHA256SUMS)
ls -l "$dist"
