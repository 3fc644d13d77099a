#!/bin/sh
# Run by Tilt's live_update inside the container: ask dev-entrypoint to restart the reconciler.
set -eu
touch /tmp/restart-requested
kill "$(cat /tmp/reconciler.pid)"
