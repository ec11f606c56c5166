#!/usr/bin/env bash
# The one test command: installs the foreign peers the suite drives (see
# scripts/install-peers.sh), then runs every test of the workspace.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -p sse-proto`
# or `scripts/test.sh -- --nocapture`. Runnable from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=install-peers.sh
if ! source "$root/scripts/install-peers.sh"; then
    echo "test.sh: the test peers could not all be installed; with CI=true that is fatal" >&2
    exit 1
fi

# The contract-test run writes its pass count here; cargo test hides the
# output of passing tests, so it is printed once the suite has passed.
contract_report="${SSE_LD_CONTRACT_TESTS:-$root/tests/peers/ld-contract-tests/sse-contract-tests}"
contract_report="$(dirname "$contract_report")/last-run.txt"
rm -f "$contract_report"
cargo test --workspace --all-features "$@"
if [ -f "$contract_report" ]; then
    cat "$contract_report"
fi
