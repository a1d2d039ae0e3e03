#!/usr/bin/env bash
# A/B comparison of Go benchmarks between two commits, with benchstat:
# run it before merging a change to a hot path.
#
#   bench/ab.sh [OLD [NEW]] [-- test binary flags, such as -test.benchtime=2x]
#
#   OLD      the base (default: main's merge base with HEAD, else HEAD~1)
#   NEW      the change (default: the working tree, uncommitted edits included)
#   PKGS     packages (default: ./chunk ./crypto ./repo ./index)
#   BENCH    the -bench pattern (default: .)
#   COUNT    runs of each benchmark (default 6: benchstat needs several)
#
# Each side is built from a clean worktree of its commit, and the two run
# interleaved (old, new, old, new, …) so that machine noise hits both.
# benchstat (golang.org/x/perf, from the module proxy) prints the ratios.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
old=${1:-$(git merge-base main HEAD 2>/dev/null || git rev-parse HEAD~1)}
new=${2:-}
shift $(( $# > 2 ? 2 : $# )) || true
[ "${1:-}" = "--" ] && shift
pkgs=${PKGS:-./chunk ./crypto ./repo ./index}
bench=${BENCH:-.}
count=${COUNT:-6}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-ab.XXXXXX")
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; git worktree remove --force "$work/new" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add -q --detach "$work/old" "$old"
if [ -n "$new" ]; then
  git worktree add -q --detach "$work/new" "$new"
  newdir=$work/new
else
  newdir=$root
fi
# Test binaries, built once per side.
for side in old new; do
  dir=$work/old
  [ "$side" = new ] && dir=$newdir
  mkdir -p "$work/bin-$side"
  for p in $pkgs; do
    (cd "$dir" && go test -c -o "$work/bin-$side/$(echo "$p" | tr -c 'a-z0-9\n' _).test" "$p")
  done
done
for i in $(seq "$count"); do
  for side in old new; do
    dir=$work/old
    [ "$side" = new ] && dir=$newdir
    for p in $pkgs; do
      (cd "$dir/$p" && "$work/bin-$side/$(echo "$p" | tr -c 'a-z0-9\n' _).test" -test.run '^$' -test.bench "$bench" -test.benchmem "$@") >> "$work/$side.txt"
    done
  done
  echo "run $i of $count done" >&2
done
echo "old: $(git rev-parse --short "$old")   new: ${new:-working tree}"
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "old=$work/old.txt" "new=$work/new.txt"
