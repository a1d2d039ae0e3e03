#!/usr/bin/env bash
# Prints the speed ceilings that cairn's own stage benchmarks imply for this
# machine's cores: what each command could reach if every core did nothing
# but its stages, with no waiting, scheduling or start-up. A measured time
# beside its ceiling says how much is left to win, and a target above the
# ceiling cannot be met without making a stage itself cheaper.
#
#   bench/ceiling.sh
#
# From `go test ./repo -bench Stage` (ns per byte of file data, the best of
# three runs of each stage, summed over the stages a command runs, divided
# over the cores; logs and random data):
#   first snapshot  read, chunk, blob id, content hash, compress (fastest),
#                   seal, verify (open, decompress, hash again); one big
#                   file is also bounded by its one chunker lane (read, chunk)
#   restore, dump   open, decompress, hash (the "verify" stage), write
#   check --read-data  open, decompress, hash
#   hashed only     read and content hash: a grown file's old bytes, a
#                   renamed or copied file
# and from `go test ./crypto -bench KDF` the time a password adds to every
# command (argon2id, 64 MiB, 3 passes, 4 lanes). A day-2 snapshot's ceiling
# is its hashed-only bytes at the hashed-only rate plus its chunked bytes at
# the first-snapshot rate (the snapshot summary prints both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cores=$(nproc)

stages=$(go test ./repo -run '^$' -bench 'Stage/(read|chunk|blobid|contenthash|compress-fastest|seal|verify|write)/' -benchtime 3x -count 3 2>/dev/null)
kdf=$(go test ./crypto -run '^$' -bench '^BenchmarkKDF$' -benchtime 5x -count 3 2>/dev/null |
  awk '/^BenchmarkKDF/ { if (!best || $3 < best) best = $3 } END { printf "%.2f", best / 1e9 }')

echo "ceilings for $cores cores, from go test ./repo -bench Stage (MB/s of file data; logs, random data):"
awk -v cores="$cores" '
  /MB\/s/ {
    split($1, p, "/"); stage = p[2]; set = p[3]; sub(/-[0-9]+$/, "", set)
    for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s" && (!((stage, set) in ns) || 1000 / $i < ns[stage, set])) ns[stage, set] = 1000 / $i
    sets[set] = 1
  }
  function rate(list, n,   s, i, k, t) {
    n = split(list, s, " ")
    for (k in sets) {
      t = 0
      for (i = 1; i <= n; i++) t += ns[s[i], k]
      r[k] = cores * 1000 / t
    }
  }
  function line(name, list,   out) {
    rate(list)
    printf "  %-19s logs %4.0f, random %4.0f\n", name, r["logs"], r["random"]
  }
  END {
    line("first snapshot", "read chunk blobid contenthash compress-fastest seal verify")
    for (k in sets) { lane[k] = 1000 / (ns["read", k] + ns["chunk", k]); if (lane[k] > r[k]) lane[k] = r[k] }
    printf "  %-19s logs %4.0f, random %4.0f (its chunker lane: read and chunk on one core)\n", "one big file", lane["logs"], lane["random"]
    line("restore, dump", "verify write")
    line("check --read-data", "verify")
    line("hashed only", "read contenthash")
  }' <<< "$stages"
echo "  a password adds     $kdf s (go test ./crypto -bench KDF)"
