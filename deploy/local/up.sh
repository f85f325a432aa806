#!/usr/bin/env bash
# up.sh [--services] BIN_DIR — the whole stack on this machine, on loopback:
# the aggregator (API :9090, ingest :7070, data in ./data/aggregator), the
# GPU simulator (:9400), the ML simulator (:9500), the demo app (:8000), a
# load generator, and one agent scraping them all plus the host.  With
# --services, also Debian's nginx (:8080), redis-server (:6379) and
# postgresql (:5432), data under ./data/, each with its Prometheus exporter
# (:9113, :9121, :9187) scraped by the agent; `./ember up --services`
# installs what is missing, this script only checks.
#
# Logs go to ./data/logs/.  Ctrl-C or SIGTERM stops everything this script
# started, by PID, and nothing else.  `./ember up` calls it after building.
#
# Environment (for tests and for machines where the defaults are taken):
# EMBER_DATA_DIR, EMBER_API_PORT, EMBER_INGEST_PORT, EMBER_GPUSIM_PORT,
# EMBER_MLSIM_PORT, EMBER_DEMOAPP_PORT, EMBER_NGINX_PORT, EMBER_REDIS_PORT,
# EMBER_POSTGRES_PORT, EMBER_NGINX_EXPORTER_PORT, EMBER_REDIS_EXPORTER_PORT,
# EMBER_POSTGRES_EXPORTER_PORT, EMBER_INTERVAL (agent, 5s),
# EMBER_LOADGEN_INTERVAL (5s).
#
# Exit status: 0 after a stop by signal or when already running, 1 when a
# part fails, 2 on usage, 3 when --services cannot run here (packages
# missing, or a service would not start).
set -uo pipefail

SERVICES=0
if [ "${1:-}" = "--services" ]; then SERVICES=1; shift; fi
BIN=${1:?usage: up.sh [--services] BIN_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${EMBER_DATA_DIR:-$ROOT/data}
API_PORT=${EMBER_API_PORT:-9090}
INGEST_PORT=${EMBER_INGEST_PORT:-7070}
GPUSIM_PORT=${EMBER_GPUSIM_PORT:-9400}
MLSIM_PORT=${EMBER_MLSIM_PORT:-9500}
DEMOAPP_PORT=${EMBER_DEMOAPP_PORT:-8000}
NGINX_PORT=${EMBER_NGINX_PORT:-8080}
REDIS_PORT=${EMBER_REDIS_PORT:-6379}
POSTGRES_PORT=${EMBER_POSTGRES_PORT:-5432}
NGINX_EXPORTER_PORT=${EMBER_NGINX_EXPORTER_PORT:-9113}
REDIS_EXPORTER_PORT=${EMBER_REDIS_EXPORTER_PORT:-9121}
POSTGRES_EXPORTER_PORT=${EMBER_POSTGRES_EXPORTER_PORT:-9187}
INTERVAL=${EMBER_INTERVAL:-5s}
LOADGEN_INTERVAL=${EMBER_LOADGEN_INTERVAL:-5s}
LOCK=$DATA/up.pid
PIDFILE=$DATA/up.children # "name pid" per line, for whoever needs to check

mkdir -p "$DATA/logs"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
say() { printf 'ember: %s\n' "$*"; }

# A second `ember up` while one runs: say so instead of failing on ports.
if [ -f "$LOCK" ] && kill -0 "$(cat "$LOCK")" 2>/dev/null; then
  say "the local stack is already running (pid $(cat "$LOCK"))."
  echo "       API: http://127.0.0.1:$API_PORT   stop it with Ctrl-C in its terminal or: kill $(cat "$LOCK")"
  exit 0
fi

# ---- what --services needs (Debian packages; ./ember up --services installs them) ----
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
services_missing() {
  local miss=() c
  for c in /usr/sbin/nginx /usr/bin/redis-server /usr/bin/prometheus-nginx-exporter \
    /usr/bin/prometheus-redis-exporter /usr/bin/prometheus-postgres-exporter; do
    [ -x "$c" ] || miss+=("$c")
  done
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/postgres" ] || miss+=("postgresql")
  echo "${miss[*]}"
}
if [ $SERVICES -eq 1 ]; then
  missing=$(services_missing)
  if [ -n "$missing" ]; then
    say "--services: not installed: $missing (./ember up --services installs them)" >&2
    exit 3
  fi
fi

PORTS=("$API_PORT" "$INGEST_PORT" "$GPUSIM_PORT" "$MLSIM_PORT" "$DEMOAPP_PORT")
[ $SERVICES -eq 1 ] && PORTS+=("$NGINX_PORT" "$REDIS_PORT" "$POSTGRES_PORT" "$NGINX_EXPORTER_PORT"
  "$REDIS_EXPORTER_PORT" "$POSTGRES_EXPORTER_PORT")
for p in "${PORTS[@]}"; do
  if port_busy "$p"; then
    say "port $p on 127.0.0.1 is in use by another program; stop it or choose other ports (EMBER_*_PORT, see deploy/local/up.sh)" >&2
    exit 1
  fi
done
echo $$ > "$LOCK"
: > "$PIDFILE"

# ---- starting and stopping ----
NAMES=() PIDS=() STOPSIG=()
stop_all() { # exit status
  local status=${1:-0} i
  trap - INT TERM EXIT
  echo
  say "stopping the local stack"
  # Newest first: exporters and the agent go before what they watch.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "-${STOPSIG[$i]}" "${PIDS[$i]}" 2>/dev/null; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do wait "${PIDS[$i]}" 2>/dev/null; done
  rm -f "$LOCK" "$PIDFILE"
  say "stopped"
  exit "$status"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

start() { # name, stop signal, command...
  local name=$1 sig=$2; shift 2
  "$@" >>"$DATA/logs/$name.log" 2>&1 &
  NAMES+=("$name") PIDS+=($!) STOPSIG+=("$sig")
  echo "$name $!" >> "$PIDFILE"
}

wait_until() { # seconds, command...: poll until the command succeeds
  local i n=$(($1 * 10)); shift
  for ((i = 0; i < n; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
need_http() { # name, url
  wait_until 30 http_ok "$2" || { say "$1 did not start; see $DATA/logs/$1.log" >&2; exit 1; }
}

SCRAPES=()
start_core() {
  start aggregator TERM "$BIN/ember-aggregator" --data-dir "$DATA/aggregator" \
    --http-listen "127.0.0.1:$API_PORT" --ingest-listen "tcp://127.0.0.1:$INGEST_PORT"
  start gpusim TERM "$BIN/ember-gpusim" --listen "127.0.0.1:$GPUSIM_PORT" --gpus 8
  start mlsim TERM "$BIN/ember-mlsim" --listen "127.0.0.1:$MLSIM_PORT"
  start demoapp TERM "$BIN/ember-demoapp" --listen "127.0.0.1:$DEMOAPP_PORT"
  need_http aggregator "http://127.0.0.1:$API_PORT/-/ready"
  need_http gpusim "http://127.0.0.1:$GPUSIM_PORT/metrics"
  need_http mlsim "http://127.0.0.1:$MLSIM_PORT/metrics"
  need_http demoapp "http://127.0.0.1:$DEMOAPP_PORT/health"
  SCRAPES+=("gpusim=http://127.0.0.1:$GPUSIM_PORT/metrics"
    "mlsim=http://127.0.0.1:$MLSIM_PORT/metrics"
    "demoapp=http://127.0.0.1:$DEMOAPP_PORT/metrics")
}

# ---- the services (--services) ----
# PostgreSQL refuses to run as root: as root, run it as the unprivileged
# postgres user; setpriv execs, so the PID we hold is the server's.
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
service_failed() { # what
  say "--services: $1 did not start; see $DATA/logs/ (services unavailable here)" >&2
  exit 3
}

start_nginx() {
  local dir=$DATA/nginx
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $DATA/logs/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $DATA/logs/nginx-access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = / { default_type text/plain; return 200 "Ember demo nginx\n"; }
    location = /stub_status { stub_status; allow 127.0.0.1; deny all; }
  }
}
NGINX
  start nginx TERM /usr/sbin/nginx -e "$DATA/logs/nginx-error.log" -p "$dir" -c "$dir/nginx.conf"
  wait_until 20 http_ok "http://127.0.0.1:$NGINX_PORT/stub_status" || service_failed nginx
  start nginx-exporter TERM /usr/bin/prometheus-nginx-exporter \
    -nginx.scrape-uri "http://127.0.0.1:$NGINX_PORT/stub_status" \
    -web.listen-address "127.0.0.1:$NGINX_EXPORTER_PORT"
}

start_redis() {
  mkdir -p "$DATA/redis"
  start redis TERM /usr/bin/redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$DATA/redis" --save "" --appendonly no --daemonize no --logfile ""
  wait_until 20 port_busy "$REDIS_PORT" || service_failed redis-server
  start redis-exporter TERM /usr/bin/prometheus-redis-exporter \
    -redis.addr "redis://127.0.0.1:$REDIS_PORT" -web.listen-address "127.0.0.1:$REDIS_EXPORTER_PORT"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }
start_postgres() {
  local dir=$DATA/postgres
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: "$dir" && chmod 700 "$dir"
      # The postgres user must be able to reach its directory.
      chmod a+x "$DATA"
      "${AS_PG[@]}" test -w "$dir" ||
        service_failed "postgresql (user postgres cannot reach $dir)"
    fi
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 \
      >>"$DATA/logs/postgres.log" 2>&1 || service_failed "postgresql initdb"
  fi
  # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients).
  start postgres INT "${AS_PG[@]}" "$PG_BIN/postgres" -D "$dir" -h 127.0.0.1 -p "$POSTGRES_PORT" -k "$dir"
  wait_until 30 pg_ready || service_failed postgresql
  start postgres-exporter TERM env \
    DATA_SOURCE_NAME="postgresql://postgres@127.0.0.1:$POSTGRES_PORT/postgres?sslmode=disable" \
    /usr/bin/prometheus-postgres-exporter \
    --web.listen-address="127.0.0.1:$POSTGRES_EXPORTER_PORT"
}

start_services() {
  start_nginx
  start_redis
  start_postgres
  need_http nginx-exporter "http://127.0.0.1:$NGINX_EXPORTER_PORT/metrics"
  need_http redis-exporter "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics"
  need_http postgres-exporter "http://127.0.0.1:$POSTGRES_EXPORTER_PORT/metrics"
  SCRAPES+=("nginx=http://127.0.0.1:$NGINX_EXPORTER_PORT/metrics"
    "redis=http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics"
    "postgres=http://127.0.0.1:$POSTGRES_EXPORTER_PORT/metrics")
}

start_agent_and_load() {
  local args=() s
  for s in "${SCRAPES[@]}"; do args+=(--scrape "$s"); done
  start agent TERM "$BIN/ember-agent" --aggregator "tcp://127.0.0.1:$INGEST_PORT" "${args[@]}" \
    --interval "$INTERVAL" --data-dir "$DATA/agent" --labels role=gpu-node --labels cluster=local
  local nginx=()
  [ $SERVICES -eq 1 ] && nginx=(--nginx "http://127.0.0.1:$NGINX_PORT")
  start loadgen TERM "$BIN/ember-loadgen" --app "http://127.0.0.1:$DEMOAPP_PORT" "${nginx[@]}" \
    --interval "$LOADGEN_INTERVAL"
}

# ---- what is running ----
status_row() { # component, port, probe command...
  local name=$1 port=$2 up=no; shift 2
  "$@" && up=yes
  printf '  %-22s %-6s %s\n' "$name" "$port" "$up"
}
print_status() {
  echo
  printf '  %-22s %-6s %s\n' COMPONENT PORT UP
  status_row "aggregator API" "$API_PORT" http_ok "http://127.0.0.1:$API_PORT/-/ready"
  status_row "aggregator ingest" "$INGEST_PORT" port_busy "$INGEST_PORT"
  status_row "gpusim (8 x A100)" "$GPUSIM_PORT" http_ok "http://127.0.0.1:$GPUSIM_PORT/metrics"
  status_row "mlsim" "$MLSIM_PORT" http_ok "http://127.0.0.1:$MLSIM_PORT/metrics"
  status_row "demoapp" "$DEMOAPP_PORT" http_ok "http://127.0.0.1:$DEMOAPP_PORT/health"
  status_row "agent" "-" kill -0 "${PIDS[$(index_of agent)]}"
  status_row "loadgen" "-" kill -0 "${PIDS[$(index_of loadgen)]}"
  if [ $SERVICES -eq 1 ]; then
    status_row "nginx" "$NGINX_PORT" http_ok "http://127.0.0.1:$NGINX_PORT/"
    status_row "redis-server" "$REDIS_PORT" port_busy "$REDIS_PORT"
    status_row "postgresql" "$POSTGRES_PORT" pg_ready
    status_row "nginx-exporter" "$NGINX_EXPORTER_PORT" http_ok "http://127.0.0.1:$NGINX_EXPORTER_PORT/metrics"
    status_row "redis-exporter" "$REDIS_EXPORTER_PORT" http_ok "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics"
    status_row "postgres-exporter" "$POSTGRES_EXPORTER_PORT" http_ok "http://127.0.0.1:$POSTGRES_EXPORTER_PORT/metrics"
  fi
}
index_of() { local i; for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$1" ] && echo "$i"; done; }

print_queries() {
  local q="curl -s http://127.0.0.1:$API_PORT/api/v1/query --data-urlencode"
  cat <<MSG

Ember is running on this machine (logs in $DATA/logs/).  Series arrive
within ${INTERVAL}; try (Grafana: a Prometheus datasource at
http://127.0.0.1:$API_PORT):
  $q 'query=avg by (gpu_id) (gpu_utilization_percent)'
  $q 'query=training_loss'
  $q 'query=sum by (status) (rate(app_requests_total[1m]))'
  $q 'query=histogram_quantile(0.95, sum by (le) (rate(inference_latency_seconds_bucket[1m])))'
  $q 'query=1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))'
MSG
  if [ $SERVICES -eq 1 ]; then
    echo "  $q 'query=nginx_connections_active'"
    echo "  $q 'query=redis_up'"
    echo "  $q 'query=pg_up'"
  fi
  echo
  echo "Press Ctrl-C to stop."
}

start_core
[ $SERVICES -eq 1 ] && start_services
start_agent_and_load
print_status
print_queries

# Stay up while the parts run; if one dies, say which and stop the rest.
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      say "${NAMES[$i]} exited (pid ${PIDS[$i]}); see $DATA/logs/${NAMES[$i]}.log" >&2
      stop_all 1
    fi
  done
  sleep 0.5
done
