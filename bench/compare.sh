#!/usr/bin/env bash
# Compares cairn with restic (Debian's package) on the same data in one run:
# first snapshot, unchanged second snapshot, full restore and one-file dump on
# three corpora, printing wall time, peak RSS (/usr/bin/time) and repository
# size as a Markdown table.
#
#   bench/compare.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-bench
#
# Corpora (made once, kept in WORKDIR/corpus): a copy of the Go toolchain's
# src (~11k small files), 1 GiB of generated application logs, one 2 GiB mixed
# binary file. Set CORPORA="src logs" to run a subset, LOG_SIZE/BIN_SIZE (bytes)
# for smaller corpora. Needs about 4x the corpus size in free disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-bench}
corpora=${CORPORA:-"src logs binary"}
log_size=${LOG_SIZE:-$((1 << 30))}
bin_size=${BIN_SIZE:-$((2 << 30))}
command -v restic >/dev/null || { echo "compare: restic not found (apt-get install restic)" >&2; exit 1; }
mkdir -p "$work/corpus"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
[ -d "$work/corpus/src" ] || cp -a "$(go env GOROOT)/src" "$work/corpus/src"
[ -d "$work/corpus/logs" ] || "$work/gencorpus" -logs "$work/corpus/logs" -log-size "$log_size"
[ -f "$work/corpus/binary/mixed.bin" ] || { mkdir -p "$work/corpus/binary"; "$work/gencorpus" -binary "$work/corpus/binary/mixed.bin" -binary-size "$bin_size"; }
echo "benchmark password" > "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw

# dump target per corpus: one small file from the middle of each
declare -A dumpfile=([src]=net/http/server.go [logs]=service.log [binary]=mixed.bin)

results=$work/results.md
printf '| corpus | step | cairn s | restic s | speed-up | cairn RSS MiB | restic RSS MiB |\n|---|---|---:|---:|---:|---:|---:|\n' > "$results"

# measure OUT CMD...: runs CMD, stores "seconds maxrss_kib" in OUT.
measure() {
  local out=$1; shift
  if ! /usr/bin/time -f "%e %M" -o "$out" "$@" > /dev/null 2> "$out.err"; then
    echo "compare: failed: $*" >&2; cat "$out.err" >&2; exit 1
  fi
}

row() { # corpus step cairn-out restic-out
  local cs cr rs rr
  read -r cs cr < "$3"; read -r rs rr < "$4"
  awk -v c="$1" -v s="$2" -v cs="$cs" -v rs="$rs" -v cr="$cr" -v rr="$rr" 'BEGIN {
    printf "| %s | %s | %.2f | %.2f | %.2fx | %.0f | %.0f |\n", c, s, cs, rs, (cs > 0 ? rs / cs : 0), cr / 1024, rr / 1024 }' >> "$results"
}

for c in $corpora; do
  data=$work/corpus/$c
  # Deleting many files makes ext4 slow to create new ones for a while
  # (it skips recently freed inodes): clear the last run first and let
  # the file system settle, so neither tool pays for the other's files.
  rm -rf "$work/run" && sync && sleep 30 && mkdir -p "$work/run"
  cat $(find "$data" -type f) > /dev/null # same warm page cache for both tools
  r=$work/run
  cairn=("$work/cairn" -r "$r/cairn-repo" --password-file "$work/pw" --cache-dir "$r/cairn-cache")
  restic=(restic -q -r "$r/restic-repo" --cache-dir "$r/restic-cache")
  "${cairn[@]}" init > /dev/null
  "${restic[@]}" init > /dev/null

  measure "$r/c1" "${cairn[@]}" snapshot "$data"
  measure "$r/r1" "${restic[@]}" backup "$data"
  row "$c" "first snapshot" "$r/c1" "$r/r1"
  measure "$r/c2" "${cairn[@]}" snapshot "$data"
  measure "$r/r2" "${restic[@]}" backup "$data"
  row "$c" "unchanged snapshot" "$r/c2" "$r/r2"
  measure "$r/c3" "${cairn[@]}" restore latest --target "$r/cairn-out"
  measure "$r/r3" "${restic[@]}" restore latest --target "$r/restic-out"
  row "$c" "full restore" "$r/c3" "$r/r3"
  cmp -s "$data/${dumpfile[$c]}" "$r/cairn-out$data/${dumpfile[$c]}" || { echo "compare: cairn restored $c wrongly" >&2; exit 1; }
  measure "$r/c4" "${cairn[@]}" dump latest "$data/${dumpfile[$c]}"
  measure "$r/r4" "${restic[@]}" dump latest "$data/${dumpfile[$c]}"
  row "$c" "dump one file" "$r/c4" "$r/r4"
  cs=$(du -sm "$r/cairn-repo" | cut -f1); rs=$(du -sm "$r/restic-repo" | cut -f1); ds=$(du -sm "$data" | cut -f1)
  printf '| %s | repository size (data %s MiB) | %s MiB | %s MiB | | | |\n' "$c" "$ds" "$cs" "$rs" >> "$results"
done
echo
echo "cairn $("$work/cairn" --version | awk '{print $3}'), $(restic version | cut -d' ' -f1-2), $(nproc) cores"
cat "$results"
