#!/usr/bin/env bash
# The long forms of the reliability suite (docs/reliability.md): the crash
# harness with at least 50 kills per writing command, the fault suite over
# 100 seeds, three writers for 300 snapshots each (local and on the S3 test
# server, which it starts), and every fuzz target for 30 s (FUZZTIME). It
# prints the totals at the end: kills survived, faults injected, snapshots
# verified, bytes lost. It takes a long while; run it on a quiet machine.
#
#   CAIRN_CRASH_SEED  seed of the random kill moments (default 1)
#   FUZZTIME          time per fuzz target (default 30s)
#   SOAK_LOG          where the full output goes (default a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."
export CAIRN_SOAK=1
fuzztime="${FUZZTIME:-30s}"
log="${SOAK_LOG:-$(mktemp -t cairn-soak.XXXXXX)}"
echo "soak: full output in $log"

eval "$(scripts/start-s3.sh)"

status=0
go test -count=1 -timeout 0 -run 'TestCrashEveryCommand|TestConcurrentWriters' -v ./cmd/cairn >>"$log" 2>&1 || status=1
go test -count=1 -timeout 0 -run 'TestFaultSeeds' -v ./internal/faultsuite >>"$log" 2>&1 || status=1

fuzzed=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  echo "fuzz $pkg $name" >>"$log"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >>"$log" 2>&1 || status=1
  fuzzed=$((fuzzed + 1))
done < <(grep -rho --include='*_test.go' -H '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //')

# Totals from the lines the tests log (none, when a test stopped first).
sum() { { grep -oE "$1" "$log" || true; } | awk -v f="$2" '{s += $f} END {print s + 0}'; }
kills=$(sum 'crash: [a-z-]*: [0-9]* kills survived' 3)
verified=$(sum '[0-9]+ snapshots verified' 1)
faults=$(sum 'faults: [0-9]+ seeds, [0-9]+ faults injected' 4)
lost=$(sum '[0-9]+ bytes lost' 1)
grep -E 'crash: |faults: |writers × ' "$log" | sed 's/^ *[a-z_]*\.go:[0-9]*: /  /' || true
echo "soak: kills survived $kills, faults injected $faults, snapshots verified $verified, bytes lost $lost; $fuzzed fuzz targets for $fuzztime each"
if [ "$status" -ne 0 ]; then
  echo "soak: FAILED (see $log)"
  grep -E '^(--- FAIL|FAIL|panic)' "$log" | head -20 || true
fi
exit "$status"
