#!/usr/bin/env bash
# Runs the e2e tests against the kind cluster, through the port-forwards Tilt (or up.sh) keeps open.
#   e2e.sh <kube-context> <aws-port> <bind-port> [pytest args...]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONTEXT=${1:?usage: e2e.sh <kube-context> <aws-port> <bind-port>}
AWS_PORT=${2:?aws port}
BIND_PORT=${3:?bind port}
shift 3
mkdir -p "$HERE/.state"
kubectl config view --raw --minify --context "$CONTEXT" > "$HERE/.state/kubeconfig"
E2E_KUBECONFIG="$HERE/.state/kubeconfig" \
E2E_AWS_ENDPOINT="http://127.0.0.1:$AWS_PORT" \
E2E_BIND_HOST=127.0.0.1 \
E2E_BIND_PORT="$BIND_PORT" \
E2E_TSIG_SECRET_FILE="$HERE/.state/tsig.secret" \
  exec "$ROOT/.venv/bin/pytest" -q -m e2e "$ROOT/tests/e2e" "$@"
