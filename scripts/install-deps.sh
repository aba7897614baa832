#!/usr/bin/env bash
# Installs the Debian packages lacgpu needs to build and test. Idempotent: packages already
# present are left alone. Run as root (or with sudo). The CUDA toolkit (nvcc) is optional:
# when it is on PATH the CUDA backend is built too.
set -euo pipefail
pkgs=(cmake gcc make pkg-config libcjson-dev libcriterion-dev libpcre2-dev libssl-dev libomp-dev
  liblzma-dev libzstd-dev libbrotli-dev libbz2-dev)
# the shell tests also use these
pkgs+=(python3 bc util-linux)
# tests/sh/test_scale.sh runs the docs/SCALE.md recipes with GNU parallel
pkgs+=(parallel)
if [ "${1:-}" = "--bench" ]; then
  # bench/: the classic compressors and gnuplot for the plots
  pkgs+=(xz-utils zstd bzip2 brotli gnuplot-nox)
fi
if [ "${1:-}" = "--fuzz" ]; then
  pkgs+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
