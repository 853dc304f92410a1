# Sourced by the scripts that try the system from outside (contract.sh, web.sh): starts the local
# stack (the same binary as `make dev`) on spare ports over a scratch table, waits until it
# answers, and stops it on exit. Sets `base` (its URL), `work` (a scratch directory) and
# `stack_log`.
cargo build --quiet -p local --bin local
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
stack_log="$work/local.log"
LOCAL_PORT=$port MOTO_PORT=$(free_port) LOCAL_DATA="$work/dynamodb.sqlite" \
    setsid target/debug/local >"$stack_log" 2>&1 &
server=$!
cleanup() { kill -INT -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 240); do
    curl -sf "$base/openapi.json" -o "$work/openapi.json" && break
    kill -0 "$server" 2>/dev/null || { cat "$stack_log"; exit 1; }
    sleep 0.5
done
curl -sf "$base/openapi.json" -o "$work/openapi.json" || { echo "the local stack did not answer"; cat "$stack_log"; exit 1; }
