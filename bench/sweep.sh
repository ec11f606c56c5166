#!/usr/bin/env bash
# The fan-out sweep behind BENCHMARKS.md's chart: scenarios (a) and (b) of
# bench/fanout.sh at several subscriber counts, then a chart of them.
#
#   bench/sweep.sh [--peers "hub r3labs baseline nchan"] [--counts "1000 2500 5000 10000"]
#                  [--runs K (default 1)] [--repeat-last K (default 3)]
#                  [--duration SECS (default 10)] [--out DIR]
#
# One bench/fanout.sh run set per count, K runs each (--repeat-last at the
# largest count, whose figures the headline quotes); results in DIR/N/
# (reports.jsonl, table.md, ...), the chart in DIR/chart.svg
# (sse-bench-chart: medians of the runs, min-max as error bars).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS="hub r3labs baseline nchan"
COUNTS="1000 2500 5000 10000"
DURATION=10
RUNS=1
REPEAT_LAST=3
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --peers) PEERS="$2"; shift ;;
        --counts) COUNTS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --repeat-last) REPEAT_LAST="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
OUT=${OUT:-"$TARGET/sweep-$(date -u +%Y%m%dT%H%M%SZ)"}

read -r -a counts <<<"$COUNTS"
dirs=()
for n in "${counts[@]}"; do
    runs=$RUNS
    [[ $n == "${counts[-1]}" ]] && runs=$REPEAT_LAST
    "$ROOT/bench/fanout.sh" --full --peers "$PEERS" --scenarios "a b" --runs "$runs" \
        --subscribers "$n" --duration "$DURATION" --out "$OUT/$n"
    dirs+=("$OUT/$n")
done
cargo build --release --quiet -p sse-bench --bin sse-bench-chart --manifest-path "$ROOT/Cargo.toml"
"$TARGET/release/sse-bench-chart" "$OUT/chart.svg" "${dirs[@]}"
