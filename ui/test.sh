#!/usr/bin/env bash
# Unit tests of the UI's pure TypeScript logic (durations, step choice, variables, Grafana
# import, series shaping): type-checks src/ and test/, bundles test/*.test.ts with esbuild
# and runs them with `node --test`. Run by CTest (tests/CMakeLists.txt) when node is present.
#   usage: ui/test.sh [BUILDDIR]   (bundles go to BUILDDIR, default a temp dir)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# build.sh installs node_modules from the lock when needed; reuse its logic.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
out=${1:-$(mktemp -d)}
node_modules/.bin/tsc -p tsconfig.json --noEmit
node build.mjs --tests "$out"
node --test "$out"/*.test.mjs
