#!/usr/bin/env python3
"""Markdown tables from the JSON reports of bench/fanout.sh (one per run).

Usage: table.py DIR. Ratios compare each peer with `hub` when it ran, else
with `baseline` (so > 1 on deliveries/s, < 1 on latency and memory is
better than the reference).
"""
import glob
import json
import os
import sys

TITLES = {
    "a": "(a) one stream, fixed rate",
    "b": "(b) one stream, as fast as possible (bounded in-flight window)",
    "c": "(c) many streams x subscribers, random publishing",
    "d": "(d) idle subscribers",
    "e": "(e) connection churn",
}


def ms(us):
    return f"{us / 1000:.1f}"


def mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f}"


def ratio(value, ref):
    if value is None or not ref:
        return "-"
    return f"{value / ref:.2f}"


def main(directory):
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, "*-*.json"))):
        scenario, peer = os.path.basename(path)[: -len(".json")].split("-", 1)
        runs.setdefault(scenario, {})[peer] = json.load(open(path))
    for scenario in sorted(runs):
        peers = runs[scenario]
        ref_name = "hub" if "hub" in peers else "baseline"
        ref = peers.get(ref_name)
        first = next(iter(peers.values()))
        print(f"### {TITLES.get(scenario, scenario)}\n")
        if first["scenario"] == "fanout":
            print(
                f"{first['connections_requested']} subscribers, {first['streams']} stream(s), "
                f"{first['event_size']}-byte events, rate {first['rate_requested'] or 'unthrottled'}, "
                f"{first['publish_seconds']:.0f} s\n"
            )
            print(
                "| peer | held | conn err | events/s | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms "
                f"| lost | dup | server CPU s (us/delivery) | server RSS MiB connected/end | tool CPU | deliveries/s vs {ref_name} | p99 vs {ref_name} |"
            )
            print("|---" * 16 + "|")
            for name, r in sorted(peers.items()):
                lat, mem = r["latency"], r["memory"]
                cpu = r.get("server_cpu_seconds")
                per = r.get("server_cpu_us_per_delivery")
                cpu_txt = "-" if cpu is None else f"{cpu:.1f} ({per:.1f})" if per else f"{cpu:.1f}"
                print(
                    f"| {name} | {r['connections_held']} | {r['connect_errors'] + r['stream_errors']} "
                    f"| {r['events_per_second']:.1f} | {r['deliveries_per_second']:.0f} "
                    f"| {ms(lat['p50_us'])} | {ms(lat['p99_us'])} | {ms(lat['p999_us'])} | {ms(lat['max_us'])} "
                    f"| {r['lost']} | {r['duplicated']} | {cpu_txt} "
                    f"| {mib(mem['connected_kib'])}/{mib(mem['end_kib'])} | {r['tool_cpu_share'] * 100:.0f}% "
                    f"| {ratio(r['deliveries_per_second'], ref and ref['deliveries_per_second'])} "
                    f"| {ratio(lat['p99_us'], ref and ref['latency']['p99_us'])} |"
                )
        elif first["scenario"] == "idle":
            print(f"{first['connections_requested']} idle subscribers, held 10 s ({first['shard']})\n")
            print(
                "| peer | held | conn err | time to open s | opened/s | RSS MiB before | RSS MiB all open "
                f"| bytes per connection | RSS MiB after close | tool CPU | per connection vs {ref_name} |"
            )
            print("|---" * 11 + "|")
            for name, r in sorted(peers.items()):
                mem = r["memory"]
                per = mem.get("per_connection_bytes")
                ref_per = ref and ref["memory"].get("per_connection_bytes")
                print(
                    f"| {name} | {r['connections_held']} | {r['connect_errors'] + r['stream_errors']} "
                    f"| {r['connect_seconds']:.2f} | {r['connects_per_second']:.0f} "
                    f"| {mib(mem['before_kib'])} | {mib(mem['connected_kib'])} "
                    f"| {'-' if per is None else f'{per:.0f}'} | {mib(mem['after_close_kib'])} "
                    f"| {r['tool_cpu_share'] * 100:.0f}% | {ratio(per, ref_per)} |"
                )
        else:
            print(
                f"{first['rate_requested']:.0f} connects/s for {first['publish_seconds']:.0f} s, "
                "each subscribed 100 ms\n"
            )
            print(
                "| peer | attempted | opened | errors | opened/s | connect p50 ms | p99 ms | max ms "
                f"| RSS MiB before/peak/after close | server CPU s | tool CPU | p99 vs {ref_name} |"
            )
            print("|---" * 12 + "|")
            for name, r in sorted(peers.items()):
                lat, mem = r["latency"], r["memory"]
                cpu = r.get("server_cpu_seconds")
                print(
                    f"| {name} | {r['connections_requested']} | {r['connections_held']} "
                    f"| {r['connect_errors'] + r['stream_errors']} | {r['connects_per_second']:.0f} "
                    f"| {ms(lat['p50_us'])} | {ms(lat['p99_us'])} | {ms(lat['max_us'])} "
                    f"| {mib(mem['before_kib'])}/{mib(mem['peak_kib'])}/{mib(mem['after_close_kib'])} "
                    f"| {'-' if cpu is None else f'{cpu:.1f}'} | {r['tool_cpu_share'] * 100:.0f}% "
                    f"| {ratio(lat['p99_us'], ref and ref['latency']['p99_us'])} |"
                )
        errors = [f"{n}: {r['first_error']}" for n, r in sorted(peers.items()) if r.get("first_error")]
        if errors:
            print("\nFirst errors: " + "; ".join(errors))
        print()


if __name__ == "__main__":
    main(sys.argv[1])
