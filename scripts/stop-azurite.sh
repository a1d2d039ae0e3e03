#!/usr/bin/env bash
# stop-azurite.sh: stop the Azurite that start-azurite.sh started and
# delete its data (CAIRN_EMULATOR_KEEP=1 keeps the folder and its log).
# Call it with the same CAIRN_EMULATOR_STATE_DIR and TMPDIR as the start.
set -euo pipefail
EMU_NAME=azurite
EMU_MATCH=azurite-blob
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"
mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" stop_instance
