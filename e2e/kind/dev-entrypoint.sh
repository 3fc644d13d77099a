#!/bin/sh
# Entry point of the dev image: runs the command given, and runs it again whenever it exits because
# Tilt's live_update asked for a restart (restart.sh kills the child by its recorded PID). SIGTERM to
# this script (the pod stopping) stops the child and exits.
set -u
PIDFILE=/tmp/reconciler.pid
stopping=0
trap 'stopping=1; [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null' TERM INT
while [ "$stopping" -eq 0 ]; do
  "$@" &
  echo $! > "$PIDFILE"
  wait $!
  status=$?
  wait "$(cat "$PIDFILE")" 2>/dev/null
  rm -f "$PIDFILE"
  [ "$stopping" -eq 1 ] && exit "$status"
  [ -f /tmp/restart-requested ] || exit "$status"
  rm -f /tmp/restart-requested
  echo "dev-entrypoint: restarting after a live update" >&2
done
