#!/usr/bin/env bash
# Dashboard benchmark: the page's list of Rollouts in headless chromium.
# CannedDashboard (Tests/IntegrationTests) serves the real page assets and
# --rows canned RolloutRows (4 phases, 10 namespaces); chromedriver opens the
# page --runs times. Times are the page's own performance.now() (ms since
# navigation start): to all rows in the DOM, laid out, and painted (the next
# frame); then a phase filter's re-render, clearing it, and a `changed` event's
# re-render (which includes the page's 80 ms debounce). Medians, min, max.
#
#   scripts/bench-dashboard.sh [--rows 1000] [--runs 5]
#
# A benchmark, not a test: it asserts no time. The normal suite skips it (it
# runs only with AVIARY_BENCH=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROWS=1000
RUNS=5
while [ $# -gt 0 ]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh >/dev/null
swift build --build-tests >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(chromium --version 2>/dev/null || echo 'chromium ?')"
AVIARY_BENCH=1 AVIARY_BENCH_ROWS="$ROWS" AVIARY_BENCH_RUNS="$RUNS" \
  swift test --skip-build --filter DashboardBenchmark >"$OUT" 2>&1 || { cat "$OUT" >&2; exit 1; }
sed -n '/^dashboard benchmark/,/^[^a-z(`]/p' "$OUT" | grep -v '^✔'
