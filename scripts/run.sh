#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root), builds Vigil, and runs `vigil server` with its
# embedded defaults: data in ./data, HTTP on 127.0.0.1:9460. Extra arguments go to the
# server, e.g. scripts/run.sh --web.listen-address=0.0.0.0:9460
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release vigil
exec build/vigil server "$@"
