# shellcheck shell=bash
# Helpers shared by the emulator scripts (start-azurite.sh, start-fake-gcs.sh
# and their stop-*.sh counterparts). Source it after setting:
#   EMU_NAME   short name used in messages and folder names ("azurite")
#   EMU_MATCH  a word of the server's command line, to recognise its process
# It defines EMU_CACHE (where installs are kept) and EMU_STATE (pid, log,
# env and data of the running instance), both overridable through
# CAIRN_TEST_CACHE and CAIRN_EMULATOR_STATE_DIR.

cache_base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
EMU_CACHE=${CAIRN_TEST_CACHE:-${cache_base:-${TMPDIR:-/tmp}}/cairn-test}/$EMU_NAME
EMU_STATE=${CAIRN_EMULATOR_STATE_DIR:-${TMPDIR:-/tmp}/cairn-$EMU_NAME-$(id -u)}
EMU_HOST=127.0.0.1
EMU_START_TIMEOUT=${EMU_START_TIMEOUT:-60}

log() { printf '%s: %s\n' "$EMU_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# with_lock FILE CMD...: run CMD holding an exclusive lock on FILE.
with_lock() {
  local file=$1; shift
  if command -v flock >/dev/null 2>&1; then
    ( flock -w 900 9 || die "timed out waiting for lock $file"; "$@" ) 9>"$file"
  else
    "$@"
  fi
}

# listening PORT: true when something accepts TCP connections on the port.
listening() {
  { exec 3<>"/dev/tcp/$EMU_HOST/$1"; } 2>/dev/null || return 1
  exec 3<&- 3>&-
}

# free_port: print a port on 127.0.0.1 that nothing listens on. Bash cannot
# bind, so it draws ports at random and skips busy ones; the caller retries
# with another port if the server then fails to bind.
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    listening "$p" || { echo "$p"; return 0; }
  done
  die "found no free port on $EMU_HOST after 50 tries"
}

# ours PID: true when PID is a live process of this emulator.
ours() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$EMU_MATCH"
}

# running: true when the recorded instance is alive and answers; it then
# prints its env lines.
running() {
  local pid="" port=""
  [ -f "$EMU_STATE/pid" ] && pid=$(cat "$EMU_STATE/pid")
  [ -f "$EMU_STATE/port" ] && port=$(cat "$EMU_STATE/port")
  ours "$pid" && [ -n "$port" ] && [ -f "$EMU_STATE/env" ] || return 1
  wait_listening "$pid" "$port" || return 1
  log "already running (pid $pid) on $EMU_HOST:$port"
  cat "$EMU_STATE/env"
}

# wait_listening PID PORT: wait until PORT answers, while PID lives.
wait_listening() {
  local waited=0
  until listening "$2"; do
    kill -0 "$1" 2>/dev/null || return 1
    ((waited++ < EMU_START_TIMEOUT * 10)) || return 1
    sleep 0.1
  done
}

# fresh_state: an empty state folder that only these scripts delete (it
# holds a .cairn-emulator marker).
fresh_state() {
  if [ -e "$EMU_STATE" ] && [ ! -e "$EMU_STATE/.cairn-emulator" ] &&
    [ -n "$(ls -A "$EMU_STATE" 2>/dev/null)" ]; then
    die "$EMU_STATE exists, is not empty and was not made by this script"
  fi
  rm -rf "$EMU_STATE"
  mkdir -p "$EMU_STATE/data"
  chmod 700 "$EMU_STATE"
  : >"$EMU_STATE/.cairn-emulator"
}

# launch_on_free_port CMD...: start CMD (in the background, logging to
# server.log) with "{PORT}" in its arguments replaced by a free port, and
# wait until it listens; a few ports are tried in case one was taken.
# Sets LAUNCHED_PID and LAUNCHED_PORT.
launch_on_free_port() {
  local try port args a
  for try in 1 2 3 4 5; do
    port=$(free_port)
    args=()
    for a in "$@"; do args+=("${a//\{PORT\}/$port}"); done
    nohup "${args[@]}" </dev/null >>"$EMU_STATE/server.log" 2>&1 9>&- &
    LAUNCHED_PID=$!
    if wait_listening "$LAUNCHED_PID" "$port"; then
      LAUNCHED_PORT=$port
      echo "$LAUNCHED_PID" >"$EMU_STATE/pid"
      echo "$port" >"$EMU_STATE/port"
      return 0
    fi
    if kill -0 "$LAUNCHED_PID" 2>/dev/null; then
      kill "$LAUNCHED_PID" 2>/dev/null || true
      tail -n 20 "$EMU_STATE/server.log" >&2 || true
      die "$EMU_NAME did not answer within ${EMU_START_TIMEOUT}s (log: $EMU_STATE/server.log)"
    fi
    log "start on port $port failed (try $try); retrying on another port"
  done
  tail -n 20 "$EMU_STATE/server.log" >&2 || true
  die "$EMU_NAME exited during start-up (log: $EMU_STATE/server.log)"
}

# stop_instance: stop the recorded instance and delete its state folder
# (kept with CAIRN_EMULATOR_KEEP=1). Stopping nothing is not an error.
stop_instance() {
  local pid=""
  [ -f "$EMU_STATE/pid" ] && pid=$(cat "$EMU_STATE/pid")
  if ours "$pid"; then
    kill "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped pid $pid"
  else
    log "no $EMU_NAME running for $EMU_STATE"
  fi
  [ -e "$EMU_STATE/.cairn-emulator" ] || return 0
  if [ "${CAIRN_EMULATOR_KEEP:-0}" = 1 ]; then
    rm -f "$EMU_STATE/pid" "$EMU_STATE/env"
    log "kept $EMU_STATE"
  else
    rm -rf "$EMU_STATE"
  fi
}
