#!/usr/bin/env bash
# Builds in release and runs every benchmark scenario of BENCHMARKS.md on this machine
# (a few minutes), printing the results table and writing it to target/bench/.
#
# The server runs as operators run it (release binary, embedded toolbox reached over
# real HTTP, local planner), with the rate limits off (RATE_LIMIT_PER_SEC=0 and the
# per-client ones: every load generator connection comes from 127.0.0.1) and room for
# 10,000+ connections and 1,000 turns at once. The load generator runs on the same
# machine. SERVER_BIN picks another server binary (e.g. an older build to compare).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engines.sh"
cd "$ROOT"

step "Release build (server, toolbox, loadgen)"
cargo build --release -p server -p toolbox -p bench
out="target/bench"
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
# 10,000 idle connections need as many descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "$1 never answered" >&2; return 1
}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_server PORT [VAR=VALUE…]: the release server with the bench's settings.
start_server() {
  local port="$1"; shift
  env HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn RATE_LIMIT_PER_SEC=0 MAX_CONNECTIONS=20000 MAX_SESSIONS=20000 \
    MAX_QUEUED_TURNS=8 MAX_CONNECTIONS_PER_CLIENT=0 CLIENT_RATE_LIMIT_PER_SEC=0 \
    MAX_API_TURNS_PER_CLIENT=0 MAX_CONCURRENT_TURNS=2000 LEPTOS_SITE_ROOT=target/site \
    "$@" "${SERVER_BIN:-./target/release/server}" &
  pids+=("$!")
}

toolbox_port=$(free_port)
HOST=127.0.0.1 PORT=$toolbox_port LOG_LEVEL=warn ./target/release/toolbox &
pids+=("$!")
echo_port=$(free_port)
./target/release/loadgen echo-server --listen "127.0.0.1:$echo_port" 2>/dev/null &
pids+=("$!")
wait_http "http://127.0.0.1:$toolbox_port/health"

run() {
  local label="$1"; shift
  printf '%-34s' "$label" >&2
  local line
  line=$(./target/release/loadgen "$@")
  python3 scripts/bench_report.py --record "$label" "$line" >> "$results"
}

step "Conversations in memory (DATABASE_URL=memory:), for comparison"
memory_port=$(free_port)
start_server "$memory_port" DATABASE_URL=memory:
memory_pid=$!
wait_http "http://127.0.0.1:$memory_port/readyz"
mws="ws://127.0.0.1:$memory_port/ws"
run "warm-up (memory)"                 turns --url "$mws" --clients 20 --turns 100
run "1 client, memory store"           turns --url "$mws" --clients 1 --turns 5000 --server-pid "$memory_pid"
run "50 clients, memory store"         turns --url "$mws" --clients 50 --turns 400 --server-pid "$memory_pid"
kill "$memory_pid"

step "The default: conversations in SQLite"
rm -f "$out"/toolstream.db*
server_port=$(free_port)
start_server "$server_port" DATABASE_URL="sqlite://$out/toolstream.db"
server_pid=$!
wait_http "http://127.0.0.1:$server_port/readyz"

ws="ws://127.0.0.1:$server_port/ws"
run "warm-up"                          turns --url "$ws" --clients 20 --turns 100
run "echo round trip (baseline)"       echo --url "ws://127.0.0.1:$echo_port/ws" --round-trips 20000
run "1 client, sequential turns"       turns --url "$ws" --clients 1 --turns 5000 --server-pid "$server_pid"
run "50 clients"                       turns --url "$ws" --clients 50 --turns 400 --server-pid "$server_pid"
run "50 clients, chained (2 tools)"    turns --url "$ws" --clients 50 --turns 200 --chained
run "200 clients"                      turns --url "$ws" --clients 200 --turns 100 --server-pid "$server_pid"
run "200 clients, 5 turns/s each"      turns --url "$ws" --clients 200 --turns 50 --rate 5
run "200 clients, 10 turns/s each"     turns --url "$ws" --clients 200 --turns 100 --rate 10
run "1,000 active clients"             turns --url "$ws" --clients 1000 --turns 20 --server-pid "$server_pid"
run "REST, 50 clients"                 rest --url "http://127.0.0.1:$server_port" --clients 50 --requests 200
run "toolbox tools/call, 1 client"     mcp --url "http://127.0.0.1:$toolbox_port/mcp" --clients 1 --calls 10000
run "toolbox tools/call, 50 clients"   mcp --url "http://127.0.0.1:$toolbox_port/mcp" --clients 50 --calls 600
kill "$server_pid"

# Alone, on a fresh server: memory per connection is not measured on a heap the
# scenarios before it have grown.
step "Idle connections, on a fresh server"
idle_port=$(free_port)
start_server "$idle_port" DATABASE_URL="sqlite://$out/toolstream.db"
idle_pid=$!
wait_http "http://127.0.0.1:$idle_port/readyz"
run "10,000 idle connections"          idle --url "ws://127.0.0.1:$idle_port/ws" --connections 10000 --server-pid "$idle_pid"
kill "$idle_pid"

step "Two servers sharing sessions (PostgreSQL + Redis)"
pg_dir="$ROOT/$out/pg"; redis_dir="$ROOT/$out/redis"
trap 'cleanup; stop_postgres "$pg_dir"; stop_redis "$redis_dir"' EXIT
database_url=$(start_postgres "$pg_dir")
redis_url=$(start_redis "$redis_dir")
a_port=$(free_port); b_port=$(free_port)
start_server "$a_port" DATABASE_URL="$database_url" REDIS_URL="$redis_url"
a_pid=$!
start_server "$b_port" DATABASE_URL="$database_url" REDIS_URL="$redis_url"
wait_http "http://127.0.0.1:$a_port/readyz"
wait_http "http://127.0.0.1:$b_port/readyz"
both=(--url "ws://127.0.0.1:$a_port/ws" --url "ws://127.0.0.1:$b_port/ws")
run "warm-up (2 servers)"              turns "${both[@]}" --clients 20 --turns 50
run "1 client, 2 servers (PG+Redis)"   turns "${both[@]}" --clients 1 --turns 2000 --server-pid "$a_pid"
run "50 clients, 2 servers (PG+Redis)" turns "${both[@]}" --clients 50 --turns 200 --server-pid "$a_pid"

step "Results"
python3 scripts/bench_report.py "$results" | tee "$out/results.md"
