#!/usr/bin/env bash
# up.sh BIN_DIR — the local stack on loopback: aggregator (API :9090, ingest
# :7070, data in ./data/aggregator), the GPU simulator (:9400) and one agent
# scraping it.  Logs go to ./data/logs/.  Ctrl-C or SIGTERM stops everything
# this script started, by PID.  `./ember up` calls it after building.
set -uo pipefail

BIN=${1:?usage: up.sh BIN_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=${EMBER_DATA_DIR:-$ROOT/data}
API_PORT=${EMBER_API_PORT:-9090}
INGEST_PORT=${EMBER_INGEST_PORT:-7070}
GPUSIM_PORT=${EMBER_GPUSIM_PORT:-9400}
INTERVAL=${EMBER_INTERVAL:-5s}
LOCK=$DATA/up.pid

mkdir -p "$DATA/logs"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A second `ember up` while one runs: say so instead of failing on ports.
if [ -f "$LOCK" ] && kill -0 "$(cat "$LOCK")" 2>/dev/null; then
  echo "ember: the local stack is already running (pid $(cat "$LOCK"))."
  echo "       API: http://127.0.0.1:$API_PORT   stop it with Ctrl-C in its terminal or: kill $(cat "$LOCK")"
  exit 0
fi
for p in "$API_PORT" "$INGEST_PORT" "$GPUSIM_PORT"; do
  if port_busy "$p"; then
    echo "ember: port $p on 127.0.0.1 is in use by another program; stop it or set EMBER_API_PORT, EMBER_INGEST_PORT, EMBER_GPUSIM_PORT" >&2
    exit 1
  fi
done
echo $$ > "$LOCK"

PIDS=()
stop_all() { # exit status
  local status=${1:-0}
  trap - INT TERM EXIT
  echo
  echo "ember: stopping the local stack"
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -f "$LOCK"
  echo "ember: stopped"
  exit "$status"
}
trap stop_all INT TERM EXIT

start() { # name, command...
  local name=$1; shift
  "$@" >>"$DATA/logs/$name.log" 2>&1 &
  PIDS+=($!)
}

wait_http() { # url, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start aggregator "$BIN/ember-aggregator" --data-dir "$DATA/aggregator" \
  --http-listen "127.0.0.1:$API_PORT" --ingest-listen "tcp://127.0.0.1:$INGEST_PORT"
start gpusim "$BIN/ember-gpusim" --listen "127.0.0.1:$GPUSIM_PORT" --gpus 8
wait_http "http://127.0.0.1:$API_PORT/-/ready" 30 || { echo "ember: aggregator did not start; see $DATA/logs/aggregator.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$GPUSIM_PORT/metrics" 30 || { echo "ember: gpusim did not start; see $DATA/logs/gpusim.log" >&2; exit 1; }
start agent "$BIN/ember-agent" --aggregator "tcp://127.0.0.1:$INGEST_PORT" \
  --scrape "gpusim=http://127.0.0.1:$GPUSIM_PORT/metrics" --interval "$INTERVAL" \
  --data-dir "$DATA/agent" --labels role=gpu-node --labels cluster=local

cat <<MSG

Ember is running on this machine:
  PromQL API (Prometheus-compatible)  http://127.0.0.1:$API_PORT/api/v1/query
  aggregator self-metrics             http://127.0.0.1:$API_PORT/metrics
  agent ingest (nng)                  tcp://127.0.0.1:$INGEST_PORT
  GPU simulator (8 x A100)            http://127.0.0.1:$GPUSIM_PORT/metrics
  logs                                $DATA/logs/

First query (GPU series arrive within ${INTERVAL} of start):
  curl -s 'http://127.0.0.1:$API_PORT/api/v1/query?query=gpu_utilization_percent'

Press Ctrl-C to stop.
MSG

# Stay up while the parts run; if one dies, say which and stop the rest.
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "ember: a process exited (pid ${PIDS[$i]}); see $DATA/logs/" >&2
      stop_all 1
    fi
  done
  sleep 1
done
