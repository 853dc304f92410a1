#!/usr/bin/env bash
# The API's contract, tried from outside as a client would: the local stack (the same binary as
# `make dev`) on spare ports over a scratch table, its OpenAPI document validated, then
# Schemathesis runs every check over every operation as the agent, the operator and an employee.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local_stack.sh
.venv/bin/openapi-spec-validator "$work/openapi.json"
curl -sf "$base/dev/tokens" -o "$work/tokens.json"
status=0
for persona in agent operator employee; do
    token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["token"])' "$work/tokens.json" "$persona")
    echo "schemathesis as $persona"
    ST_TOKEN=$token .venv/bin/schemathesis --config-file scripts/schemathesis.toml run --no-color \
        "$base/openapi.json" || status=1
done
# Random codes stop at the tenant guard: once more as the agent, inside the demo enterprise, so
# the cases reach the handlers behind it.
demo_uscc=$(sed -n 's/^  Demo USCC *\([0-9A-Z]\{18\}\) .*/\1/p' "$stack_log")
[ -n "$demo_uscc" ] || { echo "the local stack did not print its demo USCC"; exit 1; }
echo "demo enterprise $demo_uscc"
{ cat scripts/schemathesis.toml; printf '\n[parameters]\n"path.uscc" = "%s"\n' "$demo_uscc"; } >"$work/enterprise.toml"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent"]["token"])' "$work/tokens.json")
echo "schemathesis as agent, in the demo enterprise"
ST_TOKEN=$token .venv/bin/schemathesis --config-file "$work/enterprise.toml" run --no-color \
    "$base/openapi.json" || status=1
exit $status
