#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, the layering check,
# unit and end-to-end tests with the race detector, against real servers
# that this script starts (and stops when it ends): an S3-compatible server
# (versitygw), Azurite (Azure Blob Storage) and fake-gcs-server (Google
# Cloud Storage). It needs Go, the Go module proxy, and node with npm (for
# Azurite); the first run builds or installs the servers into
# ~/.cache/cairn-test (see the README for how long that takes).
#
#   CAIRN_S3_SCRIPTS  folder holding another start-s3.sh/stop-s3.sh (default scripts/)
#   CAIRN_SKIP_S3=1, CAIRN_SKIP_AZURE=1, CAIRN_SKIP_GCS=1
#                     run without that server (local use only: its tests
#                     then skip loudly)
set -euo pipefail
cd "$(dirname "$0")/.."

stops=()
stop_servers() {
  local s
  for s in "${stops[@]}"; do "$s" >/dev/null 2>&1 || true; done
}
trap stop_servers EXIT

if [ "${CAIRN_SKIP_S3:-}" != 1 ]; then
  s3=${CAIRN_S3_SCRIPTS:-scripts}
  if [ ! -x "$s3/start-s3.sh" ]; then
    echo "test: no S3 server scripts at $s3; set CAIRN_S3_SCRIPTS, or CAIRN_SKIP_S3=1 to skip the S3 tests" >&2
    exit 1
  fi
  stops+=("$s3/stop-s3.sh")
  eval "$("$s3/start-s3.sh")"
fi
if [ "${CAIRN_SKIP_AZURE:-}" != 1 ]; then
  stops+=(scripts/stop-azurite.sh)
  eval "$(scripts/start-azurite.sh)"
fi
if [ "${CAIRN_SKIP_GCS:-}" != 1 ]; then
  stops+=(scripts/stop-fake-gcs.sh)
  eval "$(scripts/start-fake-gcs.sh)"
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test: gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -race -timeout 25m ./...
