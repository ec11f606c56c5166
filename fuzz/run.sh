#!/usr/bin/env bash
# Bounded fuzzing run for CI: `fuzz/run.sh SECONDS` builds both targets and
# runs each for SECONDS; any crash makes the script fail.
set -euo pipefail

seconds="${1:?usage: fuzz/run.sh SECONDS}"
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes nightly-only flags (sanitizers); the stable toolchain
# accepts them with this escape hatch, so no nightly install is needed.
export RUSTC_BOOTSTRAP=1

cargo fuzz build
for target in decode_chunked roundtrip; do
    mkdir -p "corpus/$target"
    seeds=()
    if [ -d "seeds/$target" ]; then
        seeds=("seeds/$target")
    fi
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
