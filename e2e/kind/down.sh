#!/usr/bin/env bash
# Tears down what up.sh brought up: the port-forwards, then the kind cluster (with everything in it).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER=${CLUSTER:-ingress-reconciler}
STATE=${E2E_STATE_DIR:-$HERE/.state}
ENV_FILE=${E2E_ENV_FILE:-$HERE/e2e.env}
export E2E_STATE_DIR="$STATE"
"$HERE/port-forward.sh" stop
if command -v kind >/dev/null 2>&1 && kind get clusters | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
fi
rm -rf "$STATE" "$ENV_FILE"
echo "down: cluster $CLUSTER removed" >&2
