#!/usr/bin/env bash
# Per-request responders side by side: sse-actix's `SseResponse`,
# actix-web-lab's `Sse` and axum's `Sse`, each serving the same producer in a
# server process of its own on 127.0.0.1 (`sse-bench-responder`,
# bench/src/responders.rs), loaded by `sse-bench per-request`.
#
#   bench/responder.sh [--quick] [--runs N (default 3)] [--workers N (default 1)]
#                      [--peers "sse-actix actix-web-lab axum"] [--scenarios "a b"]
#                      [--out DIR]
#
# Scenarios (--quick sizes in brackets, for checking that it all runs):
#   a  one response of 1,000,000 events of 64 bytes, as fast as the tool
#      reads                                                     [100,000]
#   b  1,000 concurrent responses at 10 events/s each, measured for 20 s
#      after a 2 s settle                                     [200 for 3 s]
#
# Every run starts a fresh server; the peers run in a rotated order. Nothing
# else should run meanwhile: the load average at each run's start is in the
# table. Printed per peer: the median
# and the min-max over the runs of the server's CPU per event (user + system
# time from /proc over the measured window, divided by the events the tool
# received), events per second, and p50 / p99 latency (from when the server
# made an event to when the tool read it). Results: one JSON per run, and
# table.md, in the output directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
WORKERS=1
PEERS="sse-actix actix-web-lab axum"
SCENARIOS="a b"
QUICK=0
OUT="$ROOT/target/responder-$(date -u +%Y%m%dT%H%M%SZ)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --runs) RUNS="$2"; shift ;;
        --workers) WORKERS="$2"; shift ;;
        --peers) PEERS="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if ((QUICK)); then
    A_EVENTS=100000 B_CONNS=200 B_SECS=3
else
    A_EVENTS=1000000 B_CONNS=1000 B_SECS=20
fi

mkdir -p "$OUT"
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

echo "building (release)..." >&2
cargo build --release --quiet -p sse-bench --bin sse-bench --bin sse-bench-responder \
    --manifest-path "$ROOT/Cargo.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listening on port $1" >&2
    return 1
}

# $1 = scenario, $2 = peer, $3 = run number.
run() {
    local id=$1 peer=$2 n=$3 port json
    port=$(free_port)
    json="$OUT/$id-$peer-$n.json"
    "$BIN/sse-bench-responder" --peer "$peer" --bind "127.0.0.1:$port" --workers "$WORKERS" \
        >"$OUT/$id-$peer-$n.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$port"
    local url="http://127.0.0.1:$port/events?stream={stream}"
    local args
    case $id in
        a) args=(per-request -n 1 --events "$A_EVENTS" --rate 0 --duration 300) ;;
        b) args=(per-request -n "$B_CONNS" --events 0 --rate 10 --duration "$B_SECS" --settle 2) ;;
    esac
    echo "== $id $peer run $n: sse-bench ${args[*]}" | tee -a "$OUT/commands.txt" >&2
    "$BIN/sse-bench" --label "$peer" --subscribe-url "$url" --server-pid "$SERVER_PID" \
        --out "$json" "${args[@]}" | sed 's/^/   /' >&2
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

{
    echo "machine: $(nproc) cores, $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "runs: $RUNS; workers per server: $WORKERS; a: $A_EVENTS events; b: $B_CONNS x 10/s for $B_SECS s"
} | tee "$OUT/machine.txt" >&2

read -r -a PEER_LIST <<<"$PEERS"
for id in $SCENARIOS; do
    for ((n = 1; n <= RUNS; n++)); do
        # Rotate the order so that no peer always goes first.
        count=${#PEER_LIST[@]}
        for ((i = 0; i < count; i++)); do
            run "$id" "${PEER_LIST[$(((i + n) % count))]}" "$n"
        done
    done
done

python3 - "$OUT" "$PEERS" "$SCENARIOS" <<'EOF' | tee "$OUT/table.md"
import glob, json, os, statistics, sys

out, peers, scenarios = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
titles = {
    "a": "(a) one response, events as fast as the client reads",
    "b": "(b) concurrent responses at 10 events/s each",
}

def cell(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"

for sid in scenarios:
    print(f"\n{titles.get(sid, sid)}: median (min-max) of the runs\n")
    print("| peer | runs | server CPU per event | events/s | p50 latency | p99 latency | lost | errors | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for peer in peers:
        runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"{sid}-{peer}-*.json")))]
        if not runs:
            continue
        print("| {} | {} | {} us | {} | {} ms | {} ms | {} | {} | {} |".format(
            peer,
            len(runs),
            cell([r["server_cpu_us_per_delivery"] for r in runs], "{:.2f}"),
            cell([r["deliveries_per_second"] for r in runs], "{:,.0f}"),
            cell([r["latency"]["p50_us"] / 1000 for r in runs], "{:.2f}"),
            cell([r["latency"]["p99_us"] / 1000 for r in runs], "{:.2f}"),
            sum(r["lost"] for r in runs),
            sum(r["connect_errors"] + r["stream_errors"] for r in runs),
            cell([r["load_average_start"][0] for r in runs], "{:.1f}"),
        ))
EOF
echo "results in $OUT" >&2
