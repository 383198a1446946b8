#!/usr/bin/env bash
# Builds Vigil (release preset) and links the binary to build/vigil.
# Usage: scripts/build.sh [preset] [ninja targets...]   (default preset: release)
set -euo pipefail
cd "$(dirname "$0")/.."

preset=${1:-release}
shift || true

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Paths under the checkout are hashed relative to it, so a fresh clone elsewhere (as CI
# makes) reuses the cache of an earlier build.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

if [ ! -f "build/$preset/build.ninja" ]; then
  echo "build: configuring preset $preset"
  cmake --preset "$preset" >/dev/null
fi
jobs=${VIGIL_JOBS:-$(nproc)}
echo "build: ninja -C build/$preset -j$jobs $*"
ninja -C "build/$preset" -j"$jobs" "$@"
if [ -x "build/$preset/vigil" ] && [ "$preset" = release ]; then
  ln -sfn "$preset/vigil" build/vigil
fi
