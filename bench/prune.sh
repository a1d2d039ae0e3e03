#!/usr/bin/env bash
# Prune at scale: cairn beside restic's current release and Debian's restic
# 0.14, each on its own repository of the same data, in one run. Prints wall
# time and peak RSS (/usr/bin/time) of each prune as a Markdown table.
#
#   bench/prune.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-prune-bench
#
# The data: FILES small configuration-style files (default 1,000,000, about
# 200 bytes each, 1000 per folder), snapshotted; then every other file
# rewritten and FILES/2 files added, snapshotted again. That is 2 x FILES
# data blobs. Forgetting the first snapshot leaves half the blobs of the
# first snapshot's packs unused, so every tool repacks about FILES/2 blobs
# and deletes the rest.
#
# cairn's prune is measured three ways, each on its own copy: phase 1
# (repack and condemn, the default), phase 2 (the next prune, after the
# grace period, deleting what phase 1 condemned), and --instant-delete
# (both in one run, as restic does). cairn opens with a password, like
# restic; the last cairn row repeats --instant-delete with a key file (no
# argon2id, whose 64 MiB is a floor under every password-opened command).
#
#   FILES=N          size of the first snapshot (default 1000000)
#   RESTIC_BIN=PATH  restic's current release (default: built from the Go
#                    module proxy at RESTIC_VERSION, v0.19.1)
#   RESTIC_OLD=PATH  the older restic (default: restic on PATH, Debian's
#                    0.14); an absent one, or RESTIC_OLD=none, is left out of the table
#   REUSE=1          measure the repositories the last run generated again
# Needs about 20 x FILES x 4 KiB of disk (the files take a block each).
# The paths of WORKDIR must not hold spaces.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-prune-bench}
files=${FILES:-1000000}
. "$root/bench/tools.sh"
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw
data=$work/corpus
repos=$work/repos
reuse=0
if [ "${REUSE:-0}" = 1 ] && [ -d "$repos/cairn" ]; then reuse=1; fi
rm -rf "$work/run" && mkdir -p "$work/run"
if [ $reuse = 0 ]; then rm -rf "$data" "$repos" && mkdir -p "$repos"; fi

cairn() { "$work/bin/cairn" -r "$repos/cairn" --password-file "$work/pw" --cache-dir "$repos/cairn-cache" "$@"; }
tools=("$restic_new")
[ -n "$restic_old" ] && tools+=("$restic_old")
rrepo() { echo "$repos/restic-$("$1" version | cut -d' ' -f2)"; }

generate() {
cairn init > /dev/null
cairn key add --new-key-file "$work/key" > /dev/null
for t in "${tools[@]}"; do "$t" -q -r "$(rrepo "$t")" init > /dev/null; done

echo "prune-bench: writing $files files" >&2
"$work/bin/gencorpus" -small "$data" -small-files "$files"
snapshot_all() {
  cairn snapshot -q "$data"
  for t in "${tools[@]}"; do "$t" -q -r "$(rrepo "$t")" backup "$data" > /dev/null; done
}
echo "prune-bench: first snapshots" >&2
snapshot_all
echo "prune-bench: rewriting every other file, adding $((files / 2))" >&2
"$work/bin/gencorpus" -small "$data" -small-files "$files" -small-version 1
echo "prune-bench: second snapshots" >&2
snapshot_all
cairn forget -q --keep-last 1
for t in "${tools[@]}"; do "$t" -q -r "$(rrepo "$t")" forget --keep-last 1 > /dev/null; done
}
if [ $reuse = 0 ]; then
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$work/key" && chmod 600 "$work/key"
  generate
else
  echo "prune-bench: REUSE=1: measuring the repositories of the last run again" >&2
  rm -rf "$repos"/*-copy "$repos"/cairn-phase1 "$repos"/cairn-instant "$repos"/cairn-keyfile "$repos"/*-cache-* "$work/clock"
fi
blobs=$(cairn stats --mode raw-data --json | grep -o '"repository_blobs":[0-9]*' | cut -d: -f2)

# measure NAME CMD...: runs CMD after the disk has settled and (as root)
# the page cache holds the repositories' pack files and nothing else, and
# appends "name seconds kib". The tools' local caches are left cold: read
# back whole with cat, cairn's bbolt cache sits in the page cache in large
# folios, and every fault of its memory map then maps one whole (megabytes
# at a time), which counts in the peak RSS that /usr/bin/time reports. A
# cache file that cairn itself read and wrote is in small pages.
measure() {
  local name=$1; shift
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then
    echo 1 > /proc/sys/vm/drop_caches
    find "$repos" -path '*/data/*' -type f -exec cat {} + > /dev/null
  fi
  /usr/bin/time -f "%e %M" -o "$work/run/time" "$@" > "$work/run/$name.out" 2>&1 || { echo "prune-bench: $name failed:" >&2; cat "$work/run/$name.out" >&2; exit 1; }
  echo "$name $(cat "$work/run/time")" >> "$work/run/results"
}

# Each measured prune runs on a copy; the copies are made first, so that
# copying does not run between measurements.
for v in phase1 instant keyfile; do cp -a "$repos/cairn" "$repos/cairn-$v"; done
for t in "${tools[@]}"; do cp -a "$(rrepo "$t")" "$(rrepo "$t")-copy"; done
rm -rf "$data" # the repositories are all that is read from here on

c() { local r=$1; echo "$work/bin/cairn" -r "$repos/cairn-$r" --cache-dir "$repos/cairn-cache-$r"; }
pw=(--password-file "$work/pw")
$(c phase1) "${pw[@]}" snapshots > /dev/null # fill each copy's index cache first,
$(c instant) "${pw[@]}" snapshots > /dev/null # as a repository in daily use has one
$(c keyfile) --key-file "$work/key" snapshots > /dev/null
measure "cairn-phase1" $(c phase1) "${pw[@]}" prune
echo 25h > "$work/clock"
CAIRN_TEST_CLOCK_FILE=$work/clock measure "cairn-phase2" $(c phase1) "${pw[@]}" prune
measure "cairn-instant" $(c instant) "${pw[@]}" prune --instant-delete
measure "cairn-keyfile" $(c keyfile) --key-file "$work/key" prune --instant-delete
for t in "${tools[@]}"; do
  v=$("$t" version | cut -d' ' -f2)
  "$t" -q -r "$(rrepo "$t")-copy" --cache-dir "$repos/restic-cache-$v" snapshots > /dev/null
  measure "restic-$v" "$t" -r "$(rrepo "$t")-copy" --cache-dir "$repos/restic-cache-$v" prune
done
$(c phase1) "${pw[@]}" check --read-data > "$work/run/check.out" || { cat "$work/run/check.out" >&2; exit 1; }

size() { du -sm "$1" | cut -f1; }
{
  echo "prune of a repository of $blobs blobs ($((files * 2)) data blobs; half of the first snapshot's unused), $(nproc) cores"
  echo
  echo "| tool | step | seconds | peak RSS MiB | repository MiB after |"
  echo "|---|---|---:|---:|---:|"
  while read -r name secs kib; do
    case $name in
      cairn-phase1) step="prune (phase 1: repack, condemn)"; r=$repos/cairn-phase1; after="(condemned kept)";;
      cairn-phase2) step="next prune after 25 h (phase 2: delete)"; r=$repos/cairn-phase1; after=$(size "$r/data");;
      cairn-instant) step="prune --instant-delete"; after=$(size "$repos/cairn-instant/data");;
      cairn-keyfile) step="prune --instant-delete, key file"; after=$(size "$repos/cairn-keyfile/data");;
      restic-*) step="prune"; after=$(size "$repos/${name}-copy/data");;
    esac
    tool=${name%%-*}
    [ "$tool" = restic ] && tool="restic ${name#restic-}"
    printf '| %s | %s | %.2f | %.0f | %s |\n' "$tool" "$step" "$secs" "$((kib / 1024))" "$after"
  done < "$work/run/results"
  echo
  echo "before prune: cairn $(size "$repos/cairn/data") MiB; $(for t in "${tools[@]}"; do printf 'restic %s %s MiB; ' "$("$t" version | cut -d' ' -f2)" "$(size "$(rrepo "$t")/data")"; done)"
}
