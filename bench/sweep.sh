#!/usr/bin/env bash
# The fan-out sweep behind BENCHMARKS.md's chart: scenarios (a) and (b) of
# bench/fanout.sh at several subscriber counts, then a chart of them.
#
#   bench/sweep.sh [--peers "hub baseline nchan"] [--counts "1000 2500 5000 10000"]
#                  [--repeat-last K (default 3)] [--duration SECS (default 10)] [--out DIR]
#
# One fanout.sh run per count (each starts its peers fresh, side by side),
# K runs at the last (largest) count; results in DIR/N/ (DIR/N-2/, ... for
# repeats), the chart in DIR/chart.svg (sse-bench-chart: medians of repeats).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS="hub baseline nchan"
COUNTS="1000 2500 5000 10000"
DURATION=10
REPEAT_LAST=3
OUT="$ROOT/target/sweep-$(date -u +%Y%m%dT%H%M%SZ)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --peers) PEERS="$2"; shift ;;
        --counts) COUNTS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --repeat-last) REPEAT_LAST="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

runs=()
for n in $COUNTS; do runs+=("$n"); done
last=${runs[-1]}
for ((k = 2; k <= REPEAT_LAST; k++)); do runs+=("$last-$k"); done
dirs=()
for run in "${runs[@]}"; do
    "$ROOT/bench/fanout.sh" --full --peers "$PEERS" --scenarios "a b" \
        --subscribers "${run%%-*}" --duration "$DURATION" --out "$OUT/$run"
    dirs+=("$OUT/$run")
done
cargo build --release --quiet -p sse-bench --bin sse-bench-chart --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/sse-bench-chart" "$OUT/chart.svg" "${dirs[@]}"
