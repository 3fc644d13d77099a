#!/bin/sh
# Run by Tilt's live_update inside the container: ask dev-entrypoint to restart the reconciler.
set -eu
RUN_DIR=${DEV_RUN_DIR:-/tmp}
touch "$RUN_DIR/restart-requested"
kill "$(cat "$RUN_DIR/reconciler.pid")"
