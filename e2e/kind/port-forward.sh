#!/usr/bin/env bash
# Starts or stops the port-forwards to the in-cluster AWS emulator and BIND (TCP only).
#   port-forward.sh start <context> <aws-port> <bind-port>
#   port-forward.sh stop
# Each forward's own PID is recorded in e2e/kind/.state/*.pid, and only those are stopped.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${E2E_STATE_DIR:-$HERE/.state}
mkdir -p "$STATE"

stop_one() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
  rm -f "$pidfile"
}

wait_port() {
  local port=$1 deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "port-forward: 127.0.0.1:$port did not open in 30 s" >&2
      return 1
    fi
    sleep 0.2  # poll interval
  done
}

case "${1:-}" in
  start)
    context=$2 aws_port=$3 bind_port=$4
    stop_one "$STATE/aws.pid"
    stop_one "$STATE/bind.pid"
    (exec kubectl --context "$context" -n e2e port-forward service/aws "$aws_port:5000" \
      >"$STATE/aws-forward.log" 2>&1 & echo $! > "$STATE/aws.pid")
    (exec kubectl --context "$context" -n e2e port-forward service/bind "$bind_port:53" \
      >"$STATE/bind-forward.log" 2>&1 & echo $! > "$STATE/bind.pid")
    wait_port "$aws_port"
    wait_port "$bind_port"
    ;;
  stop)
    stop_one "$STATE/aws.pid"
    stop_one "$STATE/bind.pid"
    ;;
  *)
    echo "usage: $0 start <context> <aws-port> <bind-port> | stop" >&2
    exit 2
    ;;
esac
