#!/usr/bin/env bash
# Resident memory of `sse hub` in issue 18's two memory cases, one run:
#
#   stalled  4 clients that stop reading (4 KiB receive buffers) subscribe,
#            then 400 events of 1 MiB are published to their stream with
#            --log-max-bytes 4194304
#   streams  8 events of 1 MiB are published to each of 100 streams (each
#            log's own limit is the default 8 MiB)
#
#   SSE=target/release/sse bench/limits-rss.sh stalled|streams [HUB FLAGS...]
#
# Prints the RSS before publishing, the peak (VmHWM) and after, in MiB, and
# what `/healthz` says the logs hold. Needs python3 and curl; the published
# bodies are 1,048,000 bytes.
set -euo pipefail
case=${1:?stalled or streams}
shift
SSE=${SSE:-target/release/sse}
out=$(mktemp)
clients=
flags=(--bind 127.0.0.1:0 --workers 1 --max-body-size 2097152)
[ "$case" = stalled ] && flags+=(--log-max-bytes 4194304)
"$SSE" hub "${flags[@]}" "$@" >"$out" 2>/dev/null &
hub=$!
trap 'kill $hub $clients 2>/dev/null || true; rm -f "$out" "$out.data"' EXIT
until grep -q listening "$out"; do sleep 0.1; done
addr=$(sed -n 's|.*http://||p' "$out" | head -1)
mib() { awk -v k="$1" '$1 == k":" {printf "%.0f", $2 / 1024}' "/proc/$hub/status"; }
publish() { curl -sf -o /dev/null --data-binary @"$out.data" "http://$addr/events?stream=$1"; }
head -c 1048000 /dev/zero | tr '\0' x >"$out.data"
if [ "$case" = stalled ]; then
  python3 - "$addr" <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
held = []
for _ in range(4):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(b"GET /events?stream=big HTTP/1.1\r\nHost: hub\r\n\r\n")
    s.recv(512)
    held.append(s)
time.sleep(600)
PY
  clients=$!
  sleep 1
fi
before=$(mib VmRSS)
if [ "$case" = stalled ]; then
  for _ in $(seq 400); do publish big; done
else
  for s in $(seq 100); do for _ in $(seq 8); do publish "s$s"; done; done
fi
sleep 1
logs=$(curl -s "http://$addr/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("log_bytes", "-"))')
echo "rss_before_mib=$before peak_mib=$(mib VmHWM) rss_after_mib=$(mib VmRSS) log_bytes=$logs"
