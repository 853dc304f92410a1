#!/usr/bin/env bash
# The API's contract, tried from outside as a client would: the local stack (the same binary as
# `make dev`) on spare ports over a scratch table, its OpenAPI document validated, then
# Schemathesis runs every check over every operation as the agent, the operator and an employee.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p local --bin local
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
LOCAL_PORT=$port MOTO_PORT=$(free_port) LOCAL_DATA="$work/dynamodb.sqlite" \
    setsid target/debug/local >"$work/local.log" 2>&1 &
server=$!
cleanup() { kill -INT -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 240); do
    curl -sf "$base/openapi.json" -o "$work/openapi.json" && break
    kill -0 "$server" 2>/dev/null || { cat "$work/local.log"; exit 1; }
    sleep 0.5
done
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
demo_uscc=$(sed -n 's/^  Demo USCC *\([0-9A-Z]\{18\}\) .*/\1/p' "$work/local.log")
[ -n "$demo_uscc" ] || { echo "the local stack did not print its demo USCC"; exit 1; }
echo "demo enterprise $demo_uscc"
{ cat scripts/schemathesis.toml; printf '\n[parameters]\n"path.uscc" = "%s"\n' "$demo_uscc"; } >"$work/enterprise.toml"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent"]["token"])' "$work/tokens.json")
echo "schemathesis as agent, in the demo enterprise"
ST_TOKEN=$token .venv/bin/schemathesis --config-file "$work/enterprise.toml" run --no-color \
    "$base/openapi.json" || status=1
exit $status
