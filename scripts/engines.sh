# PostgreSQL and Redis for the benchmark's shared-session scenario, on Unix sockets
# in a folder of target/ (no TCP port to pick). Source it; do not run it. The Rust
# tests start their own (server/tests/api/engines.rs).

# The newest PostgreSQL server binaries on this machine.
pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$bin" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; return 1; }
  echo "$bin"
}

# Runs a command as the postgres user when we are root (PostgreSQL refuses root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR: a throwaway cluster in DIR; prints its URL.
start_postgres() {
  local dir="$1" bin
  bin="$(pg_bin)"
  rm -rf "$dir" && mkdir -p "$dir" && chmod 777 "$dir"
  as_postgres "$bin/initdb" -A trust -U toolstream --no-sync -D "$dir/data" >/dev/null
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-k $dir -c listen_addresses= -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgres://toolstream@localhost/postgres?host=$dir"
}

stop_postgres() {
  local dir="$1"
  [ -d "$dir/data" ] && as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# start_redis DIR: a Redis that keeps nothing on disk; prints its URL.
start_redis() {
  local dir="$1"
  mkdir -p "$dir"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --save "" \
    --appendonly no --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" >/dev/null
  for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
  echo "redis+unix://$dir/redis.sock"
}

stop_redis() {
  local dir="$1"
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}
