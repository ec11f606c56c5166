#!/usr/bin/env bash
# Fan-out over HTTP: the same load against each SSE server, one server up at
# a time, every run repeated, reported as the median and range of the runs.
#
#   bench/fanout.sh [--full] [--runs K (default 3)] [--peers "hub r3labs baseline nchan"]
#                   [--scenarios "a b c d e"] [--duration SECS (publishing time, default 20)]
#                   [--subscribers N (for a and b; default 1,000 / 10,000 with --full)]
#                   [--out DIR]
#
# Peers (each started fresh on its own free port on 127.0.0.1 for every run,
# alone on the machine, stopped afterwards):
#   hub       our `sse hub` (sse-hub), logs at warn; HUB_CMD overrides its
#             command line ({port} is replaced by the port).
#   r3labs    r3labs/sse v2, the Go library this project re-imagines, in a
#             30-line net/http server; built from ../shared/peers/ (R3LABS_SRC)
#             with Debian's Go, installed when missing.
#   baseline  actix-web-lab `sse` + tokio broadcast (bench/src/baseline.rs)
#   nchan     nginx with the nchan module, one worker
#   nchan2    the same with two workers (one per core, like the actix peers)
#   starlette Python sse-starlette on uvicorn (bench/peers/starlette_hub.py),
#             one process: a floor
#   cluster   two hubs over one redis-server (`sse hub --redis`): subscribers
#             on the first, events published on the second; server CPU and
#             memory are the three processes summed
#
# Scenarios (quick sizes by default, the issue's sizes with --full):
#   a  N subscribers, one stream, fixed rate        (1,000 / 10,000 at 10 ev/s)
#   b  same N, as fast as possible, bounded window   (rate 0)
#   c  S streams x K subscribers, random publishing   (100x10 at 100 ev/s / 1,000x10 at 1,000 ev/s)
#   d  N idle subscribers: memory per connection     (1,000 / 19,000 over 2 tool processes)
#   e  churn: connects+disconnects per second         (100/s for 10 s / 1,000/s for 30 s)
#
# Before the runs, `sse-bench-floor` measures the kernel's cost of one
# loopback send (3 times), the floor under every latency. Each run starts
# once the machine is idle; peers run in a rotated order. Results in DIR:
# machine.txt (CPU, memory, versions, load), floor.txt, commands.txt,
# reports.jsonl (one tool report per line, with its run number and the
# machine's CPU time besides server and tool) and table.md (bench/table.py:
# median and min-max of the runs). SETTLE_SECONDS (default 60) bounds the
# wait for an idle machine. Loopback only, bounded time; everything started
# here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=quick
RUNS=3
PEERS="hub r3labs baseline nchan"
SCENARIOS="a b c d e"
DURATION=""
SUBSCRIBERS=""
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --full) MODE=full ;;
        --runs) RUNS="$2"; shift ;;
        --peers) PEERS="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --subscribers) SUBSCRIBERS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [[ $MODE == full ]]; then
    N=10000 RATE=10 DUR=${DURATION:-20} STREAMS=1000 PER_STREAM=10 C_RATE=1000
    IDLE=19000 IDLE_SHARDS=2 CHURN=1000 CHURN_DUR=30
else
    N=1000 RATE=10 DUR=${DURATION:-20} STREAMS=100 PER_STREAM=10 C_RATE=100
    IDLE=1000 IDLE_SHARDS=1 CHURN=100 CHURN_DUR=10
fi
N=${SUBSCRIBERS:-$N}

TARGET=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET/release"
OUT=${OUT:-"$TARGET/fanout-$(date -u +%Y%m%dT%H%M%SZ)"}
mkdir -p "$OUT"
: >"$OUT/reports.jsonl"
: >"$OUT/commands.txt"
WORK=$(mktemp -d /tmp/sse-fanout.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers and tool both need far more than the usual 1,024 open files.
ulimit -n "$(ulimit -Hn)"

echo "building (release)..." >&2
cargo build --release --quiet -p sse-bench --manifest-path "$ROOT/Cargo.toml"
if [[ " $PEERS " == *" hub "* || " $PEERS " == *" cluster "* ]] && [[ -z "${HUB_CMD:-}" ]]; then
    cargo build --release --quiet -p sse-hub --bin sse --manifest-path "$ROOT/Cargo.toml"
fi

# The r3labs peer is built once into the target directory; a missing Go
# toolchain is installed by the build script, and a failed build is fatal
# under CI=true (elsewhere the peer is left out with a warning).
R3LABS_SRC=${R3LABS_SRC:-"$ROOT/../shared/peers"}
R3LABS_BIN="$TARGET/peers/r3labs-server"
if [[ " $PEERS " == *" r3labs "* && ! -x $R3LABS_BIN ]]; then
    if ! bash "$R3LABS_SRC/build-r3labs.sh" "$R3LABS_BIN" >&2; then
        if [[ ${CI:-} == true ]]; then
            echo "ERROR: the r3labs peer could not be built from $R3LABS_SRC" >&2
            exit 1
        fi
        echo "WARNING: the r3labs peer could not be built from $R3LABS_SRC: left out" >&2
        PEERS=${PEERS/r3labs/}
    fi
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listening on port $port" >&2
    return 1
}

# Each start_* sets SUB_URL, PUB_URL, SERVER_PIDS (space-separated) and
# appends its processes to PIDS.
start_baseline() {
    local port; port=$(free_port)
    "$BIN/sse-bench-baseline" --bind "127.0.0.1:$port" >"$WORK/baseline.log" 2>&1 &
    PIDS+=($!); SERVER_PIDS=$!
    SUB_URL="http://127.0.0.1:$port/events?stream={stream}"
    PUB_URL=$SUB_URL
    wait_port "$port"
}

# GET subscribes, POST publishes the body as one event (r3labs `Publish`).
start_r3labs() {
    local port; port=$(free_port)
    "$R3LABS_BIN" "127.0.0.1:$port" >"$WORK/r3labs.log" 2>&1 &
    PIDS+=($!); SERVER_PIDS=$!
    SUB_URL="http://127.0.0.1:$port/events?stream={stream}"
    PUB_URL=$SUB_URL
    wait_port "$port"
}

# nginx + nchan, redis-server and the Python venv come from the test
# suite's installer, which installs what is missing.
ensure_peers() {
    if [[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]] && command -v nginx >/dev/null \
        && command -v redis-server >/dev/null && [[ -x "$ROOT/tests/peers/venv/bin/python" ]]; then
        return 0
    fi
    bash "$ROOT/scripts/install-peers.sh"
}

start_starlette() {
    ensure_peers
    local port; port=$(free_port)
    "$ROOT/tests/peers/venv/bin/python" "$ROOT/bench/peers/starlette_hub.py" "$port" \
        >"$WORK/starlette.log" 2>&1 &
    PIDS+=($!); SERVER_PIDS=$!
    SUB_URL="http://127.0.0.1:$port/events?stream={stream}"
    PUB_URL=$SUB_URL
    wait_port "$port"
}

start_nchan() { start_nginx 1; }
start_nchan2() { start_nginx 2; }

# $1 = worker processes.
start_nginx() {
    ensure_peers
    local workers=$1 port dir; port=$(free_port); dir="$WORK/nginx-$port"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes $workers;
worker_rlimit_nofile 20000;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  # The tool pipelines its publish requests on one connection.
  keepalive_requests 100000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  nchan_shared_memory_size 256m;
  server {
    listen 127.0.0.1:$port;
    location = /events {
      nchan_subscriber eventsource;
      nchan_channel_id \$arg_stream;
      nchan_subscriber_first_message newest;
    }
    location = /pub {
      nchan_publisher;
      nchan_channel_id \$arg_stream;
      nchan_message_buffer_length 16;
    }
  }
}
EOF
    nginx -c "$dir/nginx.conf" -p "$dir" &
    local master=$!
    PIDS+=("$master")
    wait_port "$port"
    # The workers fork after the port opens: wait for all of them.
    for _ in $(seq 50); do
        [[ $(pgrep -c -P "$master") -ge $workers ]] && break
        sleep 0.1
    done
    SERVER_PIDS="$master $(pgrep -P "$master" | tr '\n' ' ')"
    SUB_URL="http://127.0.0.1:$port/events?stream={stream}"
    PUB_URL="http://127.0.0.1:$port/pub?stream={stream}"
}

# Starts one hub with extra arguments $@; sets HUB_PORT and HUB_PID.
spawn_hub() {
    local cmd; HUB_PORT=$(free_port)
    # Per-connection info logs off, as nginx's access_log is off.
    cmd=${HUB_CMD:-"$BIN/sse hub --bind 127.0.0.1:{port} --max-connections 20000 --no-demo"}
    RUST_LOG=${RUST_LOG:-warn} ${cmd//\{port\}/$HUB_PORT} "$@" >"$WORK/hub-$HUB_PORT.log" 2>&1 &
    HUB_PID=$!
    PIDS+=("$HUB_PID")
    wait_port "$HUB_PORT"
}

start_hub() {
    spawn_hub
    SERVER_PIDS=$HUB_PID
    SUB_URL="http://127.0.0.1:$HUB_PORT/events?stream={stream}"
    PUB_URL=$SUB_URL
}

start_cluster() {
    ensure_peers
    local redis_port; redis_port=$(free_port)
    mkdir -p "$WORK/redis-$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK/redis-$redis_port" >"$WORK/redis-$redis_port.log" 2>&1 &
    local redis_pid=$!
    PIDS+=("$redis_pid")
    wait_port "$redis_port"
    spawn_hub --redis "redis://127.0.0.1:$redis_port"
    local sub_port=$HUB_PORT sub_pid=$HUB_PID
    spawn_hub --redis "redis://127.0.0.1:$redis_port"
    SERVER_PIDS="$sub_pid $HUB_PID $redis_pid"
    SUB_URL="http://127.0.0.1:$sub_port/events?stream={stream}"
    PUB_URL="http://127.0.0.1:$HUB_PORT/events?stream={stream}"
}

# Total user+system CPU ticks of the given processes (fields 14 and 15 of
# /proc/PID/stat, counted after the command name's closing parenthesis).
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        read -r -a fields <<<"$(sed 's/.*) //' "/proc/$pid/stat")"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# CPU ticks the whole machine spent busy (everything but idle and iowait).
machine_ticks() {
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# Waits (at most SETTLE_SECONDS, default 60) until the machine is idle: a
# peer still draining the previous run's backlog, or anything else, would
# share the 2 cores with the next run. Idle: under 10 % of one core busy
# over a second.
settle() {
    local before after waited=0
    while ((waited < ${SETTLE_SECONDS:-60})); do
        before=$(machine_ticks)
        sleep 1
        waited=$((waited + 1))
        after=$(machine_ticks)
        if ((after - before <= 10)); then
            ((waited > 1)) && echo "   (machine idle after ${waited} s)" >&2
            return 0
        fi
    done
    echo "   (machine still busy after ${waited} s: the run shares it; see other CPU in the table)" >&2
}

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# Runs the tool against the current peer; $1 = scenario id, $2 = peer, rest = tool args.
STREAM_RUN=0
tool() {
    local id=$1 peer=$2; shift 2
    STREAM_RUN=$((STREAM_RUN + 1))
    local pid_args=()
    for p in $SERVER_PIDS; do pid_args+=(--server-pid "$p"); done
    echo "== run $RUN $id $peer: $*" | tee -a "$OUT/commands.txt" >&2
    "$BIN/sse-bench" --label "$peer" --subscribe-url "$SUB_URL" --publish-url "$PUB_URL" \
        --stream-prefix "r${STREAM_RUN}s" "${pid_args[@]}" "$@"
}

# Runs scenario $1 against peer $2, writing the tool's report to $3.
run_scenario() {
    local id=$1 peer=$2 json=$3
    case $id in
        a) tool a "$peer" --out "$json" fanout -n "$N" --rate "$RATE" --duration "$DUR" ;;
        b) tool b "$peer" --out "$json" fanout -n "$N" --rate 0 --duration "$DUR" ;;
        c) tool c "$peer" --out "$json" fanout -n $((STREAMS * PER_STREAM)) --streams "$STREAMS" \
               --rate "$C_RATE" --publishers 4 --duration "$DUR" ;;
        d)
            if [[ $IDLE_SHARDS -le 1 ]]; then
                tool d "$peer" --out "$json" idle -n "$IDLE" --duration 10
            else
                local parts=() pids=()
                for ((i = 0; i < IDLE_SHARDS; i++)); do
                    tool d "$peer" --shard "$i/$IDLE_SHARDS" --out "$json.$i" idle -n "$IDLE" --duration 10 &
                    pids+=($!); parts+=("$json.$i")
                done
                for p in "${pids[@]}"; do wait "$p"; done
                merge_shards "$json" "${parts[@]}"
            fi
            ;;
        e) tool e "$peer" --out "$json" churn --rate "$CHURN" --duration "$CHURN_DUR" --hold-ms 100 ;;
    esac
}

# Combines the reports of tool processes that shared one idle load.
merge_shards() {
    local out=$1; shift
    python3 - "$out" "$@" <<'EOF'
import json, sys
out, parts = sys.argv[1], [json.load(open(p)) for p in sys.argv[2:]]
r = dict(parts[0])
for key in ("connections_requested", "connections_held", "connect_errors", "stream_errors"):
    r[key] = sum(p[key] for p in parts)
r["connect_seconds"] = max(p["connect_seconds"] for p in parts)
r["connects_per_second"] = r["connections_held"] / r["connect_seconds"]
r["tool_cpu_seconds"] = sum(p["tool_cpu_seconds"] for p in parts)
r["tool_cpu_share"] = sum(p["tool_cpu_share"] for p in parts)
r["shard"] = f"{len(parts)} processes"
mem = r["memory"] = dict(parts[0]["memory"])
# Shards start together and hold for 10 s: each one's end-of-hold reading is
# taken while the other still holds its connections, so the larger is the
# reading with every connection open.
before = [p["memory"]["before_kib"] for p in parts if p["memory"]["before_kib"]]
end = [p["memory"]["end_kib"] for p in parts if p["memory"]["end_kib"]]
if before and end and r["connections_held"]:
    mem["before_kib"], mem["connected_kib"] = min(before), max(end)
    mem["per_connection_bytes"] = (max(end) - min(before)) * 1024 / r["connections_held"]
after = [p["memory"]["after_close_kib"] for p in parts if p["memory"]["after_close_kib"]]
mem["after_close_kib"] = min(after) if after else None
json.dump(r, open(out, "w"))
EOF
}

# Appends report $1 to reports.jsonl with the run's identity and where the
# machine's CPU went: $2 = scenario, $3 = run, $4 = machine busy ticks,
# $5 = server ticks, both over the whole tool invocation.
record() {
    python3 - "$OUT/reports.jsonl" "$@" <<'EOF'
import json, sys
out, path, scenario, run, machine, server = sys.argv[1:]
r = json.load(open(path))
r["id"], r["run"] = scenario, int(run)
r["machine_cpu_seconds"] = int(machine) / 100
# What neither the server nor the tool used: other processes on the machine.
r["other_cpu_seconds"] = max(0.0, (int(machine) - int(server)) / 100 - r["tool_cpu_seconds"])
open(out, "a").write(json.dumps(r, separators=(",", ":")) + "\n")
EOF
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
    echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB; kernel: $(uname -sr)"
    echo "versions: $(rustc --version); $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    [[ " $PEERS " == *" r3labs "* ]] && echo "r3labs: $(cat "$R3LABS_SRC/r3labs-sse/SNAPSHOT" 2>/dev/null | cut -c1-12), $(go version 2>/dev/null)"
    [[ " $PEERS " == *" nchan"* ]] && echo "nchan: $(nginx -v 2>&1)"
    echo "mode: $MODE; runs: $RUNS; peers: $PEERS; scenarios: $SCENARIOS"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt" >&2

# The loopback floor at the scale of the runs: one send to each of
# min(N, 9,000) sockets (each pair takes two of the 20,000 open files).
pairs=$((N < 9000 ? N : 9000))
: >"$OUT/floor.txt"
for _ in 1 2 3; do
    "$BIN/sse-bench-floor" --pairs "$pairs" --rounds 20 | tee -a "$OUT/floor.txt" >&2
done

read -r -a PEER_LIST <<<"$PEERS"
count=${#PEER_LIST[@]}
rotation=0
for ((RUN = 1; RUN <= RUNS; RUN++)); do
    for id in $SCENARIOS; do
        for ((k = 0; k < count; k++)); do
            peer=${PEER_LIST[$(((k + rotation) % count))]}
            settle
            if ! "start_$peer"; then
                echo "run $RUN $id $peer: the server did not start" >&2
                stop_all
                continue
            fi
            json="$WORK/$id-$peer.json"
            rm -f "$json"
            read -r -a spids <<<"$SERVER_PIDS"
            machine0=$(machine_ticks) server0=$(cpu_ticks "${spids[@]}")
            if run_scenario "$id" "$peer" "$json" && [[ -s $json ]]; then
                record "$json" "$id" "$RUN" "$(($(machine_ticks) - machine0))" \
                    "$(($(cpu_ticks "${spids[@]}") - server0))"
            else
                echo "run $RUN $id $peer: run failed" >&2
            fi
            stop_all
        done
        rotation=$((rotation + 1))
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2

python3 "$ROOT/bench/table.py" "$OUT" | tee "$OUT/table.md"
echo "results in $OUT" >&2
