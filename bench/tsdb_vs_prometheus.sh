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
#                  thread and with one per core.  Each side runs RUNS times
#                  (default 3), alternating, and the medians are compared: a
#                  shared machine makes single runs noisy.
#   bytes/sample:  Ember's SST files after compaction  vs  the blocks that
#                  promtool tsdb create-blocks-from openmetrics builds from
#                  the very same samples
#   head memory:   bytes per active series, after 60 samples each.  Ember:
#                  bench_tsdb's heap growth (mallinfo2) minus RocksDB's
#                  memtables.  Prometheus: a real server scraping the same
#                  label sets (a small python3 exporter, random-walk values)
#                  every 500 ms; its live Go heap (go_memstats_alloc_bytes
#                  right after a GC forced through /debug/pprof/heap?gc=1)
#                  with the target, minus the same without it, per series.
#                  This counts the target's scrape cache too (a label string
#                  and a reference per series), which is part of what
#                  Prometheus spends per ingested series.
#
# Usage: bench/tsdb_vs_prometheus.sh [BUILD_DIR] [NODES] [HOURS]
# Environment: RUNS (default 3), PROM_MEM=0 skips the Prometheus server.
# Needs the Debian packages `prometheus` (prometheus, promtool), curl and
# python3 (the exporter).  Not part of CI.
set -euo pipefail

build=${1:-build}
nodes=${2:-100}
hours=${3:-2}
runs=${RUNS:-3}
bench="$build/bin/bench_tsdb"
command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus" >&2; exit 1; }
[ -x "$bench" ] || { echo "$bench not built" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
rate_of() { awk '/^ingest:/ {print $6}' "$1"; }

cores=$(nproc)
echo "== Ember ($nodes nodes, ${hours}h at 15s; 1 thread, then $cores)"
"$bench" --nodes "$nodes" --hours "$hours" --openmetrics "$tmp/data.om" \
  --series-json "$tmp/series.json" | tee "$tmp/ember.txt"
samples=$(awk '/^ingest:/ {print $2}' "$tmp/ember.txt")
series=$(awk '/^ingest:/ {print $4}' "$tmp/ember.txt")
ember_bps=$(awk '/^disk after compaction:/ {print $6}' "$tmp/ember.txt")
ember_mem=$(awk '/^head memory per active series:/ {print $6}' "$tmp/ember.txt")
scrapes=$((samples / series))

echo "== ingest, $runs runs alternating: Ember 1 thread, Ember $cores threads, promtool tsdb bench write ($series series, $scrapes scrapes, GOMAXPROCS=$cores)"
for i in $(seq "$runs"); do
  "$bench" --nodes "$nodes" --hours "$hours" >"$tmp/e1.txt"
  "$bench" --nodes "$nodes" --hours "$hours" --threads "$cores" >"$tmp/en.txt"
  rm -rf "$tmp/pbench"
  promtool tsdb bench write --out="$tmp/pbench" --metrics="$series" --scrapes="$scrapes" \
    "$tmp/series.json" >"$tmp/pbench.log" 2>&1
  e1=$(rate_of "$tmp/e1.txt") en=$(rate_of "$tmp/en.txt")
  p=$(awk '/samples\/sec:/ {printf "%.0f", $3}' "$tmp/pbench.log")
  echo "run $i: ember 1 thread $e1, ember $cores threads $en, promtool $p samples/s"
  echo "$e1" >>"$tmp/r_e1"; echo "$en" >>"$tmp/r_en"; echo "$p" >>"$tmp/r_p"
done
ember_rate=$(median <"$tmp/r_e1")
ember_rate_mt=$(median <"$tmp/r_en")
prom_rate=$(median <"$tmp/r_p")

echo "== Prometheus: promtool tsdb create-blocks-from openmetrics"
promtool tsdb create-blocks-from openmetrics "$tmp/data.om" "$tmp/blocks" >"$tmp/blocks.log" 2>&1
prom_bytes=$(du -sb "$tmp/blocks" | awk '{print $1}')
prom_bps=$(awk -v b="$prom_bytes" -v s="$samples" 'BEGIN {printf "%.3f", b / s}')
echo "blocks: $prom_bytes bytes, $prom_bps bytes/sample"

# A free loopback port (the kernel picks it).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Prometheus's live heap after a forced GC, in bytes.
prom_heap() {
  curl -sf "http://127.0.0.1:$1/debug/pprof/heap?gc=1" >/dev/null
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^go_memstats_alloc_bytes / {printf "%.0f", $2}'
}

# A metric's value, summed over its label sets.
prom_metric() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f", s}'
}

prom_mem=""
if [ "${PROM_MEM:-1}" != 0 ] && command -v prometheus >/dev/null && command -v python3 >/dev/null; then
  echo "== Prometheus: head memory per series (a server scraping the same $series series every 500 ms)"
  xport=$(free_port)
  python3 - "$tmp/series.json" "$xport" <<'PY' &
import http.server, json, random, sys
rows = []
for line in open(sys.argv[1]):
    s = json.loads(line)
    name = s.pop("__name__")
    rows.append([name + "{" + ",".join('%s="%s"' % kv for kv in sorted(s.items())) + "}", 50.0])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        for r in rows:  # random walks, rounded as exporters round
            r[1] = round(r[1] * (1 + (random.random() - 0.5) * 0.02), 2)
        body = "".join("%s %r\n" % (n, v) for n, v in rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.HTTPServer):
    def handle_error(self, *a):  # a scrape given up by Prometheus: nothing to report
        pass
S(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
PY
  pids+=($!)
  pport=$(free_port)
  echo "global: {scrape_interval: 500ms, scrape_timeout: 500ms}" >"$tmp/prom.yml"
  prometheus --config.file="$tmp/prom.yml" --storage.tsdb.path="$tmp/pdata" \
    --web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 &
  ppid=$!
  pids+=($ppid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break; sleep 0.2; done
  sleep 2
  base=$(prom_heap "$pport")
  cat >"$tmp/prom.yml" <<EOF
global: {scrape_interval: 500ms, scrape_timeout: 500ms}
scrape_configs:
  - job_name: gpu
    honor_labels: true
    static_configs: [{targets: ["127.0.0.1:$xport"]}]
EOF
  kill -HUP "$ppid"
  want=$((60 * series))
  for _ in $(seq 600); do
    got=$(prom_metric "$pport" prometheus_tsdb_head_samples_appended_total)
    [ "${got:-0}" -ge "$want" ] && break
    sleep 0.2
  done
  kill -STOP "${pids[0]}" # no more scrapes while measuring
  sleep 0.5
  after=$(prom_heap "$pport")
  heads=$(prom_metric "$pport" prometheus_tsdb_head_series)
  prom_mem=$(awk -v a="$after" -v b="$base" -v s="$series" 'BEGIN {printf "%.0f", (a - b) / s}')
  echo "heap: $base bytes without the target, $after with it ($heads head series, ${got:-0} samples): $prom_mem bytes/series"
  kill -CONT "${pids[0]}"
fi

echo "== Ratios (Ember / Prometheus; ingest: medians of $runs runs)"
awk -v e="$ember_rate" -v p="$prom_rate" 'BEGIN {printf "ingest samples/s:  %.0f (1 thread) vs %.0f = %.2fx (higher is better)\n", e, p, e / p}'
awk -v e="$ember_rate_mt" -v p="$prom_rate" -v c="$cores" 'BEGIN {printf "ingest samples/s:  %.0f (%d threads) vs %.0f = %.2fx\n", e, c, p, e / p}'
awk -v e="$ember_bps" -v p="$prom_bps" 'BEGIN {printf "bytes/sample:      %.3f vs %.3f = %.2fx (lower is better)\n", e, p, e / p}'
[ -n "$prom_mem" ] &&
  awk -v e="$ember_mem" -v p="$prom_mem" 'BEGIN {printf "head bytes/series: %.0f vs %.0f = %.2fx (lower is better)\n", e, p, e / p}'
exit 0
