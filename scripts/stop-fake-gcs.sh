#!/usr/bin/env bash
# stop-fake-gcs.sh: stop the fake-gcs-server that start-fake-gcs.sh started and
# delete its state (CAIRN_EMULATOR_KEEP=1 keeps the folder and its log).
# Call it with the same CAIRN_EMULATOR_STATE_DIR and TMPDIR as the start.
set -euo pipefail
EMU_NAME=fake-gcs
EMU_MATCH=fake-gcs-server
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"
mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" stop_instance
