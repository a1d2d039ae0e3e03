#!/usr/bin/env bash
# The whole test suite: formatting, vet, the layering check, unit and
# end-to-end tests with the race detector, against a real S3-compatible
# server that this script starts (and stops when it ends).
#
#   CAIRN_S3_SCRIPTS  folder holding start-s3.sh/stop-s3.sh (default ../shared/s3)
#   CAIRN_SKIP_S3=1   run without S3 (local use only: S3 tests then skip loudly)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CAIRN_SKIP_S3:-}" != 1 ]; then
  s3=${CAIRN_S3_SCRIPTS:-../shared/s3}
  if [ ! -x "$s3/start-s3.sh" ]; then
    echo "test: no S3 server scripts at $s3; set CAIRN_S3_SCRIPTS, or CAIRN_SKIP_S3=1 to skip the S3 tests" >&2
    exit 1
  fi
  eval "$("$s3/start-s3.sh")"
  trap '"$s3/stop-s3.sh" >/dev/null 2>&1 || true' EXIT
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test: gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -timeout 25m ./...
