#!/usr/bin/env bash
# Compares cairn with restic's current release and with Debian's restic
# 0.14 on the same data in one run, printing wall time and peak RSS
# (/usr/bin/time) as a Markdown table. All three open their repositories
# with a password; the last column repeats cairn's steps with a key file
# (no KDF: how timers and cron jobs run it), since argon2id's 64 MiB sets a
# floor under every password-opened command's peak memory.
#
#   bench/compare.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-bench
#
# Corpora (made once, kept in WORKDIR/corpus), chosen with CORPORA:
#   src     a copy of the Go toolchain's src (~15k files): first and
#           unchanged snapshot
#   logs    1 GiB of application logs (LOG_SIZE): first snapshot, "day 2"
#           (logrotate renames service.log, every other log grows 5%),
#           unchanged snapshot, restore with a warm and a cold page cache,
#           check --read-data, dump of one log (service.log.0, 64 MiB at full size)
#   binary  one 2 GiB mixed file and a 10 MiB one (BIN_SIZE): first
#           snapshot, restore, dump of the 10 MiB file
#   many    1 million small files (SMALL_FILES): first and unchanged
#           snapshot, restore
# Default: "src logs binary"; add "many" for the small-files corpus.
#
# restic: RESTIC_BIN (default: restic v0.19.1 built from the module proxy
# into WORKDIR/bin), RESTIC14_BIN (default: Debian's /usr/bin/restic).
# RUNS repeats each step (the median is shown; default 1).
# KOPIA=1 (or KOPIA_BIN=PATH) adds kopia to the src corpus's snapshot steps
# (default: kopia v0.22.3 built from the module proxy into WORKDIR/bin),
# with its default policy (no compression); its times print below the table.
# The ceiling lines (bench/ceiling.sh) are what `go test ./repo -bench Stage`
# implies for this machine's cores: the stages' ns per byte summed, divided
# over the cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-bench}
corpora=${CORPORA:-"src logs binary"}
log_size=${LOG_SIZE:-$((1 << 30))}
bin_size=${BIN_SIZE:-$((2 << 30))}
small_files=${SMALL_FILES:-1000000}
runs=${RUNS:-1}
mkdir -p "$work/corpus" "$work/bin"
rm -f "$work/kopia.txt"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
restic=${RESTIC_BIN:-$work/bin/restic}
if [ ! -x "$restic" ]; then
  GOBIN=$work/bin go install github.com/restic/restic/cmd/restic@v0.19.1
fi
kopia=${KOPIA_BIN:-}
if [ -z "$kopia" ] && [ "${KOPIA:-0}" = 1 ]; then
  kopia=$work/bin/kopia
  if [ ! -x "$kopia" ]; then
    # through a module of its own: go install kopia@v0.22.3 asks the proxy
    # for kopia's version list (for deprecation notes), which a proxy may refuse
    kb=$(mktemp -d)
    (cd "$kb" && go mod init kopiabuild > /dev/null 2>&1 && go get github.com/kopia/kopia@v0.22.3 > /dev/null 2>&1 &&
      go build -o "$kopia" github.com/kopia/kopia)
    rm -rf "$kb"
  fi
fi
export KOPIA_PASSWORD="benchmark password" KOPIA_CHECK_FOR_UPDATES=false
restic14=${RESTIC14_BIN:-/usr/bin/restic}
[ -x "$restic14" ] || { echo "compare: no restic 0.14 at $restic14 (apt-get install restic, or set RESTIC14_BIN)" >&2; exit 1; }

for c in $corpora; do
  case $c in
  src) [ -d "$work/corpus/src" ] || cp -a "$(go env GOROOT)/src" "$work/corpus/src" ;;
  logs) [ -d "$work/corpus/logs" ] || "$work/gencorpus" -logs "$work/corpus/logs" -log-size "$log_size" ;;
  binary)
    if [ ! -f "$work/corpus/binary/mixed.bin" ]; then
      mkdir -p "$work/corpus/binary"
      "$work/gencorpus" -binary "$work/corpus/binary/mixed.bin" -binary-size "$bin_size"
      head -c $((10 << 20)) /dev/urandom > "$work/corpus/binary/ten.bin"
    fi ;;
  many) [ -d "$work/corpus/many" ] || "$work/gencorpus" -small "$work/corpus/many" -small-files "$small_files" ;;
  *) echo "compare: unknown corpus $c" >&2; exit 1 ;;
  esac
done
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw

results=$work/results.md
printf '| corpus | step | cairn s | restic %s s | restic %s s | vs current | vs 0.14 | cairn RSS MiB | restic RSS MiB | 0.14 RSS MiB | cairn --key-file s / RSS MiB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n' \
  "$("$restic" version | cut -d' ' -f2)" "$("$restic14" version | cut -d' ' -f2)" > "$results"

# measure OUT WARM CMD...: runs CMD, appends "seconds maxrss_kib" to OUT.
# It first waits for earlier writes to reach the disk, then (as root,
# unless FRESH_CACHE=0) empties the page cache and reads back the step's
# inputs, WARM (paths separated by ":"; "" for a cold start). Each step so
# starts from the same memory state: after gigabytes of restores the
# kernel's page-cache upkeep otherwise doubles or triples the system time
# of whichever tool writes next.
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

# row CORPUS STEP: one line of the table from the step's four result files
# (named CORPUS-STEP.TOOL).
row() {
  local f=$work/run/$1-$2 cs cr rs rr os or ks kr
  read -r cs cr <<< "$(median "$f.cairn")"; read -r rs rr <<< "$(median "$f.restic")"
  read -r os or <<< "$(median "$f.restic14")"; read -r ks kr <<< "$(median "$f.key")"
  awk -v c="$1" -v s="$2" -v cs="$cs" -v rs="$rs" -v os="$os" -v cr="$cr" -v rr="$rr" -v or="$or" -v ks="$ks" -v kr="$kr" 'BEGIN {
    printf "| %s | %s | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.0f | %.0f | %.0f | %.2f / %.0f |\n",
      c, s, cs, rs, os, (cs > 0 ? rs / cs : 0), (cs > 0 ? os / cs : 0), cr / 1024, rr / 1024, or / 1024, ks, kr / 1024 }' >> "$results"
}

# tools: the four tools' command prefixes in run directory R.
declare -A tool
tools() {
  local r=$1
  tool[cairn]="$work/cairn -r $r/cairn-repo --password-file $work/pw --cache-dir $r/cairn-cache"
  tool[key]="$work/cairn -r $r/key-repo --key-file $r/cairn.key --cache-dir $r/key-cache"
  tool[restic]="$restic -q -r $r/restic-repo --cache-dir $r/restic-cache"
  tool[restic14]="$restic14 -q -r $r/restic14-repo --cache-dir $r/restic14-cache"
  tool[kopia]="$kopia --config-file $r/kopia.config"
}
repo_of() { case $1 in cairn) echo "$2/cairn-repo:$2/cairn-cache" ;; key) echo "$2/key-repo:$2/key-cache" ;; *) echo "$2/$1-repo:$2/$1-cache" ;; esac; }

# step STEP R WARM-DATA KIND ARGS...: runs one step with each tool (and
# kopia when with_kopia is set). KIND picks the command: snapshot, restore,
# cold-restore, check, dump.
with_kopia=
step() {
  local name=$1 r=$2 data=$3 kind=$4; shift 4
  local t warm
  for t in cairn restic restic14 key $with_kopia; do
    warm=$(repo_of "$t" "$r")
    [ -n "$data" ] && warm="$data:$warm"
    case $kind in
    snapshot)
      if [ "$t" = kopia ]; then measure "$work/run/$name.$t" "$warm" ${tool[$t]} snapshot create --no-progress "$@"
      elif [ "${t#restic}" != "$t" ]; then measure "$work/run/$name.$t" "$warm" ${tool[$t]} backup "$@"
      else measure "$work/run/$name.$t" "$warm" ${tool[$t]} snapshot "$@"; fi ;;
    restore) rm -rf "$r/out-$t"; measure "$work/run/$name.$t" "$warm" ${tool[$t]} restore latest --target "$r/out-$t" ;;
    cold-restore) rm -rf "$r/out-$t"; measure "$work/run/$name.$t" "" ${tool[$t]} restore latest --target "$r/out-$t" ;;
    check) measure "$work/run/$name.$t" "$warm" ${tool[$t]} check --read-data ;;
    dump) measure "$work/run/$name.$t" "$warm" ${tool[$t]} dump latest "$@" ;;
    esac
  done
}

init_all() {
  local r=$1
  mkdir -p "$r"
  tools "$r"
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$r/cairn.key" && chmod 600 "$r/cairn.key"
  ${tool[cairn]} init > /dev/null
  ${tool[key]} init > /dev/null
  ${tool[restic]} init > /dev/null
  ${tool[restic14]} init > /dev/null
  if [ -n "$with_kopia" ]; then
    ${tool[kopia]} repository create filesystem --path "$r/kopia-repo" --cache-directory "$r/kopia-cache" > /dev/null 2>&1
  fi
}

one_run() { # one_run CORPUS N
  local c=$1 r=$work/run/$2 data=$work/corpus/$1
  with_kopia=
  [ "$c" = src ] && [ -n "$kopia" ] && with_kopia=kopia
  init_all "$r"
  case $c in
  src|many)
    step "$c-first" "$r" "$data" snapshot "$data"
    step "$c-unchanged" "$r" "$data" snapshot "$data"
    if [ "$c" = many ]; then step "$c-restore" "$r" "" restore; fi ;;
  logs)
    # day 2 changes the data: each run works on a copy all tools share
    rm -rf "$r/logs" && cp -a "$data" "$r/logs" && data=$r/logs
    step logs-first "$r" "$data" snapshot "$data"
    "$work/gencorpus" -day2 "$data"
    step logs-day2 "$r" "$data" snapshot "$data"
    step logs-unchanged "$r" "$data" snapshot "$data"
    step logs-restore "$r" "" restore
    cmp -s "$data/service.log.0" "$r/out-cairn$data/service.log.0" || { echo "compare: cairn restored the logs wrongly" >&2; exit 1; }
    step logs-cold-restore "$r" "" cold-restore
    step logs-check "$r" "" check
    step logs-dump "$r" "" dump "$data/service.log.0" ;;
  binary)
    step binary-first "$r" "$data" snapshot "$data"
    step binary-restore "$r" "" restore
    cmp -s "$data/ten.bin" "$r/out-cairn$data/ten.bin" || { echo "compare: cairn restored the binary wrongly" >&2; exit 1; }
    step binary-dump "$r" "" dump "$data/ten.bin" ;;
  esac
  # The restored copies are checked and measured: drop them, or three runs
  # of the binary corpus keep 24 GiB of them (4 tools x 2 GiB x 3) and
  # fill the disk. A few large files: no inode churn for the next run.
  rm -rf "$r"/out-* && sync
}

declare -A steps=([src]="src-first src-unchanged" [many]="many-first many-unchanged many-restore"
  [logs]="logs-first logs-day2 logs-unchanged logs-restore logs-cold-restore logs-check logs-dump"
  [binary]="binary-first binary-restore binary-dump")
for c in $corpora; do
  # Deleting many files makes ext4 slow to create new ones for a while
  # (it skips inodes freed in the last 60 s): clear the last corpus's runs
  # first and let the file system settle; within a corpus nothing is deleted.
  rm -rf "$work/run" && sync && sleep 65 && mkdir -p "$work/run"
  for n in $(seq "$runs"); do one_run "$c" "$n"; done
  for s in ${steps[$c]}; do row "$c" "${s#*-}"; done
  if [ "$c" = src ] && [ -n "$kopia" ]; then
    for s in first unchanged; do
      read -r ks kr <<< "$(median "$work/run/src-$s.kopia")"; read -r cs _ <<< "$(median "$work/run/src-$s.cairn")"
      read -r ys _ <<< "$(median "$work/run/src-$s.key")"
      awk -v s="$s" -v ks="$ks" -v kr="$kr" -v cs="$cs" -v ys="$ys" 'BEGIN {
        printf "kopia: src %s %.2f s, %.0f MiB peak RSS; cairn %.2fx of it with a password, %.2fx with a key file\n", s, ks, kr / 1024, ks / cs, ks / ys }' >> "$work/kopia.txt"
    done
  fi
done
rm -rf "$work/run"
[ -n "$kopia" ] && echo "kopia: $("$kopia" --version 2>&1 | head -1)" >> "$work/kopia.txt"

# The ceilings the stage benchmarks imply, measured after the tools ran,
# on the same machine state.
ceiling=$("$root/bench/ceiling.sh")

# What every step above pays before its work starts: each tool's binary
# starts from an emptied page cache (`version`, median of 3), which no
# stage benchmark and no ceiling counts.
coldstart() {
  local f=$work/coldstart.$1; shift
  rm -f "$f"
  for _ in 1 2 3; do measure "$f" "" "$@" version; done
  median "$f" | awk '{printf "%.2f s", $1}'
}
starts="a cold start: cairn $(coldstart cairn "$work/cairn"), restic $(coldstart restic "$restic"), restic 0.14 $(coldstart restic14 "$restic14") (version, from an emptied page cache)"
rm -f "$work"/coldstart.*
echo
echo "cairn $("$work/cairn" --version | awk '{print $3}'), $("$restic" version | cut -d' ' -f1-2), $("$restic14" version | cut -d' ' -f1-2), $(nproc) cores"
echo "$ceiling"
echo "  $starts"
cat "$results"
if [ -f "$work/kopia.txt" ]; then echo; cat "$work/kopia.txt"; rm -f "$work/kopia.txt"; fi
