#!/usr/bin/env bash
# Installs everything Vigil needs to build and test on Debian 12 (run as root).
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  # libraries (STYLE.md: dependencies we chose)
  libboost-dev libboost-system-dev libabsl-dev libcurl4-openssl-dev
  libprotobuf-dev protobuf-compiler libsnappy-dev libzstd-dev libre2-dev
  libyaml-cpp-dev libsimdjson-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libxxhash-dev libjemalloc-dev
  # test peers and tools
  curl python3-protobuf python3-snappy python3-requests
  # the reference server of the PromQL differential test (tests/integration)
  prometheus
  # alerting integration tests: a real Alertmanager and an SMTP sink
  prometheus-alertmanager python3-aiosmtpd
  # scrape integration test targets; OpenSSL's libcrypto (MD5 of relabel hashmod)
  prometheus-node-exporter python3-prometheus-client libssl-dev
  # push-ingestion senders (test_ingest_*.py); npm peers come from tests/integration/package.json
  python3-statsd
  # the web UI's browser tests (tests/e2e: playwright-core drives Debian's chromium headless);
  # a font so screenshots show text
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (>= 18) and npm build the web UI (ui/build.sh, run by the build) and run the
# npm-based test peers. Take Debian's only where no node/npm is on PATH: a machine that
# already has them from elsewhere would conflict with Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "setup: FATAL: packages are missing and this is not root; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
fi
