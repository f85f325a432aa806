#!/usr/bin/env bash
# tsdb_vs_prometheus.sh — Ember's store beside Prometheus's TSDB on the same
# GPU-cluster data (bench/bench_tsdb.c generates it).
#
#   ingest:        bench_tsdb's append path  vs  promtool tsdb bench write,
#                  the same way on both sides: the same series and number of
#                  scrapes (so the same sample count), shards of 1000 series
#                  with one appender and commit per shard and scrape, series
#                  appended by reference after their first append, unsynced
#                  (promtool's head has its WAL, no fsync per commit; ours
#                  has its log in RocksDB's WAL, no fsync).  promtool runs its
#                  shards as goroutines on every core; ours runs with 1
#                  thread and with one per core, and both are shown.
#   bytes/sample:  Ember's SST files after compaction  vs  the blocks that
#                  promtool tsdb create-blocks-from openmetrics builds from
#                  the very same samples
#
# Usage: bench/tsdb_vs_prometheus.sh [BUILD_DIR] [NODES] [HOURS]
# Needs the Debian package `prometheus` (promtool).  Not part of CI.
set -euo pipefail

build=${1:-build}
nodes=${2:-100}
hours=${3:-2}
bench="$build/bin/bench_tsdb"
command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cores=$(nproc)
echo "== Ember ($nodes nodes, ${hours}h at 15s; 1 thread, then $cores)"
"$bench" --nodes "$nodes" --hours "$hours" --openmetrics "$tmp/data.om" \
  --series-json "$tmp/series.json" | tee "$tmp/ember.txt"
"$bench" --nodes "$nodes" --hours "$hours" --threads "$cores" | head -1 | tee "$tmp/ember_mt.txt"
samples=$(awk '/^ingest:/ {print $2}' "$tmp/ember.txt")
series=$(awk '/^ingest:/ {print $4}' "$tmp/ember.txt")
ember_rate=$(awk '/^ingest:/ {print $6}' "$tmp/ember.txt")
ember_rate_mt=$(awk '/^ingest:/ {print $6}' "$tmp/ember_mt.txt")
ember_bps=$(awk '/^disk after compaction:/ {print $6}' "$tmp/ember.txt")
scrapes=$((samples / series))

echo "== Prometheus: promtool tsdb bench write ($series series, $scrapes scrapes, shards of 1000 series, GOMAXPROCS=$cores)"
promtool tsdb bench write --out="$tmp/pbench" --metrics="$series" --scrapes="$scrapes" \
  "$tmp/series.json" >"$tmp/pbench.log" 2>&1
prom_rate=$(awk '/samples\/sec:/ {printf "%.0f", $3}' "$tmp/pbench.log")
echo "ingest: $prom_rate samples/s"

echo "== Prometheus: promtool tsdb create-blocks-from openmetrics"
promtool tsdb create-blocks-from openmetrics "$tmp/data.om" "$tmp/blocks" >"$tmp/blocks.log" 2>&1
prom_bytes=$(du -sb "$tmp/blocks" | awk '{print $1}')
prom_bps=$(awk -v b="$prom_bytes" -v s="$samples" 'BEGIN {printf "%.3f", b / s}')
echo "blocks: $prom_bytes bytes, $prom_bps bytes/sample"

echo "== Ratios (Ember / Prometheus)"
awk -v e="$ember_rate" -v p="$prom_rate" 'BEGIN {printf "ingest samples/s:  %.0f (1 thread) vs %.0f = %.2fx (higher is better)\n", e, p, e / p}'
awk -v e="$ember_rate_mt" -v p="$prom_rate" -v c="$cores" 'BEGIN {printf "ingest samples/s:  %.0f (%d threads) vs %.0f = %.2fx\n", e, c, p, e / p}'
awk -v e="$ember_bps" -v p="$prom_bps" 'BEGIN {printf "bytes/sample:      %.3f vs %.3f = %.2fx (lower is better)\n", e, p, e / p}'
