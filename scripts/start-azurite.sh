#!/usr/bin/env bash
# start-azurite.sh: install (once) and start Azurite, the Azure Storage
# emulator, for the Azure tests: its blob service only, on a free port of
# 127.0.0.1, keeping its data in a fresh temporary folder.
#
# Usage:
#   eval "$(scripts/start-azurite.sh)"       # start (or reuse) and export AZURITE_* vars
#   scripts/start-azurite.sh --install-only  # only install it into the cache
#   scripts/stop-azurite.sh                  # stop it and delete its data
#
# stdout carries only `export NAME=value` lines; progress and errors go to
# stderr. Running it again while the server is up prints the same lines.
#
# Settings (environment):
#   AZURITE_VERSION           npm version to install (default 3.37.0)
#   CAIRN_TEST_CACHE          install cache (default ${XDG_CACHE_HOME:-~/.cache}/cairn-test)
#   CAIRN_EMULATOR_STATE_DIR  pid, port, log and data of the instance
#                             (default ${TMPDIR:-/tmp}/cairn-azurite-<uid>)
#   EMU_START_TIMEOUT         seconds to wait for it to answer (default 60)
# Needs node and npm (Debian: apt-get install nodejs npm).
set -euo pipefail
EMU_NAME=azurite
EMU_MATCH=azurite-blob
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"

AZURITE_VERSION=${AZURITE_VERSION:-3.37.0}
# Azurite's well-known development account (public, documented by Microsoft).
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

case "${1:-}" in
  "" | --install-only) ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

dir=$EMU_CACHE/azurite-$AZURITE_VERSION
bin=$dir/node_modules/.bin/azurite-blob

install_azurite() {
  [ -x "$bin" ] && return 0
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install Node.js 18 or later with npm (Debian: apt-get install nodejs npm)"
  log "installing azurite $AZURITE_VERSION from npm into $dir (first run only)"
  local tmp start=$SECONDS
  rm -rf "$EMU_CACHE"/.install.* # left by an interrupted install (we hold the lock)
  tmp=$(mktemp -d "$EMU_CACHE/.install.XXXXXX")
  if ! npm install --prefix "$tmp" --no-audit --no-fund --omit=dev --loglevel=error \
      "azurite@$AZURITE_VERSION" >&2; then
    rm -rf "$tmp"
    die "npm install azurite@$AZURITE_VERSION failed"
  fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "installed in $((SECONDS - start)) s"
}

mkdir -p "$EMU_CACHE"
with_lock "$EMU_CACHE/.install.lock" install_azurite
[ -x "$bin" ] || die "azurite-blob missing after install: $bin"
[ "${1:-}" = --install-only ] && { log "installed: $bin"; exit 0; }

start_azurite() {
  running && return 0
  fresh_state
  local started=$SECONDS
  # --loose and --skipApiVersionCheck: the Go SDK may speak a newer API
  # version than this Azurite knows, and sends headers it ignores.
  launch_on_free_port "$bin" --blobHost "$EMU_HOST" --blobPort '{PORT}' \
    --location "$EMU_STATE/data" --loose --skipApiVersionCheck --silent
  local endpoint=http://$EMU_HOST:$LAUNCHED_PORT/$ACCOUNT
  cat >"$EMU_STATE/env" <<ENV
export AZURITE_BLOB_ENDPOINT=$endpoint
export AZURITE_ACCOUNT=$ACCOUNT
export AZURITE_KEY='$KEY'
export AZURITE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$endpoint;'
export AZURITE_PID=$LAUNCHED_PID
export AZURITE_DIR=$EMU_STATE
ENV
  log "azurite $AZURITE_VERSION up on $endpoint (pid $LAUNCHED_PID, $((SECONDS - started)) s)"
  cat "$EMU_STATE/env"
}

mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" start_azurite
