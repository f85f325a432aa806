#!/bin/sh
# run_fuzz.sh FUZZER CORPUS SECONDS — run one libFuzzer target for a bounded
# time on a scratch copy of its seed corpus (the committed corpus stays as it
# is); any crash, leak or sanitizer report fails the test and leaves the
# reproducer in the scratch directory, whose path is printed.
set -eu
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/ember-fuzz.XXXXXX")
mkdir -p "$work/corpus"
[ -d "$corpus" ] && cp -R "$corpus"/. "$work/corpus/" 2>/dev/null || true
cd "$work"
if "$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 corpus; then
  rm -rf "$work"
else
  echo "fuzz target failed; reproducer and corpus kept in $work" >&2
  exit 1
fi
