#!/usr/bin/env bash
# The fan-out sweep behind BENCHMARKS.md's chart: scenarios (a) and (b) of
# bench/fanout.sh at several subscriber counts, then bench/chart.svg.
#
#   bench/sweep.sh [--peers "hub baseline nchan"] [--counts "1000 2500 5000 10000"]
#                  [--duration SECS (default 10)] [--out DIR]
#
# One fanout.sh run per count (each starts its peers fresh, side by side);
# results in DIR/N/, the chart in DIR/chart.svg (sse-bench-chart).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS="hub baseline nchan"
COUNTS="1000 2500 5000 10000"
DURATION=10
OUT="$ROOT/target/sweep-$(date -u +%Y%m%dT%H%M%SZ)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --peers) PEERS="$2"; shift ;;
        --counts) COUNTS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

dirs=()
for n in $COUNTS; do
    "$ROOT/bench/fanout.sh" --full --peers "$PEERS" --scenarios "a b" \
        --subscribers "$n" --duration "$DURATION" --out "$OUT/$n"
    dirs+=("$OUT/$n")
done
cargo build --release --quiet -p sse-bench --bin sse-bench-chart --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/sse-bench-chart" "$OUT/chart.svg" "${dirs[@]}"
