#!/usr/bin/env bash
# The state machines of template.yaml (sync, relabel, rekey, sunset) executed end to end by a
# States Language engine (aws-local-stepfunctions, web/'s npm packages) whose Task states invoke
# the jobs' own handlers over the local engines (the jobs bridge, tools/local/src/bin/jobs.rs):
# their paths, Retry and Catch taken as Step Functions would (web/scripts/state-machines.mjs says
# what is expected).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_setup.sh
cargo build --quiet -p local --bin jobs
work=$(mktemp -d)
target/debug/jobs >"$work/jobs.log" 2>&1 &
bridge=$!
trap 'kill "$bridge" 2>/dev/null || true; wait "$bridge" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do
    grep -q '^listening on' "$work/jobs.log" && break
    kill -0 "$bridge" 2>/dev/null || { cat "$work/jobs.log"; exit 1; }
    sleep 0.5
done
port=$(sed -n 's/^listening on //p' "$work/jobs.log")
[ -n "$port" ] || { echo "the jobs bridge did not start"; cat "$work/jobs.log"; exit 1; }
.venv/bin/python scripts/state_machine_definitions.py "$work"
(cd web && node scripts/state-machines.mjs "$work" "http://127.0.0.1:$port")
