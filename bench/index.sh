#!/bin/sh
# Measures the local index cache at repository scale: builds
# bench/indexbench and runs it under /usr/bin/time -v, which reports the
# process's peak resident set (ru_maxrss, mapped file pages included).
#
#   bench/index.sh                       # 10M blobs, 1M lookups per phase
#   bench/index.sh -n 1000000 -workers 2 # any indexbench flags
#
# The cache file goes to a temporary directory (about 1.5 GB for 10M blobs)
# unless -dir is given; it is removed afterwards unless -keep is given.
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/indexbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/indexbench
out=$(mktemp)
if [ $# -eq 0 ]; then
	set -- -n 10000000 -lookups 1000000
fi
status=0
/usr/bin/time -v "$bin" "$@" 2>"$out" || status=$?
if [ "$status" -ne 0 ]; then
	cat "$out" >&2
fi
grep -E 'Maximum resident|Elapsed|Minor|Major|User time|System time' "$out" | sed 's/^\s*//'
peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out")
echo "peak RSS: $((peak / 1024)) MiB"
rm -f "$out"
exit $status
