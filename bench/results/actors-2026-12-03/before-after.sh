#!/usr/bin/env bash
# Runs two builds of `cargo bench -p sse-actors --bench fanout` alternately,
# 3 rounds, printing deliveries/s per run from criterion's median estimate.
#   git worktree add ../before 6a2487e && (cd ../before && cargo bench -p sse-actors --bench fanout --no-run)
#   cargo bench -p sse-actors --bench fanout --no-run
#   before-after.sh ../before/target/release/deps/fanout-HASH target/release/deps/fanout-HASH
set -euo pipefail
BEFORE=$1 AFTER=$2 OUT=${OUT:-$(mktemp -d)}
for run in 1 2 3; do
  for side in before after; do
    bin=$BEFORE; [[ $side == after ]] && bin=$AFTER
    home="$OUT/$side-$run"
    CRITERION_HOME="$home" "$bin" --bench > "$home.log" 2>&1
    for n in 1 1000 10000; do
      ns=$(python3 -c "import json;print(json.load(open('$home/fanout/$n/new/estimates.json'))['median']['point_estimate'])")
      python3 -c "print('$side run $run n=$n', round(100*$n/($ns/1e9)))"
    done
    grep "^fanout/" "$home.log" | sed "s/^/$side run $run: /"
  done
done
