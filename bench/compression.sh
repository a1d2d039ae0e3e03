#!/usr/bin/env bash
# What each compression level costs on logs: MB/s of one core and the
# stored share of the raw bytes, over the chunks cairn stores, on the log
# corpus of bench/gencorpus. Prints a Markdown table.
#
#   bench/compression.sh [WORKDIR]     default ${TMPDIR:-/tmp}/cairn-compression-bench
#
#   SIZE=BYTES     how much of the corpus to compress (default 67108864, 64 MiB)
#   BENCHTIME=Nx   iterations per measurement (default 3x)
#   COUNT=N        measurements per level (default 3); the table shows the
#                  fastest, the one least disturbed by other work
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-compression-bench}
size=${SIZE:-67108864}
mkdir -p "$work"
if [ ! -d "$work/logs-$size" ]; then
  go run "$root/bench/gencorpus" -logs "$work/logs-$size" -log-size "$size"
fi
cd "$root"
CAIRN_BENCH_LOGS="$work/logs-$size" CAIRN_BENCH_BYTES="$size" \
  go test ./repo -run XXX -bench CompressionLevel -cpu 1 -benchtime "${BENCHTIME:-3x}" -count "${COUNT:-3}" | tee "$work/out.txt"
echo
echo "| level | MB/s per core | stored/raw |"
echo "|---|---:|---:|"
echo "| off | - | 1.000 |"
awk '/^BenchmarkCompressionLevel\// {
  split($1, p, "/"); lvl = p[2]; sub(/-[0-9]+$/, "", lvl)
  for (i = 1; i <= NF; i++) { if ($(i+1) == "MB/s") mbs = $i; if ($(i+1) == "stored/raw") ratio[lvl] = $i }
  if (!(lvl in best)) order[n++] = lvl
  if (mbs > best[lvl]) best[lvl] = mbs
}
END { for (i = 0; i < n; i++) printf "| %s | %.0f | %.3f |\n", order[i], best[order[i]], ratio[order[i]] }' "$work/out.txt"
