#!/usr/bin/env bash
# stop-s3.sh: stop the versitygw that start-s3.sh started and delete its
# data (CAIRN_EMULATOR_KEEP=1 keeps the folder and its log). Call it with
# the same S3_PORT, CAIRN_EMULATOR_STATE_DIR and TMPDIR as the start.
set -euo pipefail
EMU_NAME=s3
EMU_MATCH=versitygw
if [ -n "${S3_PORT:-}" ] && [ -z "${CAIRN_EMULATOR_STATE_DIR:-}" ]; then
  CAIRN_EMULATOR_STATE_DIR=${TMPDIR:-/tmp}/cairn-s3-$(id -u)-$S3_PORT
fi
# shellcheck source=lib/emulator.sh
. "$(dirname "$0")/lib/emulator.sh"
mkdir -p "$(dirname "$EMU_STATE")"
with_lock "$EMU_STATE.lock" stop_instance
