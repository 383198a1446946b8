#!/usr/bin/env bash
# Builds Vigil's web UI into OUTDIR: OUTDIR/index.html plus content-hashed bundles under
# OUTDIR/assets/ (referenced as /ui/assets/...). The binary embeds every file of OUTDIR
# (src/http, CMake). npm dependencies come from the committed package-lock.json (npm ci,
# skipped while node_modules matches the lock). Needs node >= 18 and npm.
#   usage: ui/build.sh OUTDIR
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "ui/build.sh: usage: ui/build.sh OUTDIR" >&2
  exit 2
fi
outdir=$1
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "ui/build.sh: cannot build the web UI: node and npm are required (scripts/setup.sh installs them)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "ui/build.sh: cannot build the web UI: node >= 18 is required, found $(node --version)" >&2
  exit 1
fi

cd "$here"
# npm writes node_modules/.package-lock.json on every install; when it is newer than the
# committed lock, node_modules already holds exactly what the lock names.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ui/build.sh: installing npm dependencies (npm ci)"
  if ! npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1; then
    cat npm-ci.log >&2
    rm -f npm-ci.log
    echo "ui/build.sh: cannot install npm dependencies from ui/package-lock.json (see above)" >&2
    exit 1
  fi
  rm -f npm-ci.log
fi

mkdir -p "$outdir"
node build.mjs "$outdir"
