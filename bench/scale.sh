#!/usr/bin/env bash
# Scale: a repository of ten million blobs, cairn beside restic's current
# release and Debian's restic 0.14, each on its own repository of the same
# data, in one run. Prints wall time and peak RSS (/usr/bin/time) of each
# step as a Markdown table.
#
#   bench/scale.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-scale-bench
#
# The data: one tree of FILES small configuration-style files (default
# 1,000,000, about 200 bytes each, 1000 per folder), rewritten in full
# ROUNDS times (default 10) and snapshotted by every tool after each
# rewrite. Every round adds FILES data blobs, so the last snapshot goes
# into a repository of (ROUNDS-1) x FILES blobs and the repository ends
# with ROUNDS x FILES, from a tree that needs only FILES x 4 KiB of disk.
# Then, on the full repositories: an unchanged snapshot, check, check
# --read-data, and forget --keep-last ROUNDS/2 with prune (half the data
# blobs unused; cairn's prune with --instant-delete, as restic's).
#
# cairn opens with a key file throughout, so that its peak RSS is its own
# work and not argon2id's 64 MiB; the rows marked "password" repeat a step
# opened with a password, for the floor it adds. restic opens with a
# password.
#
#   FILES=N          files in the tree (default 1000000)
#   ROUNDS=N         rewrites, each N new data blobs (default 10)
#   RESTIC_BIN=PATH  restic's current release (default: built from the Go
#                    module proxy at RESTIC_VERSION, v0.19.1)
#   RESTIC_OLD=PATH  the older restic (default: restic on PATH, Debian's
#                    0.14); RESTIC_OLD=none leaves it out
# Needs about FILES x 4 KiB for the tree and FILES x ROUNDS x 1 KiB for
# each tool's repository. The paths of WORKDIR must not hold spaces.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-scale-bench}
files=${FILES:-1000000}
rounds=${ROUNDS:-10}
. "$root/bench/tools.sh"
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw
data=$work/corpus
repos=$work/repos
rm -rf "$work/run" "$data" "$repos" && mkdir -p "$work/run" "$repos"

tools=("$restic_new")
[ -n "$restic_old" ] && tools+=("$restic_old")
ver() { "$1" version | cut -d' ' -f2; }
cairn=("$work/bin/cairn" -r "$repos/cairn" --cache-dir "$repos/cairn-cache")
# restic T ARGS...: prints the command line of restic T on its repository
restic() { local t=$1; shift; echo "$t" -r "$repos/restic-$(ver "$t")" --cache-dir "$repos/restic-cache-$(ver "$t")" "$@"; }

# measure NAME STEP CMD...: runs CMD after the disk has settled, appends
# "name|step|seconds|kib" to the results.
measure() {
  local name=$1 step=$2; shift 2
  sync
  /usr/bin/time -f "%e %M" -o "$work/run/time" "$@" > "$work/run/last.out" 2>&1 || {
    echo "scale-bench: $name $step failed:" >&2; cat "$work/run/last.out" >&2; exit 1; }
  read -r secs kib < "$work/run/time"
  echo "$name|$step|$secs|$kib" >> "$work/run/results"
  echo "scale-bench: $name $step: $secs s, $((kib / 1024)) MiB" >&2
}

od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$work/key" && chmod 600 "$work/key"
"${cairn[@]}" --password-file "$work/pw" init > /dev/null
"${cairn[@]}" --password-file "$work/pw" key add --new-key-file "$work/key" > /dev/null
for t in "${tools[@]}"; do $(restic "$t" -q init) > /dev/null; done
key=(--key-file "$work/key")

for ((r = 0; r < rounds; r++)); do
  echo "scale-bench: round $((r + 1)) of $rounds: writing $files files" >&2
  if [ $r = 0 ]; then
    "$work/bin/gencorpus" -small "$data" -small-files "$files"
  else
    "$work/bin/gencorpus" -small "$data" -small-files "$files" -small-version "$r" -small-all
  fi
  measure cairn "snapshot $((r + 1))" "${cairn[@]}" "${key[@]}" snapshot -q "$data"
  for t in "${tools[@]}"; do measure "restic $(ver "$t")" "snapshot $((r + 1))" $(restic "$t" -q backup "$data"); done
done

measure cairn "unchanged snapshot" "${cairn[@]}" "${key[@]}" snapshot -q "$data"
measure "cairn password" "unchanged snapshot" "${cairn[@]}" --password-file "$work/pw" snapshot -q "$data"
for t in "${tools[@]}"; do measure "restic $(ver "$t")" "unchanged snapshot" $(restic "$t" -q backup "$data"); done
blobs=$("${cairn[@]}" "${key[@]}" stats --mode raw-data --json | grep -o '"repository_blobs":[0-9]*' | cut -d: -f2)
rm -rf "$data" # the repositories are all that is read from here on

measure cairn "check" "${cairn[@]}" "${key[@]}" check
measure "cairn password" "check" "${cairn[@]}" --password-file "$work/pw" check
for t in "${tools[@]}"; do measure "restic $(ver "$t")" "check" $(restic "$t" check); done
measure cairn "check --read-data" "${cairn[@]}" "${key[@]}" check --read-data
for t in "${tools[@]}"; do measure "restic $(ver "$t")" "check --read-data" $(restic "$t" check --read-data); done

keep=$((rounds / 2))
measure cairn "forget --keep-last $keep" "${cairn[@]}" "${key[@]}" forget -q --keep-last "$keep"
for t in "${tools[@]}"; do measure "restic $(ver "$t")" "forget --keep-last $keep" $(restic "$t" -q forget --keep-last "$keep"); done
measure cairn "prune --instant-delete" "${cairn[@]}" "${key[@]}" prune --instant-delete
for t in "${tools[@]}"; do measure "restic $(ver "$t")" "prune" $(restic "$t" prune); done
"${cairn[@]}" "${key[@]}" check > "$work/run/check.out" || { cat "$work/run/check.out" >&2; exit 1; }

size() { du -sm "$1" | cut -f1; }
{
  echo "a repository of $blobs blobs ($rounds rounds of $files new data blobs), $(nproc) cores; snapshot N goes into a repository of (N-1) x $files blobs"
  echo
  echo "| tool | step | seconds | peak RSS MiB |"
  echo "|---|---|---:|---:|"
  while IFS='|' read -r name step secs kib; do
    printf '| %s | %s | %.2f | %d |\n' "$name" "$step" "$secs" "$((kib / 1024))"
  done < "$work/run/results"
  echo
  echo "after prune: cairn $(size "$repos/cairn/data") MiB; $(for t in "${tools[@]}"; do printf 'restic %s %s MiB; ' "$(ver "$t")" "$(size "$repos/restic-$(ver "$t")/data")"; done)"
}
