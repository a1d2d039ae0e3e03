#!/usr/bin/env bash
# Compares cairn with restic (Debian's package) on the same data in one run:
# first snapshot, unchanged second snapshot, full restore and one-file dump on
# three corpora, printing wall time, peak RSS (/usr/bin/time) and repository
# size as a Markdown table. Both tools open their repositories with a
# password; the last column repeats cairn's steps with a key file (no KDF,
# the way timers and cron jobs run it), since argon2id's 64 MiB sets a floor
# under every password-opened command's peak memory.
#
#   bench/compare.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-bench
#
# Corpora (made once, kept in WORKDIR/corpus): a copy of the Go toolchain's
# src (~11k small files), 1 GiB of generated application logs, one 2 GiB mixed
# binary file. Set CORPORA="src logs" to run a subset, LOG_SIZE/BIN_SIZE (bytes)
# for smaller corpora, RUNS for the repetitions (median shown, default 3).
# Needs about (3 x RUNS + 2) x the corpus size in free disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-bench}
corpora=${CORPORA:-"src logs binary"}
log_size=${LOG_SIZE:-$((1 << 30))}
bin_size=${BIN_SIZE:-$((2 << 30))}
runs=${RUNS:-3} # each step is run this many times; the table shows the median
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
printf '| corpus | step | cairn s | restic s | speed-up | cairn RSS MiB | restic RSS MiB | cairn --key-file s / RSS MiB |\n|---|---|---:|---:|---:|---:|---:|---:|\n' > "$results"

# measure OUT WARM CMD...: runs CMD, appends "seconds maxrss_kib" to OUT.
# It first waits for earlier writes to reach the disk, so that no step pays
# for the writeback of the one before, then (as root, unless FRESH_CACHE=0)
# empties the page cache and reads back the step's inputs, WARM (paths
# separated by ":"). Each step so starts from the same memory state: after
# a few gigabytes of restores the kernel's page-cache upkeep otherwise
# doubles or triples the system time of whichever tool writes next, more
# noise than signal. Only the step's own inputs are read back: on a virtual
# machine that hands freed memory back to its host, every page the guest
# touches afresh can cost a fault on the host, and with 2 GiB of unrelated
# corpus in the cache a 2 GiB restore paid 1.5-2 s more system time, both
# tools alike (touching 2 GiB of fresh memory took 0.8 s to 2.4 s here,
# depending on what had been freed just before).
measure() {
  local out=$1 warm=$2; shift 2
  sync
  if [ "${FRESH_CACHE:-1}" = 1 ] && [ -w /proc/sys/vm/drop_caches ]; then
    echo 1 > /proc/sys/vm/drop_caches
    local IFS=:
    for p in $warm; do if [ -e "$p" ]; then find "$p" -type f -exec cat {} + > /dev/null; fi; done
  fi
  if ! /usr/bin/time -f "%e %M" -a -o "$out" "$@" > /dev/null 2> "$out.err"; then
    echo "compare: failed: $*" >&2; cat "$out.err" >&2; exit 1
  fi
}

# median FILE: the run with the median time, as "seconds maxrss_kib".
median() { grep -E '^[0-9.]+ [0-9]+$' "$1" | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

row() { # corpus step cairn-out restic-out cairn-key-file-out
  local cs cr rs rr ks kr
  read -r cs cr <<< "$(median "$3")"; read -r rs rr <<< "$(median "$4")"; read -r ks kr <<< "$(median "$5")"
  awk -v c="$1" -v s="$2" -v cs="$cs" -v rs="$rs" -v cr="$cr" -v rr="$rr" -v ks="$ks" -v kr="$kr" 'BEGIN {
    printf "| %s | %s | %.2f | %.2f | %.2fx | %.0f | %.0f | %.2f / %.0f |\n", c, s, cs, rs, (cs > 0 ? rs / cs : 0), cr / 1024, rr / 1024, ks, kr / 1024 }' >> "$results"
}

# one_run C N: the four steps of both tools on corpus C, run number N.
one_run() {
  local c=$1 n=$2 data=$work/corpus/$1 r=$work/run/$2
  mkdir -p "$r"
  cairn=("$work/cairn" -r "$r/cairn-repo" --password-file "$work/pw" --cache-dir "$r/cairn-cache")
  restic=(restic -q -r "$r/restic-repo" --cache-dir "$r/restic-cache")
  # the same steps with a key file instead of a password (no KDF), in a
  # repository of its own: the way a timer or cron job runs cairn
  cairnk=("$work/cairn" -r "$r/cairn-k-repo" --key-file "$r/cairn.key" --cache-dir "$r/cairn-k-cache")
  "${cairn[@]}" init > /dev/null
  "${restic[@]}" init > /dev/null
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$r/cairn.key" && chmod 600 "$r/cairn.key"
  "${cairnk[@]}" init > /dev/null
  # each step's inputs: snapshots read the data and the repository,
  # restore and dump only the repository
  local cr="$r/cairn-repo:$r/cairn-cache" rr="$r/restic-repo:$r/restic-cache" kr="$r/cairn-k-repo:$r/cairn-k-cache"
  local cw="$data:$cr" rw="$data:$rr" kw="$data:$kr"
  measure "$work/run/c1" "$cw" "${cairn[@]}" snapshot "$data"
  measure "$work/run/r1" "$rw" "${restic[@]}" backup "$data"
  measure "$work/run/c2" "$cw" "${cairn[@]}" snapshot "$data"
  measure "$work/run/r2" "$rw" "${restic[@]}" backup "$data"
  measure "$work/run/c3" "$cr" "${cairn[@]}" restore latest --target "$r/cairn-out"
  measure "$work/run/r3" "$rr" "${restic[@]}" restore latest --target "$r/restic-out"
  cmp -s "$data/${dumpfile[$c]}" "$r/cairn-out$data/${dumpfile[$c]}" || { echo "compare: cairn restored $c wrongly" >&2; exit 1; }
  measure "$work/run/c4" "$cr" "${cairn[@]}" dump latest "$data/${dumpfile[$c]}"
  measure "$work/run/r4" "$rr" "${restic[@]}" dump latest "$data/${dumpfile[$c]}"
  measure "$work/run/k1" "$kw" "${cairnk[@]}" snapshot "$data"
  measure "$work/run/k2" "$kw" "${cairnk[@]}" snapshot "$data"
  measure "$work/run/k3" "$kr" "${cairnk[@]}" restore latest --target "$r/cairn-k-out"
  measure "$work/run/k4" "$kr" "${cairnk[@]}" dump latest "$data/${dumpfile[$c]}"
}

for c in $corpora; do
  data=$work/corpus/$c
  # Deleting many files makes ext4 slow to create new ones for a while
  # (it skips inodes freed in the last 60 s): clear the last corpus's runs
  # first and let the file system settle; within a corpus nothing is deleted.
  rm -rf "$work/run" && sync && sleep 65 && mkdir -p "$work/run"
  for n in $(seq "$runs"); do one_run "$c" "$n"; done
  row "$c" "first snapshot" "$work/run/c1" "$work/run/r1" "$work/run/k1"
  row "$c" "unchanged snapshot" "$work/run/c2" "$work/run/r2" "$work/run/k2"
  row "$c" "full restore" "$work/run/c3" "$work/run/r3" "$work/run/k3"
  row "$c" "dump one file" "$work/run/c4" "$work/run/r4" "$work/run/k4"
  cs=$(du -sm "$work/run/1/cairn-repo" | cut -f1); rs=$(du -sm "$work/run/1/restic-repo" | cut -f1); ds=$(du -sm "$data" | cut -f1)
  printf '| %s | repository size (data %s MiB) | %s MiB | %s MiB | | | | |\n' "$c" "$ds" "$cs" "$rs" >> "$results"
done
rm -rf "$work/run"
echo
echo "cairn $("$work/cairn" --version | awk '{print $3}'), $(restic version | cut -d' ' -f1-2), $(nproc) cores"
cat "$results"
