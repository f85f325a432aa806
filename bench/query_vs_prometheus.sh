#!/usr/bin/env bash
# query_vs_prometheus.sh — PromQL range-query latency of the aggregator
# beside Prometheus 2.42 on the same data: the PromQL agreement test's
# dataset (tests/integration/promql_dataset.h, written by bench_query) at
# benchmark size, backfilled into Prometheus with promtool and imported
# into the aggregator.  Each dashboard query runs as a range query over the
# whole window (step 60 s, as Grafana asks for a day on a wide panel),
# RUNS times per system, alternating, after one warm-up each; curl's
# time_total is the latency.  Prints median and p95 per query and system
# and the ratio ember/prometheus of the medians (below 1: ember is faster).
#
# Usage: bench/query_vs_prometheus.sh [BUILD_DIR] [HOSTS] [HOURS] [RUNS]
#   HOSTS GPU hosts of 4 GPUs (3 DCGM series each; 16 hosts and the
#   service's 4 instances make 247 series), HOURS of 15 s samples.
# Needs the Debian package `prometheus` (prometheus, promtool) and curl.
# Not part of CI.
set -euo pipefail

build=${1:-build}
hosts=${2:-16}
hours=${3:-24}
runs=${4:-10}
gen="$build/bin/bench_query"
aggregator="$build/bin/ember-aggregator"
for t in promtool prometheus curl; do
  command -v "$t" >/dev/null || { echo "$t not found: apt-get install prometheus curl" >&2; exit 1; }
done
for b in "$gen" "$aggregator"; do
  [ -x "$b" ] || { echo "$b not built" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# A loopback port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    ss -ltn "sport = :$p" | grep -q LISTEN || { echo "$p"; return; }
  done
}

# wait_ready URL PID LOG: until URL answers; the log if the process died.
wait_ready() {
  for _ in $(seq 300); do
    curl -sf "$1" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$1 never became ready:" >&2
  tail -5 "$3" >&2
  exit 1
}

echo "== dataset: $hosts GPU hosts, 4 service instances, ${hours}h at 15s"
"$gen" --hosts "$hosts" --instances 4 --hours "$hours" --openmetrics "$tmp/data.om" \
  --import "$tmp/data.txt" | tee "$tmp/gen.txt"
eval "$(tr ' ' '\n' <"$tmp/gen.txt" | grep -E '^(start|end|samples)=')"

echo "== Prometheus: promtool tsdb create-blocks-from openmetrics, then prometheus"
promtool tsdb create-blocks-from openmetrics "$tmp/data.om" "$tmp/prom" >"$tmp/promtool.log" 2>&1
prom_port=$(free_port)
echo 'global: {evaluation_interval: 1m}' >"$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$prom_port/-/ready" $! "$tmp/prometheus.log"

echo "== ember-aggregator: /api/v1/import/prometheus"
api_port=$(free_port)
"$aggregator" --data-dir "$tmp/ember" --http-listen "127.0.0.1:$api_port" \
  --ingest-listen "tcp://127.0.0.1:$(free_port)" >"$tmp/aggregator.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$api_port/-/ready" $! "$tmp/aggregator.log"
split -l 200000 "$tmp/data.txt" "$tmp/part."
accepted=0
for part in "$tmp"/part.*; do
  n=$(curl -sf --data-binary "@$part" "http://127.0.0.1:$api_port/api/v1/import/prometheus" |
    sed -n 's/.*"accepted":\([0-9]*\).*/\1/p')
  accepted=$((accepted + ${n:-0}))
done
[ "$accepted" -eq "$samples" ] || { echo "imported $accepted of $samples samples" >&2; exit 1; }
echo "imported $accepted samples"

queries=(
  'sum by (instance) (rate(http_requests_total[5m]))'
  'sum(rate(http_requests_total{status="500"}[5m])) / sum(rate(http_requests_total[5m]))'
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'
  'topk(5, DCGM_FI_DEV_GPU_UTIL)'
  'avg_over_time(DCGM_FI_DEV_GPU_TEMP[10m])'
  'avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)'
  'sum by (modelName) (DCGM_FI_DEV_FB_USED) / 1024'
  'max_over_time(DCGM_FI_DEV_GPU_TEMP[1h])'
  'increase(http_requests_total[1h])'
  'DCGM_FI_DEV_GPU_UTIL'
)

# Seconds of one range query (curl's time_total), or "error".
time_query() {
  local out code
  out=$(curl -s -o "$tmp/body" -w '%{http_code} %{time_total}' \
    --data-urlencode "query=$2" --data-urlencode "start=$start" --data-urlencode "end=$end" \
    --data-urlencode "step=60" "http://127.0.0.1:$1/api/v1/query_range")
  code=${out%% *}
  if [ "$code" = 200 ] && grep -q '"status":"success"' "$tmp/body"; then echo "${out#* }"; else echo error; fi
}

# "median p95" in ms of the numbers on stdin, or "error error".
stats() {
  sort -g | awk '/error/ {bad = 1} {v[NR] = $1 * 1000}
    END {if (bad || NR == 0) {print "error error"; exit}
         i = int(0.95 * NR + 0.999999); if (i < 1) i = 1
         m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         printf "%.2f %.2f\n", m, v[i]}'
}

echo "== $runs runs per query, range $start..$end step 60s (ms)"
printf '%-88s %10s %10s %10s %10s %7s\n' query prom_med prom_p95 ember_med ember_p95 ratio
for q in "${queries[@]}"; do
  time_query "$prom_port" "$q" >/dev/null
  time_query "$api_port" "$q" >/dev/null
  : >"$tmp/p.txt"
  : >"$tmp/e.txt"
  for _ in $(seq "$runs"); do
    time_query "$prom_port" "$q" >>"$tmp/p.txt"
    time_query "$api_port" "$q" >>"$tmp/e.txt"
  done
  read -r pm pp < <(stats <"$tmp/p.txt")
  read -r em ep < <(stats <"$tmp/e.txt")
  ratio=$(awk -v e="$em" -v p="$pm" 'BEGIN {if (e == "error" || p == "error") print "-"; else printf "%.2f", e / p}')
  printf '%-88s %10s %10s %10s %10s %7s\n' "$q" "$pm" "$pp" "$em" "$ep" "$ratio"
done
