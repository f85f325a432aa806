#!/usr/bin/env bash
# agent_e2e.sh [BIN_DIR] — end-to-end delivery on loopback: ember-agent
# scraping ember-gpusim (NODES virtual 8-GPU nodes) plus its host collectors
# every INTERVAL, spooling every batch (fsync) and sending it to
# ember-aggregator, which commits it to RocksDB before the Ack.  Over
# SECONDS of steady state it prints:
#   samples/s stored (the aggregator's ember_aggregator_ingest_samples_total),
#   batches/s and samples per batch,
#   the agent's CPU per sent sample (utime+stime from /proc/PID/stat),
#   the aggregator's CPU per stored sample, for scale,
#   and what is left in the agent's spool (0 when delivery keeps up).
# With a short INTERVAL the agent runs rounds back to back: the figure is
# then the pipeline's ceiling on this machine, not the configured load.
set -euo pipefail
BIN=${1:-build/bin}
NODES=${NODES:-20}
INTERVAL=${INTERVAL:-100ms}
SECONDS_RUN=${SECONDS_RUN:-10}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
metric() { curl -fs "$1" | awk -v m="$2" '$1 == m {print $2}'; }
hz=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

api=$(free_port); ingest=$(free_port); sim=$(free_port); self=$(free_port)
"$BIN/ember-aggregator" --data-dir "$tmp/agg" --http-listen "127.0.0.1:$api" \
  --ingest-listen "tcp://127.0.0.1:$ingest" >"$tmp/agg.log" 2>&1 &
pids+=($!); agg=$!
"$BIN/ember-gpusim" --listen "127.0.0.1:$sim" --gpus 8 --nodes "$NODES" >"$tmp/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs -o /dev/null "127.0.0.1:$api/-/ready" && curl -fs -o /dev/null "127.0.0.1:$sim/metrics" && break
  sleep 0.1
done
"$BIN/ember-agent" --aggregator "tcp://127.0.0.1:$ingest" --interval "$INTERVAL" \
  --scrape "gpusim=http://127.0.0.1:$sim/metrics" --data-dir "$tmp/agent" \
  --http-listen "127.0.0.1:$self" --no-collector.gpu >"$tmp/agent.log" 2>&1 &
pids+=($!); agent=$!
sleep 3 # warm up: series created, caches filled

AGG="http://127.0.0.1:$api/metrics"
SELF="http://127.0.0.1:$self/metrics"
s0=$(metric "$AGG" ember_aggregator_ingest_samples_total)
b0=$(metric "$SELF" 'ember_agent_batches_total{result="acked"}')
a0=$(cpu_ticks $agent); g0=$(cpu_ticks $agg); t0=$(date +%s.%N)
sleep "$SECONDS_RUN"
s1=$(metric "$AGG" ember_aggregator_ingest_samples_total)
b1=$(metric "$SELF" 'ember_agent_batches_total{result="acked"}')
a1=$(cpu_ticks $agent); g1=$(cpu_ticks $agg); t1=$(date +%s.%N)
pending=$(metric "$SELF" ember_agent_spool_pending_batches)

awk -v s="$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" \
    -v b="$(awk -v a="$b0" -v c="$b1" 'BEGIN{print c-a}')" \
    -v t="$(awk -v a="$t0" -v c="$t1" 'BEGIN{print c-a}')" \
    -v at=$((a1 - a0)) -v gt=$((g1 - g0)) -v hz="$hz" -v p="$pending" \
    -v nodes="$NODES" -v iv="$INTERVAL" 'BEGIN{
  printf "load: gpusim %d nodes x 8 GPUs + host collectors, interval %s, %.1f s\n", nodes, iv, t
  printf "stored:                 %.0f samples/s (%.1f batches/s, %.0f samples/batch)\n", s/t, b/t, (b ? s/b : 0)
  printf "agent CPU per sample:   %.3f us (%.1f%% of a core)\n", (s ? at/hz*1e6/s : 0), at/hz/t*100
  printf "aggregator CPU/sample:  %.3f us (%.1f%% of a core)\n", (s ? gt/hz*1e6/s : 0), gt/hz/t*100
  printf "agent spool pending:    %d batches at the end\n", p
}'
