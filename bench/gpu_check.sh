#!/usr/bin/env bash
# gpu_check.sh [BUILD_DIR] — the one script to run on a machine with an NVIDIA
# GPU and driver: builds ember-agent (Release), runs `ember-agent --once`
# with only the GPU collector, queries nvidia-smi at the same moment, and
# prints every figure side by side per GPU with the difference.  Exit status
# 0 when every stable figure agrees (name, UUID, memory total, clocks within
# a tolerance of one sampling step), 1 otherwise; fast-moving figures
# (utilization, power, temperature, PCIe) are printed for the reader.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build-gpucheck}
command -v nvidia-smi >/dev/null || { echo "gpu_check: nvidia-smi not found" >&2; exit 2; }
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ember-agent >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

only_gpu=(--collector.cpu=false --collector.meminfo=false --collector.loadavg=false
  --collector.stat=false --collector.vmstat=false --collector.diskstats=false
  --collector.filesystem=false --collector.netdev=false --collector.pressure=false
  --collector.time=false --collector.uname=false --collector.hwmon=false
  --collector.status=false --collector.gpu.dcgm-names)
fields=index,uuid,name,utilization.gpu,temperature.gpu,memory.used,memory.total,power.draw,clocks.sm,clocks.mem,ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total
# Both at the same moment: start them together, wait for both.
"$BUILD/bin/ember-agent" --once --data-dir "$tmp/agent" "${only_gpu[@]}" >"$tmp/ember.txt" 2>"$tmp/ember.log" &
a=$!
nvidia-smi --query-gpu=$fields --format=csv,noheader,nounits >"$tmp/smi.csv" &
s=$!
wait $a $s
if ! grep -q '^gpu_' "$tmp/ember.txt"; then
  echo "gpu_check: ember-agent exported no GPU series:" >&2; cat "$tmp/ember.log" >&2; exit 1
fi
nvidia-smi -q -d PERFORMANCE >"$tmp/smi_perf.txt" || true

# value NAME GPU_INDEX [LABEL=VALUE] -> the sample's value, or "-"
value() {
  awk -v n="$1" -v g="gpu$2" -v extra="${3:-}" '
    $0 !~ /^#/ && index($0, n "{") == 1 && index($0, "gpu_id=\"" g "\"") &&
    (extra == "" || index($0, extra)) { print $NF; found = 1; exit }
    END { if (!found) print "-" }' "$tmp/ember.txt"
}

bad=0
printf '%-4s %-26s %20s %20s %s\n' gpu figure ember nvidia-smi verdict
while IFS=', ' read -r idx uuid rest; do
  IFS=',' read -r name util temp mused mtotal power sm mem ecc_c ecc_u <<<"$rest"
  trim() { echo "$1" | sed 's/^ *//;s/ *$//'; }
  name=$(trim "$name"); util=$(trim "$util"); temp=$(trim "$temp"); mused=$(trim "$mused")
  mtotal=$(trim "$mtotal"); power=$(trim "$power"); sm=$(trim "$sm"); mem=$(trim "$mem")
  ecc_c=$(trim "$ecc_c"); ecc_u=$(trim "$ecc_u")
  row() { # figure ember smi tolerance(abs, or "info")
    local verdict=info
    if [ "$4" != info ]; then
      if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(a!="-" && d<=t)}'; then
        verdict=ok
      else
        verdict=DIFFERS; bad=1
      fi
    fi
    printf '%-4s %-26s %20s %20s %s\n' "$idx" "$1" "$2" "$3" "$verdict"
  }
  uuid_e=$(grep -o "gpu_id=\"gpu$idx\",gpu_model=\"[^\"]*\",gpu_uuid=\"[^\"]*\"" "$tmp/ember.txt" | head -1 | sed 's/.*gpu_uuid="//;s/"$//')
  model_e=$(grep -o "gpu_id=\"gpu$idx\",gpu_model=\"[^\"]*\"" "$tmp/ember.txt" | head -1 | sed 's/.*gpu_model="//;s/"$//')
  printf '%-4s %-26s %20s %20s %s\n' "$idx" uuid "${uuid_e:0:20}" "${uuid:0:20}" "$([ "$uuid_e" = "$uuid" ] && echo ok || { bad=1; echo DIFFERS; })"
  printf '%-4s %-26s %20s %20s %s\n' "$idx" model "${model_e:0:20}" "${name// /-}" "$([ "$model_e" = "${name// /-}" ] && echo ok || { bad=1; echo DIFFERS; })"
  mib() { awk -v v="$1" 'BEGIN{ if (v == "-") print "-"; else printf "%.0f", v / 1048576 }'; }
  row memory.total_MiB "$(mib "$(value gpu_memory_total_bytes "$idx")")" "$mtotal" 1
  row memory.used_MiB "$(mib "$(value gpu_memory_usage_bytes "$idx")")" "$mused" 64
  row utilization.gpu_% "$(value gpu_utilization_percent "$idx")" "$util" info
  row temperature.gpu_C "$(value gpu_temperature_celsius "$idx")" "$temp" 2
  row power.draw_W "$(value gpu_power_draw_watts "$idx")" "$power" info
  row clocks.sm_MHz "$(value gpu_sm_clock_mhz "$idx")" "$sm" info
  row clocks.mem_MHz "$(value gpu_mem_clock_mhz "$idx")" "$mem" 1
  row ecc.corr+uncorr "$(value gpu_ecc_errors_total "$idx")" \
    "$(awk -v a="$ecc_c" -v b="$ecc_u" 'BEGIN{ if (a ~ /N\/A|Not/ ) print "-"; else print a + b }')" 0
  row pcie.rx_B/s "$(value gpu_pcie_rx_bytes_per_second "$idx")" "(nvidia-smi dmon -s t)" info
  row dcgm.FB_USED_MiB "$(awk -v g="gpu=\"$idx\"" '/^DCGM_FI_DEV_FB_USED/ && index($0, g) {print $NF}' "$tmp/ember.txt")" "$mused" 64
done <"$tmp/smi.csv"
echo
echo "throttle reasons (ember):"; grep '^gpu_throttle_reasons' "$tmp/ember.txt" | grep ' 1$' || echo "  none active"
echo "XID counters (ember):"; grep '^gpu_xid_errors_total' "$tmp/ember.txt" || echo "  none since start"
echo "NVLink (ember):"; grep -c '^gpu_nvlink_up' "$tmp/ember.txt" | sed 's/^/  links: /'
echo "processes (ember):"; grep '^gpu_process_memory_bytes' "$tmp/ember.txt" || echo "  none"
echo "(ember and nvidia-smi started together; fast-moving figures are marked info)"
exit $bad
