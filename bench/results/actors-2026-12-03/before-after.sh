#!/usr/bin/env bash
# Alternates the sse-actors fanout bench at two builds, 3 runs each; prints deliveries/s per run.
set -euo pipefail
BEFORE=$(ls -t /work/target-before/release/deps/fanout-* | grep -v '\.d$' | head -1)
AFTER=$(ls -t /work/target-mux/release/deps/fanout-* | grep -v '\.d$' | head -1)
OUT=${OUT:-/work/helpers/bench/actors-$(date +%H%M)}
mkdir -p "$OUT"
for run in 1 2 3; do
  for side in before after; do
    bin=$BEFORE; [[ $side == after ]] && bin=$AFTER
    home="$OUT/$side-$run"
    (cd /work/wt-lead && CRITERION_HOME="$home" "$bin" --bench > "$home.log" 2>&1)
    for n in 1 1000 10000; do
      ns=$(python3 -c "import json;print(json.load(open('$home/fanout/$n/new/estimates.json'))['median']['point_estimate'])")
      python3 -c "print('$side run $run n=$n', round(100*$n/($ns/1e9)))"
    done
    grep "^fanout/" "$home.log" | sed "s/^/$side run $run: /"
  done
done | tee "$OUT/summary.txt"
