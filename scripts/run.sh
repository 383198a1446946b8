#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root), builds Vigil, and runs `vigil server` with its
# embedded defaults: data in ./data, HTTP on 127.0.0.1:9460, web UI at /ui/. Extra arguments
# go to the server, e.g. scripts/run.sh --web.listen-address=0.0.0.0:9460
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release vigil
# Vigil scrapes itself every 15s, so the UI's built-in "Vigil overview" dashboard shows
# data a minute after the start (pass --self-scrape.interval=0s to turn it off).
self_scrape=(--self-scrape.interval=15s)
for a in "$@"; do
  case $a in --self-scrape.interval*) self_scrape=() ;; esac
done
exec build/vigil server "${self_scrape[@]}" "$@"
