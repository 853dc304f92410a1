#!/usr/bin/env bash
# The state machines of template.yaml (sync, relabel, sunset, rekey) against the Amazon States Language
# schema, with asl-validator (web/'s npm packages): every definition is taken out of the template,
# its ${…} substitutions filled with a Lambda ARN of the right shape, and checked, paths included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_setup.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.venv/bin/python scripts/state_machine_definitions.py "$out"
args=()
for definition in "$out"/*.json; do args+=(--json-path "$definition"); done
(cd web && npx --no-install asl-validator "${args[@]}")
echo "state machines valid: $(cd "$out" && ls | sed 's/\.json$//' | paste -sd ' ')"
