#!/usr/bin/env bash
# start-fake-gcs.sh: build (once) and start fake-gcs-server, a Google Cloud
# Storage emulator, for the GCS tests: plain HTTP on a free port of
# 127.0.0.1, objects kept in memory.
#
# Usage:
#   eval "$(scripts/start-fake-gcs.sh)"       # start (or reuse) and export STORAGE_EMULATOR_HOST
#   scripts/start-fake-gcs.sh --install-only  # only build it into the cache
#   scripts/stop-fake-gcs.sh                  # stop it
#
# stdout carries only `export NAME=value` lines; progress and errors go to
# stderr. Running it again while the server is up prints the same lines.
#
# Settings (environment):
#   FAKE_GCS_VERSION          module version to build (default v1.56.1)
#   CAIRN_TEST_CACHE          build cache (default ${XDG_CACHE_HOME:-~/.cache}/cairn-test)
#   CAIRN_EMULATOR_STATE_DIR  pid, port and log of the instance
#                             (default ${TMPDIR:-/tmp}/cairn-fake-gcs-<uid>)
#   EMU_START_TIMEOUT         seconds to wait for it to answer (default 60)
# Needs go on PATH; the build uses the normal Go caches and the module proxy.
set -euo pipefail
EMU_NAME=fake-gcs
EMU_MATCH=fake-gcs-server
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"

FAKE_GCS_VERSION=${FAKE_GCS_VERSION:-v1.56.1}
MODULE=github.com/fsouza/fake-gcs-server

case "${1:-}" in
  "" | --install-only) ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

dir=$EMU_CACHE/fake-gcs-server-$FAKE_GCS_VERSION
bin=$dir/fake-gcs-server

# build_into DIR: go install the pinned version into DIR, outside any
# module; when go install refuses the module (replace directives), build
# it through a throw-away wrapper module in DIR.
build_into() {
  local out=$1
  if (cd "$out" && env GOBIN="$out" GOFLAGS=-buildvcs=false GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
      go install -trimpath "$MODULE@$FAKE_GCS_VERSION" >&2); then
    return 0
  fi
  log "go install refused $MODULE@$FAKE_GCS_VERSION; building through a wrapper module"
  mkdir -p "$out/wrap"
  (cd "$out/wrap" &&
    printf 'module cairn.test/fakegcswrap\n\ngo 1.24\n' >go.mod &&
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$MODULE" >tools.go &&
    env GOFLAGS=-buildvcs=false GOWORK=off GO111MODULE=on go get "$MODULE@$FAKE_GCS_VERSION" >&2 &&
    env GOFLAGS=-buildvcs=false GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$out/fake-gcs-server" "$MODULE" >&2)
}

install_fake_gcs() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build fake-gcs-server"
  log "building $MODULE $FAKE_GCS_VERSION into $dir (first run only)"
  local tmp start=$SECONDS
  rm -rf "$EMU_CACHE"/.build.* # left by an interrupted build (we hold the lock)
  tmp=$(mktemp -d "$EMU_CACHE/.build.XXXXXX")
  if ! build_into "$tmp"; then
    rm -rf "$tmp"
    die "building $MODULE@$FAKE_GCS_VERSION failed"
  fi
  mkdir -p "$dir"
  mv -f "$tmp/fake-gcs-server" "$bin"
  rm -rf "$tmp"
  log "built in $((SECONDS - start)) s"
}

mkdir -p "$EMU_CACHE"
with_lock "$EMU_CACHE/.install.lock" install_fake_gcs
[ -x "$bin" ] || die "fake-gcs-server missing after build: $bin"
[ "${1:-}" = --install-only ] && { log "installed: $bin"; exit 0; }

start_fake_gcs() {
  running && return 0
  fresh_state
  local started=$SECONDS
  # -public-host: the host the server writes into upload session URLs.
  launch_on_free_port "$bin" -scheme http -host "$EMU_HOST" -port '{PORT}' \
    -public-host "$EMU_HOST:{PORT}" -external-url "http://$EMU_HOST:{PORT}" \
    -backend memory -log-level error
  cat >"$EMU_STATE/env" <<ENV
export STORAGE_EMULATOR_HOST=$EMU_HOST:$LAUNCHED_PORT
export FAKE_GCS_PID=$LAUNCHED_PID
export FAKE_GCS_DIR=$EMU_STATE
ENV
  log "fake-gcs-server $FAKE_GCS_VERSION up on http://$EMU_HOST:$LAUNCHED_PORT (pid $LAUNCHED_PID, $((SECONDS - started)) s)"
  cat "$EMU_STATE/env"
}

mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" start_fake_gcs
