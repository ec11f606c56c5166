#!/usr/bin/env python3
"""Markdown tables from one bench/fanout.sh run set (the tables BENCHMARKS.md shows).

Usage: table.py DIR, where DIR holds reports.jsonl (one tool report per
line, tagged with its scenario `id` and `run`), machine.txt and floor.txt.

Every cell is the median of the runs, with the min-max range in brackets
when the runs differ. Ratios compare medians with `hub` when it ran, else
with `baseline` (> 1 on deliveries/s, < 1 on latency and memory is better
than the reference). Latency is also given against the loopback floor:
the kernel's time to send one event to every subscriber, one `send` each
(floor.txt, from `sse-bench-floor`), below which no server's last
subscriber can receive it on this machine.
"""
import json
import os
import re
import statistics
import sys

TITLES = {
    "a": "(a) one stream, fixed rate",
    "b": "(b) one stream, as fast as possible (bounded in-flight window)",
    "c": "(c) many streams x subscribers, random publishing",
    "d": "(d) idle subscribers",
    "e": "(e) connection churn",
}

FLOOR_LINE = re.compile(r"(\d+) pairs x \d+ rounds of (\d+) bytes: ([\d.]+) us per send, ([\d.]+) us per recv")

# Our peers first, then the rest by name.
RANK = {"hub": 0, "cluster": 1, "r3labs": 2}


def spread(values, fmt):
    """`median (min-max)`, or the one value when the runs agree or there is one."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mid = fmt(statistics.median(values))
    lo, hi = fmt(min(values)), fmt(max(values))
    return mid if lo == hi else f"{mid} ({lo}–{hi})"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(value, ref):
    return "-" if value is None or not ref else f"{value / ref:.2f}"


def ms(us):
    return f"{us / 1000:.1f}" if us < 100_000 else f"{us / 1000:.0f}"


def rates(values):
    """Deliveries/s, every value of a cell in the unit its median calls for."""
    mid = median(values)
    if mid is not None and mid >= 100_000:
        return spread([v / 1e6 for v in values], lambda v: f"{v:.2f}") + " M"
    return spread(values, count)


def mib(kib):
    return f"{kib / 1024:.1f}"


def count(v):
    return f"{v:,.0f}"


def pct(share):
    return f"{share * 100:.0f}%"


def read_floor(directory):
    """(pairs, bytes, [µs per send], [µs per recv]) from floor.txt, or None."""
    path = os.path.join(directory, "floor.txt")
    if not os.path.exists(path):
        return None
    found = [FLOOR_LINE.search(line) for line in open(path)]
    found = [m for m in found if m]
    if not found:
        return None
    pairs, size = int(found[0][1]), int(found[0][2])
    return pairs, size, [float(m[3]) for m in found], [float(m[4]) for m in found]


def header(directory, runs, floor):
    machine = {}
    path = os.path.join(directory, "machine.txt")
    if os.path.exists(path):
        for line in open(path):
            key, _, value = line.partition(": ")
            machine[key] = value.strip()
    lines = []
    if machine:
        lines.append(
            f"Machine: {machine.get('cpu', '?')}, {machine.get('memory', '?')}; "
            f"{machine.get('versions', '')}; {machine.get('date', '')}."
        )
        lines.append(
            f"Load average {machine.get('load average at start', '?')} at the start, "
            f"{machine.get('load average at end', '?')} at the end."
        )
    lines.append(
        f"{runs} run(s) per peer and scenario, one server up at a time, started fresh; "
        "each cell is the median (min–max) of the runs. The load tool runs on the same "
        "cores: its share is `tool CPU` (100% = one core), and `other CPU` is what neither "
        "server nor tool used (other processes) during the run."
    )
    if floor:
        pairs, size, sends, recvs = floor
        lines.append(
            f"Loopback floor (`sse-bench-floor --pairs {pairs}`, {len(sends)} runs): "
            f"{spread(sends, lambda v: f'{v:.2f}')} µs per {size}-byte send, "
            f"{spread(recvs, lambda v: f'{v:.2f}')} µs per receive; `p99 / floor` divides the p99 "
            "by one event's sends to every subscriber (subscribers × median µs per send)."
        )
    return "\n".join(lines) + "\n"


def by_peer(reports):
    peers = {}
    for r in reports:
        peers.setdefault(r["label"], []).append(r)
    return dict(sorted(peers.items(), key=lambda kv: (RANK.get(kv[0], 9), kv[0])))


def reference(peers):
    name = "hub" if "hub" in peers else "baseline" if "baseline" in peers else None
    return name, peers.get(name, [])


def fanout_table(peers, floor_us):
    ref_name, ref = reference(peers)
    ref_rate = median([r["deliveries_per_second"] for r in ref])
    ref_p99 = median([r["latency"]["p99_us"] for r in ref])
    out = [
        "| peer | held | deliveries/s | p50 ms | p99 ms | p99 / floor | lost, dup "
        f"| server µs/delivery | server RSS MiB | tool CPU | other CPU | deliveries/s vs {ref_name} | p99 vs {ref_name} |",
        "|---" + "|---:" * 12 + "|",
    ]
    for name, rs in peers.items():
        p99 = [r["latency"]["p99_us"] for r in rs]
        rate = [r["deliveries_per_second"] for r in rs]
        floor = "-"
        if floor_us:
            floor = spread([v / (floor_us * r["connections_requested"]) for v, r in zip(p99, rs)], lambda v: f"{v:.1f}x")
        out.append(
            f"| {name} | {spread([r['connections_held'] for r in rs], count)} | {rates(rate)} "
            f"| {spread([r['latency']['p50_us'] for r in rs], ms)} | {spread(p99, ms)} | {floor} "
            f"| {sum(r['lost'] for r in rs)}, {sum(r['duplicated'] for r in rs)} "
            f"| {spread([r.get('server_cpu_us_per_delivery') for r in rs], lambda v: f'{v:.1f}')} "
            f"| {spread([r['memory']['connected_kib'] for r in rs], mib)} "
            f"| {spread([r['tool_cpu_share'] for r in rs], pct)} "
            f"| {spread([other_share(r) for r in rs], pct)} "
            f"| {ratio(median(rate), ref_rate)} | {ratio(median(p99), ref_p99)} |"
        )
    return out


def other_share(r):
    other = r.get("other_cpu_seconds")
    return None if other is None or not r.get("wall_seconds") else other / r["wall_seconds"]


def idle_table(peers):
    ref_name, ref = reference(peers)
    ref_per = median([r["memory"].get("per_connection_bytes") for r in ref])
    out = [
        "| peer | held | opened/s | RSS MiB before | RSS MiB all open | bytes per connection "
        f"| RSS MiB after close | tool CPU | per connection vs {ref_name} |",
        "|---" + "|---:" * 8 + "|",
    ]
    for name, rs in peers.items():
        per = [r["memory"].get("per_connection_bytes") for r in rs]
        out.append(
            f"| {name} | {spread([r['connections_held'] for r in rs], count)} "
            f"| {spread([r['connects_per_second'] for r in rs], lambda v: f'{v:,.0f}')} "
            f"| {spread([r['memory']['before_kib'] for r in rs], mib)} "
            f"| {spread([r['memory']['connected_kib'] for r in rs], mib)} "
            f"| {spread(per, lambda v: f'{v:,.0f}')} "
            f"| {spread([r['memory']['after_close_kib'] for r in rs], mib)} "
            f"| {spread([r['tool_cpu_share'] for r in rs], pct)} | {ratio(median(per), ref_per)} |"
        )
    return out


def churn_table(peers):
    ref_name, ref = reference(peers)
    ref_p99 = median([r["latency"]["p99_us"] for r in ref])
    out = [
        "| peer | opened / attempted | errors | connect p50 ms | connect p99 ms "
        f"| RSS MiB before / peak / after close | server CPU s | tool CPU | p99 vs {ref_name} |",
        "|---" + "|---:" * 8 + "|",
    ]
    for name, rs in peers.items():
        p99 = [r["latency"]["p99_us"] for r in rs]
        mem = lambda key: spread([r["memory"][key] for r in rs], mib)  # noqa: E731
        out.append(
            f"| {name} | {sum(r['connections_held'] for r in rs)} / {sum(r['connections_requested'] for r in rs)} "
            f"| {sum(r['connect_errors'] + r['stream_errors'] for r in rs)} "
            f"| {spread([r['latency']['p50_us'] for r in rs], ms)} | {spread(p99, ms)} "
            f"| {mem('before_kib')} / {mem('peak_kib')} / {mem('after_close_kib')} "
            f"| {spread([r.get('server_cpu_seconds') for r in rs], lambda v: f'{v:.1f}')} "
            f"| {spread([r['tool_cpu_share'] for r in rs], pct)} | {ratio(median(p99), ref_p99)} |"
        )
    return out


def headline(scenarios):
    """One row per peer: the figures README and BENCHMARKS quote."""
    cols = [
        ("a", "(a) p50 ms", lambda r: r["latency"]["p50_us"], ms),
        ("a", "(a) p99 ms", lambda r: r["latency"]["p99_us"], ms),
        ("b", "(b) deliveries/s", lambda r: r["deliveries_per_second"], None),
        ("c", "(c) p99 ms", lambda r: r["latency"]["p99_us"], ms),
        ("d", "(d) bytes per idle connection", lambda r: r["memory"].get("per_connection_bytes"), lambda v: f"{v:,.0f}"),
        ("e", "(e) connect p99 ms", lambda r: r["latency"]["p99_us"], ms),
    ]
    cols = [c for c in cols if c[0] in scenarios]
    names = by_peer([r for rs in scenarios.values() for r in rs]).keys()
    out = ["| peer | " + " | ".join(c[1] for c in cols) + " | lost, dup |", "|---" + "|---:" * (len(cols) + 1) + "|"]
    for name in names:
        cells = []
        for sid, _, value, fmt in cols:
            rs = [r for r in scenarios[sid] if r["label"] == name]
            values = [value(r) for r in rs]
            cells.append(rates(values) if fmt is None else spread(values, fmt))
        rs = [r for sid in "abc" for r in scenarios.get(sid, []) if r["label"] == name]
        lost = f"{sum(r['lost'] for r in rs)}, {sum(r['duplicated'] for r in rs)}" if rs else "-"
        out.append(f"| {name} | " + " | ".join(cells) + f" | {lost} |")
    return out


def main(directory):
    reports = [json.loads(line) for line in open(os.path.join(directory, "reports.jsonl")) if line.strip()]
    scenarios = {}
    for r in reports:
        scenarios.setdefault(r["id"], []).append(r)
    runs = max((r["run"] for r in reports), default=0)
    floor = read_floor(directory)
    floor_us = statistics.median(floor[2]) if floor else None
    print(header(directory, runs, floor))
    print("### Headline\n")
    print("\n".join(headline(scenarios)) + "\n")
    for sid in sorted(scenarios):
        rs = scenarios[sid]
        peers = by_peer(rs)
        first = rs[0]
        print(f"### {TITLES.get(sid, sid)}\n")
        if first["scenario"] == "fanout":
            print(
                f"{first['connections_requested']:,} subscribers, {first['streams']:,} stream(s), "
                f"{first['event_size']}-byte events, rate {first['rate_requested'] or 'unthrottled'}, "
                f"{first['publish_seconds']:.0f} s\n"
            )
            print("\n".join(fanout_table(peers, floor_us if first["streams"] == 1 else None)))
        elif first["scenario"] == "idle":
            tools = "one tool process" if first["shard"] == "0/1" else first["shard"]
            print(f"{first['connections_requested']:,} idle subscribers, held 10 s ({tools})\n")
            print("\n".join(idle_table(peers)))
        else:
            print(
                f"{first['rate_requested']:.0f} connects/s for {first['publish_seconds']:.0f} s, "
                "each subscribed 100 ms\n"
            )
            print("\n".join(churn_table(peers)))
        errors = sorted({f"{r['label']}: {r['first_error']}" for r in rs if r.get("first_error")})
        if errors:
            print("\nFirst errors: " + "; ".join(errors))
        print()


if __name__ == "__main__":
    main(sys.argv[1])
