#!/usr/bin/env bash
# start-s3.sh: build (once) and start an S3-compatible server for the S3
# tests: versitygw (Versity S3 Gateway, Apache-2.0) with its POSIX backend,
# plain HTTP on 127.0.0.1, keeping its data in a fresh temporary folder.
#
# Usage:
#   eval "$(scripts/start-s3.sh)"       # start (or reuse) and export S3_* and AWS_* vars
#   scripts/start-s3.sh --install-only  # only build it into the cache
#   scripts/stop-s3.sh                  # stop it and delete its data
#
# stdout carries only `export NAME=value` lines; progress and errors go to
# stderr. Running it again while the server is up prints the same lines.
# No bucket exists at start: each test makes its own (init --create-bucket).
#
# Settings (environment):
#   S3_PORT                   listen on this port (default: a free one); the
#                             state folder then ends in -PORT, so give
#                             stop-s3.sh the same S3_PORT
#   S3_ACCESS_KEY             access key (default s3test)
#   S3_SECRET_KEY             secret key (default s3test-secret-key)
#   S3_REGION                 region (default us-east-1)
#   VERSITYGW_VERSION         module version to build (default v1.8.0)
#   S3_CACHE_DIR              where the built binary is kept
#                             (default ${CAIRN_TEST_CACHE:-${XDG_CACHE_HOME:-~/.cache}/cairn-test}/s3)
#   CAIRN_EMULATOR_STATE_DIR  pid, port, log and data of the instance
#                             (default ${TMPDIR:-/tmp}/cairn-s3-<uid>[-PORT])
#   EMU_START_TIMEOUT         seconds to wait for it to answer (default 60)
# Needs go on PATH; the build uses the normal Go caches and the module proxy.
set -euo pipefail
EMU_NAME=s3
EMU_MATCH=versitygw
if [ -n "${S3_PORT:-}" ] && [ -z "${CAIRN_EMULATOR_STATE_DIR:-}" ]; then
  CAIRN_EMULATOR_STATE_DIR=${TMPDIR:-/tmp}/cairn-s3-$(id -u)-$S3_PORT
fi
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
MODULE=github.com/versity/versitygw/cmd/versitygw
S3_ACCESS_KEY=${S3_ACCESS_KEY:-s3test}
S3_SECRET_KEY=${S3_SECRET_KEY:-s3test-secret-key}
S3_REGION=${S3_REGION:-us-east-1}
EMU_CACHE=${S3_CACHE_DIR:-$EMU_CACHE}

case "${1:-}" in
  "" | --install-only) ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac
if [ -n "${S3_PORT:-}" ] && ! [[ $S3_PORT =~ ^[0-9]+$ ]]; then
  die "S3_PORT must be a number, got '$S3_PORT'"
fi

dir=$EMU_CACHE/versitygw-$VERSITYGW_VERSION
bin=$dir/versitygw

install_versitygw() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null 2>&1 || die "go is not on PATH; it is needed to build versitygw"
  log "building versitygw $VERSITYGW_VERSION into $dir (first run only: about 3 minutes on 2 cores with empty Go caches)"
  local tmp start=$SECONDS
  rm -rf "$EMU_CACHE"/.build.* # left by an interrupted build (we hold the lock)
  tmp=$(mktemp -d "$EMU_CACHE/.build.XXXXXX")
  # Outside any module or workspace, with flags of our own, so that the
  # caller's go.mod, go.work and GOFLAGS do not change what is built.
  if ! (cd "$tmp" && env GOBIN="$tmp" GOFLAGS=-buildvcs=false GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
      go install -trimpath -ldflags "-s -w -X main.Version=$VERSITYGW_VERSION" "$MODULE@$VERSITYGW_VERSION" >&2); then
    rm -rf "$tmp"
    die "go install $MODULE@$VERSITYGW_VERSION failed"
  fi
  mkdir -p "$dir"
  mv -f "$tmp/versitygw" "$bin"
  rm -rf "$tmp"
  log "built in $((SECONDS - start)) s"
}

mkdir -p "$EMU_CACHE"
with_lock "$EMU_CACHE/.install.lock" install_versitygw
[ -x "$bin" ] || die "versitygw missing after build: $bin"
[ "${1:-}" = --install-only ] && { log "installed: $bin"; exit 0; }

# answers PORT: true when an HTTP server answers on the port (any status:
# 403 is what S3 says to an unsigned request).
answers() {
  local line=""
  { exec 3<>"/dev/tcp/$EMU_HOST/$1"; } 2>/dev/null || return 1
  printf 'GET / HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$EMU_HOST" "$1" >&3 2>/dev/null || true
  IFS= read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ $line == HTTP/* ]]
}

# launch PORT ARGS...: start versitygw on PORT, logging to server.log.
# Credentials go through the environment, not argv (ps shows argv); fd 9
# (the lock) is closed so that the server does not hold it.
launch() {
  local port=$1; shift
  ROOT_ACCESS_KEY=$S3_ACCESS_KEY ROOT_SECRET_KEY=$S3_SECRET_KEY VGW_REGION=$S3_REGION \
    nohup "$bin" --port "$EMU_HOST:$port" --quiet posix "$@" \
    </dev/null >>"$EMU_STATE/server.log" 2>&1 9>&- &
  LAUNCHED_PID=$!
}

# serve: start versitygw on S3_PORT or on a free port (a few tries, in
# case another process takes the port first), with its metadata in
# extended attributes, or in a sidecar folder where the file system has
# none. Sets LAUNCHED_PID and LAUNCHED_PORT.
serve() {
  local data=$1 try port args=(--versioning-dir "$EMU_STATE/versions")
  mkdir -p "$EMU_STATE/versions"
  for try in 1 2 3 4 5; do
    port=${S3_PORT:-$(free_port)}
    if answers "$port"; then
      die "something else answers on $EMU_HOST:$port; choose another S3_PORT"
    fi
    launch "$port" "${args[@]}" "$data"
    local waited=0
    until answers "$port"; do
      kill -0 "$LAUNCHED_PID" 2>/dev/null || break
      if ((waited++ > EMU_START_TIMEOUT * 10)); then
        kill "$LAUNCHED_PID" 2>/dev/null || true
        die "versitygw did not answer within ${EMU_START_TIMEOUT}s (log: $EMU_STATE/server.log)"
      fi
      sleep 0.1
    done
    if kill -0 "$LAUNCHED_PID" 2>/dev/null; then
      LAUNCHED_PORT=$port
      echo "$LAUNCHED_PID" >"$EMU_STATE/pid"
      echo "$port" >"$EMU_STATE/port"
      return 0
    fi
    if grep -q xattr "$EMU_STATE/server.log" && [[ " ${args[*]} " != *" --sidecar "* ]]; then
      log "no extended attributes under $data; keeping metadata in a sidecar folder"
      mkdir -p "$EMU_STATE/meta"
      args+=(--sidecar "$EMU_STATE/meta")
    elif [ -n "${S3_PORT:-}" ]; then
      break
    else
      log "start on port $port failed (try $try); retrying on another port"
    fi
  done
  tail -n 20 "$EMU_STATE/server.log" >&2 || true
  die "versitygw exited during start-up (log: $EMU_STATE/server.log)"
}

start_s3() {
  running && return 0
  fresh_state
  local started=$SECONDS state
  state=$(cd "$EMU_STATE" && pwd -P) # versitygw wants absolute paths
  EMU_STATE=$state
  serve "$state/data"
  local endpoint=$EMU_HOST:$LAUNCHED_PORT
  cat >"$EMU_STATE/env" <<ENV
export S3_ENDPOINT=$endpoint
export S3_ENDPOINT_URL=http://$endpoint
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_REGION=$S3_REGION
export S3_USE_SSL=false
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_REGION=$S3_REGION
export S3_SERVER_PID=$LAUNCHED_PID
export S3_SERVER_DIR=$EMU_STATE
export S3_DATA_DIR=$EMU_STATE/data
ENV
  log "versitygw $VERSITYGW_VERSION up on http://$endpoint (pid $LAUNCHED_PID, $((SECONDS - started)) s)"
  cat "$EMU_STATE/env"
}

mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" start_s3
