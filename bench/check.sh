#!/usr/bin/env bash
# Measures read-data throughput: `cairn check --read-data` beside
# `restic check --read-data` on the same data, each over its own local
# repository holding one snapshot of the corpus. Prints wall time, MB/s
# (stored bytes read per second, and corpus bytes per second) and peak RSS
# (/usr/bin/time) as a Markdown table.
#
#   bench/check.sh [WORKDIR]          default ${TMPDIR:-/tmp}/cairn-bench-check
#
# The corpus (made once, kept in WORKDIR/corpus) is bench/gencorpus's logs
# and mixed binary file: LOG_SIZE and BIN_SIZE bytes (default 1 GiB and
# 4 GiB, which store as about 2.4 GiB). Both repositories are read once before
# timing, so both checks read from the page cache and the numbers measure
# the verification itself. Needs about 3x the corpus size in free disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-bench-check}
log_size=${LOG_SIZE:-$((1 << 30))}
bin_size=${BIN_SIZE:-$((4 << 30))}
command -v restic >/dev/null || { echo "check.sh: restic not found (apt-get install restic)" >&2; exit 1; }
mkdir -p "$work/corpus"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
corpus=$work/corpus
[ -d "$corpus/logs" ] || "$work/gencorpus" -logs "$corpus/logs" -log-size "$log_size"
[ -f "$corpus/binary/mixed.bin" ] || { mkdir -p "$corpus/binary"; "$work/gencorpus" -binary "$corpus/binary/mixed.bin" -binary-size "$bin_size"; }
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw

r=$work/run
cairn=("$work/cairn" -r "$r/cairn-repo" --password-file "$work/pw" --cache-dir "$r/cairn-cache")
restic=(restic -q -r "$r/restic-repo" --cache-dir "$r/restic-cache")
if [ ! -f "$r/done" ]; then
  rm -rf "$r" && mkdir -p "$r"
  "${cairn[@]}" init > /dev/null
  "${restic[@]}" init > /dev/null
  "${cairn[@]}" snapshot "$corpus" > /dev/null
  "${restic[@]}" backup "$corpus" > /dev/null
  touch "$r/done"
fi

# measure OUT CMD...: runs CMD, stores "seconds maxrss_kib" in OUT.
measure() {
  local out=$1; shift
  if ! /usr/bin/time -f "%e %M" -o "$out" "$@" > "$out.log" 2>&1; then
    echo "check.sh: failed: $*" >&2; cat "$out.log" >&2; exit 1
  fi
}

bytes() { du -sb "$1" | cut -f1; }
corpus_bytes=$(bytes "$corpus")
cairn_bytes=$(bytes "$r/cairn-repo/data")
restic_bytes=$(bytes "$r/restic-repo/data")

cat "$r"/cairn-repo/data/*/* "$r"/restic-repo/data/*/* > /dev/null # warm both equally
measure "$r/cairn.time" "${cairn[@]}" check --read-data
measure "$r/restic.time" "${restic[@]}" check --read-data

row() { # tool time-file stored-bytes
  local s rss
  read -r s rss < "$2"
  awk -v t="$1" -v s="$s" -v rss="$rss" -v b="$3" -v c="$corpus_bytes" 'BEGIN {
    printf "| %s | %.1f | %.2f | %.1f | %.1f | %.0f |\n", t, b / 1e6, s, b / 1e6 / s, c / 1e6 / s, rss / 1024 }'
}

echo
echo "cairn $("$work/cairn" --version | awk '{print $3}'), $(restic version | cut -d' ' -f1-2), $(nproc) cores; corpus $((corpus_bytes / 1000000)) MB"
echo
echo "| tool | stored MB | seconds | stored MB/s | corpus MB/s | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|"
row cairn "$r/cairn.time" "$cairn_bytes"
row restic "$r/restic.time" "$restic_bytes"
grep -h 'read-data' "$r/cairn.time.log" || true
