#!/usr/bin/env bash
# Mercure subscribers beside the same load on `/events`: N subscribers over
# S topics (streams on `/events`), publishing R updates/s, each run against
# a fresh `sse hub`, `/events` and `/.well-known/mercure` alternating.
# Mercure subscribers select their exact topic and a URI template that
# matches none (so every update also meets the template path).
#
#   bench/mercure.sh [--runs K (3)] [--subscribers N (10000)] [--topics S (1000)]
#                    [--rate R (10)] [--duration SECS (20)] [--out DIR]
#
# Check it with tiny settings (BIN=target/debug skips the release build):
#   bench/mercure.sh --runs 1 --subscribers 200 --topics 20 --duration 5
# Reports: DIR/reports.jsonl (one sse-bench report per line, with its run
# and mode); the figures belong in BENCHMARKS.md, taken on a quiet machine.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=3 SUBSCRIBERS=10000 TOPICS=1000 RATE=10 DURATION=20
OUT="$ROOT/bench/results/mercure-$(date -u +%Y-%m-%d)"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --subscribers) SUBSCRIBERS="$2"; shift 2 ;;
    --topics) TOPICS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "${BIN:-}" ]; then
  TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
  cargo build --release --quiet -p sse-bench -p sse-hub --bin sse-bench --bin sse \
    --manifest-path "$ROOT/Cargo.toml"
  BIN="$TARGET/release"
fi
mkdir -p "$OUT"
: > "$OUT/reports.jsonl"
# More tool processes when one would pass its 20,000 open files.
SHARDS=$(( (SUBSCRIBERS + 15999) / 16000 ))

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

run_once() { # run mode
  local run="$1" mode="$2" port hub sub pub body pids=()
  port="$(free_port)"
  RUST_LOG=warn "$BIN/sse" hub --bind "127.0.0.1:$port" --max-connections $((SUBSCRIBERS + 100)) \
    --max-auto-streams $((TOPICS + 10)) --no-demo > /dev/null 2>&1 &
  hub=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break
    sleep 0.1
  done
  if [ "$mode" = mercure ]; then
    sub="http://127.0.0.1:$port/.well-known/mercure?topic={stream}&topic=https://bench.example/other/{id}"
    pub="http://127.0.0.1:$port/.well-known/mercure"
    body=mercure
  else
    sub="http://127.0.0.1:$port/events?stream={stream}"
    pub="$sub"
    body=raw
  fi
  for shard in $(seq 0 $((SHARDS - 1))); do
    "$BIN/sse-bench" --label "$mode" --server-pid "$hub" --subscribe-url "$sub" \
      --publish-url "$pub" --body "$body" --stream-prefix "t$run" --shard "$shard/$SHARDS" \
      --out "$OUT/$mode-$run-$shard.json" \
      fanout -n "$SUBSCRIBERS" --streams "$TOPICS" --rate "$RATE" --duration "$DURATION" \
      > "$OUT/$mode-$run-$shard.txt" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  kill "$hub"; wait "$hub" 2>/dev/null || true
  for shard in $(seq 0 $((SHARDS - 1))); do
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["run"]=int(sys.argv[2]); r["mode"]=sys.argv[3]; print(json.dumps(r))' \
      "$OUT/$mode-$run-$shard.json" "$run" "$mode" >> "$OUT/reports.jsonl"
    grep -E "delivered|server CPU" "$OUT/$mode-$run-$shard.txt" | sed "s/^/$mode run $run: /"
  done
}

for run in $(seq 1 "$RUNS"); do
  run_once "$run" events
  run_once "$run" mercure
done
echo "reports in $OUT/reports.jsonl"
