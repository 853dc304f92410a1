#!/usr/bin/env bash
# Runs every Rust test and ends with one total line ("N passed, N failed") over all test binaries;
# first the gates: formatting, clippy with warnings denied (the lints are `[workspace.lints]`), and
# the dependency graph's licences, bans and sources (deny.toml; offline, no advisory database).
set -uo pipefail
cargo fmt --all --check || { echo "cargo fmt --all would change the files above"; exit 1; }
cargo clippy --workspace --all-targets --quiet -- -D warnings || exit 1
if ! cargo deny --version >/dev/null 2>&1; then
    echo "installing cargo-deny (once, about 4 minutes)"
    cargo install --locked --quiet cargo-deny@0.20.2 || exit 1
fi
cargo deny --offline --log-level error check licenses bans sources || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$out"
# The state machines against the States Language schema, and the jobs' executed by an engine.
bash scripts/asl_check.sh || status=1
bash scripts/state_machines.sh || status=1
# The API's contract from outside: the OpenAPI document validates, and Schemathesis finds nothing.
bash scripts/contract.sh || status=1
# The H5 client: types match the API, it builds within budget, the browser specs pass.
bash scripts/web.sh || status=1
exit "$status"
