#!/usr/bin/env bash
# S3 benchmarks on loopback (versitygw from scripts/start-s3.sh), cairn beside
# restic where restic has the same operation, printed as a Markdown table:
#
#   - snapshot and restore throughput of a corpus into/from an S3 repository
#   - one-file dump latency and request count from that repository
#   - one-file dump with an empty cache (cold), and with a warm one
#   - check --read-data of the S3 repository
#   - sync of a local repository to an empty S3 prefix, beside restic copy
#
#   bench/s3.sh [WORKDIR]        default ${TMPDIR:-/tmp}/cairn-s3-bench
#
# LATENCY_MS=30 puts bench/delayproxy in front of the server, delaying
# every chunk by half of that each way: the round trip of a nearby cloud
# region, since the kernel here has no netem. RESTIC_BIN picks restic.
#
# The corpus (made once, kept in WORKDIR/corpus) is one mixed binary file of
# BIN_SIZE bytes (default 1 GiB: about half compressible) plus a small
# config file that dump reads. Needs about 5x BIN_SIZE free disk (server
# data, restores, a local repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-s3-bench}
bin_size=${BIN_SIZE:-$((1 << 30))}
s3=${CAIRN_S3_SCRIPTS:-$root/scripts}
eval "$("$s3/start-s3.sh")"
mkdir -p "$work/corpus"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
go build -o "$work/delayproxy" "$root/bench/delayproxy"
restic_bin=${RESTIC_BIN:-restic}
latency=${LATENCY_MS:-0}
data=$work/corpus/data
mkdir -p "$data/etc"
[ -f "$data/mixed.bin" ] && [ "$(stat -c %s "$data/mixed.bin")" = "$bin_size" ] ||
  "$work/gencorpus" -binary "$data/mixed.bin" -binary-size "$bin_size"
printf 'listen = 8080\nworkers = 4\n' > "$data/etc/app.conf"
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
export RESTIC_PASSWORD_FILE=$work/pw AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
bucket=cairn-bench-$(date +%s)
ep=http://$S3_ENDPOINT
proxy_pid=
trap '[ -n "$proxy_pid" ] && kill "$proxy_pid" 2> /dev/null; true' EXIT
if [ "$latency" != 0 ]; then
  half=$(awk -v l="$latency" 'BEGIN { printf "%.1fms", l / 2 }')
  "$work/delayproxy" -to "$S3_ENDPOINT" -delay "$half" > "$work/proxy.addr" &
  proxy_pid=$!
  for _ in $(seq 50); do [ -s "$work/proxy.addr" ] && break; sleep 0.1; done
  ep=http://$(cat "$work/proxy.addr")
fi
run=$work/run
rm -rf "$run" && mkdir -p "$run"
cairn=("$work/cairn" --password-file "$work/pw" --cache-dir "$run/cairn-cache")
restic=("$restic_bin" -q --cache-dir "$run/restic-cache" -o s3.bucket-lookup=path)
mib=$(awk -v b="$bin_size" 'BEGIN { printf "%.0f", b / 1048576 }')
cat "$data/mixed.bin" > /dev/null # a warm page cache for both tools

# secs CMD...: runs CMD quietly and prints its wall time in seconds. It
# first waits for earlier writes to reach the disk and (as root, unless
# FRESH_CACHE=0) empties the page cache and reads the corpus back, so
# that every step starts from the same memory state: on this VM a tool
# that writes a GiB right after another one's GiB was deleted paid twice
# the system time, which made the order of the tools decide the result.
secs() {
  local t0 t1
  sync
  if [ "${FRESH_CACHE:-1}" = 1 ] && [ -w /proc/sys/vm/drop_caches ]; then
    echo 1 > /proc/sys/vm/drop_caches
    cat "$data/mixed.bin" > /dev/null
  fi
  t0=$(date +%s.%N)
  if ! "$@" > "$run/out" 2> "$run/err"; then
    echo "s3.sh: failed: $*" >&2; cat "$run/err" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
rate() { awk -v m="$mib" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? m / s : 0) }'; }

"${cairn[@]}" -r "s3:$ep/$bucket/cairn" init --create-bucket > /dev/null
"${restic[@]}" -r "s3:$ep/$bucket/restic" init > /dev/null

cs=$(secs "${cairn[@]}" -r "s3:$ep/$bucket/cairn" snapshot "$data")
cairn_snap_req=$(grep '^storage:' "$run/out" | sed 's/^storage: //')
rs=$(secs "${restic[@]}" -r "s3:$ep/$bucket/restic" backup "$data")
cr=$(secs "${cairn[@]}" -r "s3:$ep/$bucket/cairn" restore latest --target "$run/cairn-out")
cmp "$data/mixed.bin" "$run/cairn-out$data/mixed.bin"
rm -rf "$run/cairn-out"
rr=$(secs "${restic[@]}" -r "s3:$ep/$bucket/restic" restore latest --target "$run/restic-out")
rm -rf "$run/restic-out"

# dump: the second run of each, with warm caches (the first fills them).
secs "${cairn[@]}" -r "s3:$ep/$bucket/cairn" dump latest "$data/etc/app.conf" > /dev/null
cd_=$(secs "${cairn[@]}" -v -r "s3:$ep/$bucket/cairn" dump latest "$data/etc/app.conf")
cmp "$run/out" "$data/etc/app.conf"
dump_req=$(grep '^storage:' "$run/err" | sed 's/^storage: //')
secs "${restic[@]}" -r "s3:$ep/$bucket/restic" dump latest "$data/etc/app.conf" > /dev/null
rd=$(secs "${restic[@]}" -r "s3:$ep/$bucket/restic" dump latest "$data/etc/app.conf")

# dump with an empty cache: what an operator's first command costs.
rm -rf "$run/cairn-cold"
cdc=$(secs "$work/cairn" --password-file "$work/pw" --cache-dir "$run/cairn-cold" -r "s3:$ep/$bucket/cairn" dump latest "$data/etc/app.conf")
cmp "$run/out" "$data/etc/app.conf"
rm -rf "$run/restic-cold"
rdc=$(secs "$restic_bin" -q --cache-dir "$run/restic-cold" -o s3.bucket-lookup=path -r "s3:$ep/$bucket/restic" dump latest "$data/etc/app.conf")

# check --read-data of the whole S3 repository.
cc=$(secs "${cairn[@]}" -r "s3:$ep/$bucket/cairn" check --read-data)
rc=$(secs "${restic[@]}" -r "s3:$ep/$bucket/restic" check --read-data)

# sync: a local repository of the same data to an empty S3 prefix; restic
# has no sync, and its copy to a new S3 repository is the nearest step.
"${cairn[@]}" -r "$run/local" init > /dev/null
"${cairn[@]}" -r "$run/local" snapshot "$data" > /dev/null
repo_mib=$(du -sm "$run/local" | cut -f1)
ss=$(secs "${cairn[@]}" -r "$run/local" sync --to "s3:$ep/$bucket/synced")
sync_req=$(grep '^storage:' "$run/out" | sed 's/^storage: //')
"${restic[@]}" -r "$run/restic-local" init > /dev/null
"${restic[@]}" -r "$run/restic-local" backup "$data" > /dev/null
"${restic[@]}" -r "s3:$ep/$bucket/restic-copy" init --copy-chunker-params --from-repo "$run/restic-local" \
  --from-password-file "$work/pw" > /dev/null
rcopy=$(secs "${restic[@]}" -r "s3:$ep/$bucket/restic-copy" copy --from-repo "$run/restic-local" --from-password-file "$work/pw")
sync_rate=$(awk -v m="$repo_mib" -v s="$ss" 'BEGIN { printf "%.0f", (s > 0 ? m / s : 0) }')
"${cairn[@]}" -r "s3:$ep/$bucket/synced" restore latest --target "$run/synced-out" > /dev/null
cmp "$data/mixed.bin" "$run/synced-out$data/mixed.bin"
rm -rf "$run/synced-out"

echo
where="versitygw on loopback"
[ "$latency" != 0 ] && where="versitygw behind a ${latency} ms round trip (bench/delayproxy)"
echo "cairn $("$work/cairn" --version | awk '{print $3}'), $("$restic_bin" version | cut -d' ' -f1-2), $where, $(nproc) cores, corpus $mib MiB"
echo
echo "| step | cairn | restic |"
echo "|---|---:|---:|"
echo "| snapshot to S3 | $cs s ($(rate "$cs") MiB/s) | $rs s ($(rate "$rs") MiB/s) |"
echo "| restore from S3 | $cr s ($(rate "$cr") MiB/s) | $rr s ($(rate "$rr") MiB/s) |"
echo "| dump one small file (warm cache) | $cd_ s | $rd s |"
echo "| dump one small file (empty cache) | $cdc s | $rdc s |"
echo "| check --read-data | $cc s | $rc s |"
echo "| sync local → S3 ($repo_mib MiB repository; restic: copy) | $ss s ($sync_rate MiB/s) | $rcopy s |"
echo
echo "cairn requests: snapshot: $cairn_snap_req"
echo "cairn requests: dump: $dump_req"
echo "cairn requests: sync: $sync_req"
