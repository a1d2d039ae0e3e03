#!/usr/bin/env bash
# Jobs, the daemon and their monitoring, measured on loopback S3
# (versitygw from scripts/start-s3.sh), printed as a Markdown table:
#
#   - `cairn run JOB` of a corpus (snapshot + forget + prune): time, peak RSS
#   - the same job under `cairn daemon`: the daemon's RSS while idle after
#     its runs, and its peak over them
#   - the job with `upload_rate: 20MiB/s`: the rate it really wrote at
#   - `cairn status` from a new cache after RECORDS runs of a job whose
#     retention prunes (prune keeps the newest 100 records per job and
#     host; the first status reads them all, the next ones the cache)
#
#   bench/jobs.sh [WORKDIR]      default ${TMPDIR:-/tmp}/cairn-jobs-bench
#
# BIN_SIZE (default 256 MiB) sizes the corpus; RECORDS (default 300) the
# history. Peak RSS is /usr/bin/time -v's "Maximum resident set size".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${TMPDIR:-/tmp}/cairn-jobs-bench}
bin_size=${BIN_SIZE:-$((256 << 20))}
records=${RECORDS:-300}
eval "$("${CAIRN_S3_SCRIPTS:-$root/scripts}/start-s3.sh")"
mkdir -p "$work/corpus/data"
go build -o "$work/cairn" "$root/cmd/cairn"
go build -o "$work/gencorpus" "$root/bench/gencorpus"
data=$work/corpus/data
[ -f "$data/mixed.bin" ] && [ "$(stat -c %s "$data/mixed.bin")" = "$bin_size" ] ||
  "$work/gencorpus" -binary "$data/mixed.bin" -binary-size "$bin_size"
cat "$data/mixed.bin" > /dev/null
run=$work/run
rm -rf "$run" && mkdir -p "$run"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run/key"
chmod 600 "$run/key"
bucket=cairn-jobs-$(date +%s)
mib=$(awk -v b="$bin_size" 'BEGIN { printf "%.0f", b / 1048576 }')
config() { # config NAME [LIMITS]
  cat > "$run/$1.yaml" <<YAML
repository:
  locations:
    - url: s3:http://$S3_ENDPOINT/$bucket/$1
  key_file: $run/key
jobs:
  - name: data
    sources: [$data]
    schedule: "@every 2s"
    retention:
      keep_last: 3
      prune: true
$2
YAML
  chmod 600 "$run/$1.yaml"
}
cairn() { "$work/cairn" --cache-dir "$run/cache" "$@"; }
# peak CMD...: runs CMD under /usr/bin/time; prints "seconds KiB".
peak() {
  /usr/bin/time -v -o "$run/time" "$@" > /dev/null 2>&1
  awk -F': ' '/Elapsed/ { split($2, t, ":"); s = t[1] * 60 + t[2]; if (length(t) == 3) s = t[1] * 3600 + t[2] * 60 + t[3] }
    /Maximum resident/ { kib = $2 } END { printf "%.1f %d\n", s, kib }' "$run/time"
}

echo "| measure | value |"
echo "|---|---|"

config run ""
cairn --config "$run/run.yaml" init --create-bucket > /dev/null
read -r s kib < <(peak "$work/cairn" --cache-dir "$run/cache" --config "$run/run.yaml" run data)
echo "| cairn run, first ($mib MiB, snapshot + forget + prune) | ${s} s, $(awk -v s="$s" -v m="$mib" 'BEGIN { printf "%.0f", m / s }') MiB/s, peak RSS $((kib / 1024)) MiB |"
read -r s kib < <(peak "$work/cairn" --cache-dir "$run/cache" --config "$run/run.yaml" run data)
echo "| cairn run, unchanged | ${s} s, peak RSS $((kib / 1024)) MiB |"

config daemon ""
cairn --config "$run/daemon.yaml" init > /dev/null
/usr/bin/time -v -o "$run/daemon.time" "$work/cairn" --cache-dir "$run/cache-d" --config "$run/daemon.yaml" daemon 2> "$run/daemon.log" &
dpid=$!
for _ in $(seq 600); do
  [ "$(grep -c 'run ended' "$run/daemon.log" || true)" -ge 4 ] && break
  sleep 0.5
done
pid=$(pgrep -P "$dpid" cairn || echo "$dpid")
sleep 1
idle=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status")
kill -TERM "$pid"
wait "$dpid" || true
dpeak=$(awk -F': ' '/Maximum resident/ { print int($2 / 1024) }' "$run/daemon.time")
echo "| cairn daemon, 4 runs every 2 s | RSS between runs $idle MiB, peak $dpeak MiB |"

config limited "    limits:
      upload_rate: 20MiB/s"
cairn --config "$run/limited.yaml" init > /dev/null
cairn --config "$run/limited.yaml" --json run data > "$run/limited.json"
read -r up secs < <(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1])["run"]; import datetime as t
f=lambda s: t.datetime.fromisoformat(s.replace("Z","+00:00"))
print(d["requests"]["bytes_up"], (f(d["end"])-f(d["start"])).total_seconds())' "$run/limited.json")
echo "| upload_rate: 20MiB/s | $(awk -v u="$up" -v s="$secs" 'BEGIN { printf "%.1f MiB up in %.1f s: %.1f MiB/s", u / 1048576, s, u / 1048576 / s }') |"

# History: RECORDS runs of a tiny job, then status from a new cache.
mkdir -p "$run/tiny" && echo x > "$run/tiny/x"
sed -i "s|sources: \[$data\]|sources: [$run/tiny]|" "$run/run.yaml"
for _ in $(seq "$records"); do cairn --config "$run/run.yaml" -q run data > /dev/null; done
rm -rf "$run/fresh"
read -r s kib < <(peak "$work/cairn" --cache-dir "$run/fresh" --config "$run/run.yaml" status)
read -r s2 _ < <(peak "$work/cairn" --cache-dir "$run/fresh" --config "$run/run.yaml" status)
kept=$(find "$S3_DATA_DIR/$bucket/run/history" -type f 2>/dev/null | wc -l)
echo "| status, new cache, after $records runs ($kept records kept by prune) | ${s} s (peak RSS $((kib / 1024)) MiB); then ${s2} s from the cache |"
echo "| binary | $(du -m "$work/cairn" | cut -f1) MiB |"
