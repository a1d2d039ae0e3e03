#!/usr/bin/env bash
# Object-store benchmarks on loopback: snapshot, restore and check
# --read-data of one corpus through each emulator (versitygw for S3,
# Azurite for Azure, fake-gcs-server for GCS), with the request counts that
# cairn reports, printed as a Markdown table.
#
#   bench/cloud.sh [WORKDIR]     default ${TMPDIR:-/tmp}/cairn-cloud-bench
#
# The corpus (made once, kept in WORKDIR/corpus) is one mixed binary file of
# BIN_SIZE bytes (default 300 MiB: about half compressible). The emulators
# keep objects in memory (fake-gcs-server) or in a temporary folder, so the
# figures measure cairn, the SDKs and the emulators on one machine, not a
# cloud's network. CAIRN_S3_SCRIPTS names the S3 server's scripts (default
# scripts/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-cloud-bench}
bin_size=${BIN_SIZE:-$((300 << 20))}
s3=${CAIRN_S3_SCRIPTS:-$root/scripts}
# The emulators hold the benchmark's data: stop them at the end, as
# scripts/test.sh does.
trap '"$s3/stop-s3.sh" >/dev/null 2>&1; "$root/scripts/stop-azurite.sh" >/dev/null 2>&1; "$root/scripts/stop-fake-gcs.sh" >/dev/null 2>&1' EXIT
eval "$("$s3/start-s3.sh")"
eval "$("$root/scripts/start-azurite.sh")"
eval "$("$root/scripts/start-fake-gcs.sh")"
export AZURE_STORAGE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING GOOGLE_CLOUD_PROJECT=cairn-bench
mkdir -p "$work/corpus"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
data=$work/corpus/data
mkdir -p "$data"
[ -f "$data/mixed.bin" ] && [ "$(stat -c %s "$data/mixed.bin")" = "$bin_size" ] ||
  "$work/gencorpus" -binary "$data/mixed.bin" -binary-size "$bin_size"
echo "benchmark password" > "$work/pw" && chmod 600 "$work/pw"
run=$work/run
rm -rf "$run" && mkdir -p "$run"
mib=$(awk -v b="$bin_size" 'BEGIN { printf "%.0f", b / 1048576 }')
cat "$data/mixed.bin" > /dev/null # a warm page cache

# secs CMD...: runs CMD and prints its wall time in seconds; its output
# stays in $run/out.
secs() {
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$@" > "$run/out" 2> "$run/err"; then
    echo "cloud.sh: failed: $*" >&2; cat "$run/err" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
rate() { awk -v m="$mib" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? m / s : 0) }'; }
requests() { grep '^storage:' "$run/out" | sed 's/^storage: //; s/, [0-9.]* [KMG]*i*B up, [0-9.]* [KMG]*i*B down//'; }

bucket=cairn-bench-$(date +%s)
echo "| store | snapshot | restore | check --read-data | snapshot requests | restore requests |"
echo "|---|---:|---:|---:|---|---|"
for repo in "$run/local" "s3:http://$S3_ENDPOINT/$bucket/r" "azure:devstoreaccount1/$bucket/r" "gs:$bucket/r"; do
  cairn=("$work/cairn" -r "$repo" --password-file "$work/pw" --cache-dir "$run/cache-${repo%%:*}")
  "${cairn[@]}" init --create-bucket > /dev/null
  s=$(secs "${cairn[@]}" snapshot "$data")
  sreq=$(requests)
  r=$(secs "${cairn[@]}" restore latest --target "$run/out-${repo%%:*}")
  rreq=$(requests)
  cmp "$data/mixed.bin" "$run/out-${repo%%:*}$data/mixed.bin"
  rm -rf "$run/out-${repo%%:*}"
  c=$(secs "${cairn[@]}" check --read-data)
  name=${repo%%:*}
  [ "$name" = "$repo" ] && name=local
  echo "| $name | ${s} s ($(rate "$s") MiB/s) | ${r} s ($(rate "$r") MiB/s) | ${c} s | $sreq | $rreq |"
done
echo
echo "corpus: ${mib} MiB, one mixed binary file; $(nproc) cores; $(date -u +%F)"
