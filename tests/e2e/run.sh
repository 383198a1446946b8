#!/usr/bin/env bash
# Runs the browser end-to-end tests (ui.test.mjs) against a real vigil binary.
# Installs playwright-core from the committed package-lock.json (npm ci) when needed;
# needs node >= 18 and Debian's chromium at /usr/bin/chromium (scripts/setup.sh).
#   usage: tests/e2e/run.sh   (env: VIGIL_BIN, E2E_ARTIFACTS, CHROMIUM)
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-reporter=spec ui.test.mjs
