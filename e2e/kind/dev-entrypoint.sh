#!/bin/sh
# Entry point of the dev image: runs the command given, and runs it again whenever it exits because
# Tilt's live_update asked for a restart (restart.sh marks the request and stops the child by its
# recorded PID). SIGTERM to this script (the pod stopping) stops the child and exits with its status.
# DEV_RUN_DIR (default /tmp) holds the PID file and the restart mark.
set -u
RUN_DIR=${DEV_RUN_DIR:-/tmp}
PIDFILE="$RUN_DIR/reconciler.pid"
MARK="$RUN_DIR/restart-requested"
stopping=0
trap 'stopping=1; [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null' TERM INT
while :; do
  rm -f "$MARK"
  "$@" &
  pid=$!
  echo "$pid" > "$PIDFILE"
  wait "$pid"
  status=$?
  # wait returns early when a trapped signal arrives: wait again until the child is gone
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid"
    status=$?
  done
  rm -f "$PIDFILE"
  [ "$stopping" -eq 1 ] && exit "$status"
  [ -f "$MARK" ] || exit "$status"
  echo "dev-entrypoint: restarting after a live update" >&2
done
