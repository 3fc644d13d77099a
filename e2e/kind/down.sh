#!/usr/bin/env bash
# Tears down what up.sh brought up: the port-forwards, then the kind cluster (with everything in it).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER=${CLUSTER:-ingress-reconciler}
"$HERE/port-forward.sh" stop
if command -v kind >/dev/null 2>&1 && kind get clusters | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
fi
rm -rf "$HERE/.state" "$HERE/e2e.env"
echo "down: cluster $CLUSTER removed" >&2
