#!/usr/bin/env bash
# Runs every benchmark behind docs/performance.md with the settings used for
# the figures there, after printing the machine it runs on. Takes about 8
# minutes on 2 cores; run it on an otherwise idle machine.
#
# Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(go env GOVERSION), Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
# The stdlib comparisons: 5 s per benchmark, 3 times.
go test -run '^$' -bench '^Benchmark(Handshake|KeepAlive|Middleware)$' -benchtime 5s -count 3 ./web/ | grep '^Benchmark'
# The fixed-size scenarios, 3 times each.
go test -run '^$' -bench '^Benchmark(PasswordFlood|Rotation|IdleConnRSS)$' -count 3 ./web/ | grep '^Benchmark'
scripts/bench-proxy.sh
