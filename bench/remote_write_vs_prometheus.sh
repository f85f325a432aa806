#!/usr/bin/env bash
# remote_write_vs_prometheus.sh — remote write 1.0 ingest of the aggregator
# (/api/v1/write) beside Prometheus 2.42's receiver
# (--web.enable-remote-write-receiver), in the same run, on the same
# pre-encoded load: bench_remote_write (bench/bench_remote_write.c) sends
# SERIES GPU series x ROUNDS scrapes, in requests of 500 samples over two
# keep-alive connections, to each receiver in turn (never both at once),
# and reads the receiver's CPU (utime + stime, /proc/PID/stat) before and
# after.  Both start empty on loopback ports with nothing else to do:
# Prometheus with an empty config, the aggregator with its self-scrape off.
# Prints accepted samples/s, CPU seconds per million samples, samples per
# CPU second, and the ratios aggregator / Prometheus (target: >= 2x
# samples per CPU second).
#
# The aggregator answers only once a request is committed; by default it
# commits unsynced with an fsync every second (--storage.sync=false), as
# Prometheus's WAL is not fsynced per request either.  AGG_FLAGS replaces
# that (AGG_FLAGS=--storage.sync=true: an fsync per request).
#
# Usage: bench/remote_write_vs_prometheus.sh [BUILD_DIR] [SERIES] [ROUNDS]
# Needs the Debian package `prometheus` and curl.  Not part of CI.
set -euo pipefail

build=${1:-build}
series=${2:-10000}
rounds=${3:-60}
agg_flags=${AGG_FLAGS:---storage.sync=false}
gen="$build/bin/bench_remote_write"
aggregator="$build/bin/ember-aggregator"
if ! command -v prometheus >/dev/null || ! command -v curl >/dev/null; then
  echo "needs prometheus and curl: apt-get install prometheus curl" >&2
  exit 1
fi
if [ ! -x "$gen" ] || [ ! -x "$aggregator" ]; then
  echo "needs $gen and $aggregator: cmake --build $build --target bench_remote_write ember-aggregator" >&2
  exit 1
fi

tmp=$(mktemp -d)
started=()
stop_all() {
  local p
  for p in "${started[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap stop_all EXIT

# A loopback port with no listener.
unused_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 12000)) # below the ephemeral ports others bind to
    if ! ss -Htln "sport = :$port" | grep -q .; then echo "$port"; return; fi
  done
  echo "no free port" >&2
  exit 1
}

# started_ok NAME PID URL: wait for URL to answer; on death, the log.
started_ok() {
  local i
  for i in $(seq 200); do
    if curl -fso /dev/null "$3"; then return; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$1 did not start:" >&2
  tail -5 "$tmp/$1.log" >&2
  exit 1
}

prom_port=$(unused_port)
prometheus --config.file=/dev/null --storage.tsdb.path="$tmp/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
  >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
started+=("$prom_pid")
started_ok prometheus "$prom_pid" "http://127.0.0.1:$prom_port/-/ready"

agg_port=$(unused_port)
# shellcheck disable=SC2086  # AGG_FLAGS is a list of flags
"$aggregator" --data-dir "$tmp/aggregator" --http-listen "127.0.0.1:$agg_port" \
  --ingest-listen "tcp://127.0.0.1:$(unused_port)" --self-scrape.interval=0 $agg_flags \
  >"$tmp/aggregator.log" 2>&1 &
agg_pid=$!
started+=("$agg_pid")
started_ok aggregator "$agg_pid" "http://127.0.0.1:$agg_port/-/ready"

echo "== load: $series series x $rounds rounds, 500 samples a request, 2 connections"
echo "== Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 {print $3}') (pid $prom_pid)"
"$gen" "http://127.0.0.1:$prom_port/api/v1/write" "$prom_pid" "$series" "$rounds" | tee "$tmp/prom.txt"
echo "== ember-aggregator $agg_flags (pid $agg_pid)"
"$gen" "http://127.0.0.1:$agg_port/api/v1/write" "$agg_pid" "$series" "$rounds" | tee "$tmp/agg.txt"

# rate, cpu per million and samples per cpu second from one result line
figures() {
  awk '{for (i = 1; i <= NF; i++) {if ($i == "samples/s;") r = $(i - 1); if ($i == "per") m = $(i - 2)}}
       END {printf "%s %s %.0f\n", r, m, (m > 0) ? 1e6 / m : 0}' "$1"
}
read -r prate pcpu pper <<<"$(figures "$tmp/prom.txt")"
read -r arate acpu aper <<<"$(figures "$tmp/agg.txt")"
echo "== aggregator / Prometheus"
awk -v a="$arate" -v p="$prate" 'BEGIN {printf "accepted samples/s:        %.0f vs %.0f = %.2fx\n", a, p, a / p}'
awk -v a="$acpu" -v p="$pcpu" 'BEGIN {printf "cpu s per million samples: %.3f vs %.3f = %.2fx (lower is better)\n", a, p, a / p}'
awk -v a="$aper" -v p="$pper" 'BEGIN {printf "samples per cpu second:    %.0f vs %.0f = %.2fx (target >= 2x)\n", a, p, a / p}'
