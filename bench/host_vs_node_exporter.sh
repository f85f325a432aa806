#!/usr/bin/env bash
# host_vs_node_exporter.sh [BIN_DIR] — side by side on this machine, same
# collectors (cpu meminfo loadavg stat vmstat diskstats filesystem netdev
# pressure time uname hwmon):
#   ember: CPU per collection round (collect + encode a zstd wire batch),
#          and the resident memory of a running ember-agent;
#   node_exporter 1.5 (Debian's prometheus-node-exporter): CPU per scrape
#          (from /proc/PID/stat over N scrapes) and its resident memory.
# Prints both and the ratios.  Needs prometheus-node-exporter and curl.
set -euo pipefail
BIN=${1:-build/bin}
N=${N:-300}
NE=$(command -v prometheus-node-exporter || true)
[ -n "$NE" ] || { echo "install prometheus-node-exporter first" >&2; exit 1; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 19111; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
COLLECTORS="cpu meminfo loadavg stat vmstat diskstats filesystem netdev pressure time uname hwmon"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

port=$(free_port)
"$NE" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
  $(for c in $COLLECTORS; do printf -- '--collector.%s ' "$c"; done) >"$tmp/ne.log" 2>&1 &
pids+=($!)
ne=$!
for _ in $(seq 50); do curl -fs -o /dev/null "127.0.0.1:$port/metrics" && break; sleep 0.1; done
curl -fs -o /dev/null "127.0.0.1:$port/metrics"
t0=$(cpu_ticks $ne)
for _ in $(seq "$N"); do curl -fs -o /dev/null "127.0.0.1:$port/metrics"; done
t1=$(cpu_ticks $ne)
ne_ms=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$N" 'BEGIN{printf "%.4f", d*1000/hz/n}')
ne_rss=$(rss_kib $ne)
ne_series=$(curl -fs "127.0.0.1:$port/metrics" | grep -E '^node_' | grep -cv '^node_scrape_collector')

read -r _ ember_ms _ ember_series _ batch_bytes _ _ < <("$BIN/bench_collect_host" 2000)

# A real agent, collecting every 100 ms into its queue (no aggregator), for RSS.
"$BIN/ember-agent" --aggregator tcp://127.0.0.1:1 --interval 100ms --send-timeout 50ms \
  --data-dir "$tmp/agent" >"$tmp/agent.log" 2>&1 &
pids+=($!)
sleep 3
agent_rss=$(rss_kib $!)

# The same agent scraping 1,000 series (a static exposition file served on
# loopback by python3's http.server), for RSS with a scrape target.
mkdir -p "$tmp/www"
awk 'BEGIN{print "# TYPE bench_series gauge"; for (i = 0; i < 1000; i++) printf "bench_series{idx=\"%d\",job_kind=\"bench\"} %d\n", i, i}' \
  >"$tmp/www/metrics"
wport=$(free_port)
(cd "$tmp/www" && exec python3 -m http.server "$wport" --bind 127.0.0.1) >"$tmp/www.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "127.0.0.1:$wport/metrics" && break; sleep 0.1; done
"$BIN/ember-agent" --aggregator tcp://127.0.0.1:1 --interval 100ms --send-timeout 50ms \
  --scrape "bench=http://127.0.0.1:$wport/metrics" --data-dir "$tmp/agent2" >"$tmp/agent2.log" 2>&1 &
pids+=($!)
sleep 3
agent_rss_scrape=$(rss_kib $!)

printf '%-28s %12s %12s %8s\n' "" ember node_exporter ratio
printf '%-28s %12s %12s %8s\n' "CPU ms per round/scrape" "$ember_ms" "$ne_ms" \
  "$(awk -v a="$ember_ms" -v b="$ne_ms" 'BEGIN{ if (a > 0) printf "%.1fx", b / a; else print "n/a" }')"
printf '%-28s %12s %12s %8s\n' "RSS KiB" "$agent_rss" "$ne_rss" \
  "$(awk -v a="$agent_rss" -v b="$ne_rss" 'BEGIN{printf "%.1fx", b/a}')"
printf '%-28s %12s\n' "RSS KiB, 1000 scraped series" "$agent_rss_scrape"
printf '%-28s %12s %12s\n' "host series" "$ember_series" "$ne_series"
printf '%-28s %12s\n' "zstd batch bytes" "$batch_bytes"
echo "(node_exporter scraped $N times over HTTP on loopback; ember CPU is in-process, 2000 rounds)"
