#!/usr/bin/env bash
# Runs every Rust test and ends with one total line ("N passed, N failed") over all test binaries;
# first the gates: formatting, and clippy with warnings denied (the lints are `[workspace.lints]`).
set -uo pipefail
cargo fmt --all --check || { echo "cargo fmt --all would change the files above"; exit 1; }
cargo clippy --workspace --all-targets --quiet -- -D warnings || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$out"
exit "$status"
