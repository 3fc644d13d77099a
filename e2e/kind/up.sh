#!/usr/bin/env bash
# Brings up the kind dev cluster: the AWS emulator (LocalStack when LOCALSTACK_AUTH_TOKEN is set, moto's
# server otherwise) and BIND9 with a TSIG key as in-cluster Deployments, the project's image built and
# loaded into kind, and the chart installed with e2e/kind/values-dev.yaml (a public and a private fleet
# in elbv2 mode pointed at the emulator), the emulator seeded (tagged VPC/subnets, public zone) and the
# sample Ingresses applied. Writes e2e/kind/e2e.env for the e2e tests:
#   e2e/kind/up.sh && set -a && . e2e/kind/e2e.env && set +a && .venv/bin/pytest -m e2e tests/e2e
# Needs: docker, kind, kubectl, helm on PATH (or helm/kubectl in ~/.cache/ingress-reconciler/bin).
# Options (environment): CLUSTER (default ingress-reconciler), SKIP_BUILD=1 (image already loaded),
# AWS_PORT (default 4566) and BIND_PORT (default 5353): local ends of the port-forwards;
# E2E_STATE_DIR (default e2e/kind/.state) and E2E_ENV_FILE (default e2e/kind/e2e.env): where to write.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CLUSTER=${CLUSTER:-ingress-reconciler}
CONTEXT="kind-$CLUSTER"
IMAGE=ingress-reconciler:dev
AWS_PORT=${AWS_PORT:-4566}
BIND_PORT=${BIND_PORT:-5353}
STATE=${E2E_STATE_DIR:-$HERE/.state}
PY="$ROOT/.venv/bin/python"
ENV_FILE=${E2E_ENV_FILE:-$HERE/e2e.env}
export E2E_STATE_DIR="$STATE"
PATH="$PATH:$HOME/.cache/ingress-reconciler/bin"

log() { echo "up: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "$1 is required (not found on PATH)"; exit 2; }; }
k() { kubectl --context "$CONTEXT" "$@"; }

for tool in docker kind kubectl helm; do need "$tool"; done
[ -x "$PY" ] || { log "no virtualenv at $ROOT/.venv: run 'make setup' first"; exit 2; }
mkdir -p "$STATE"

if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config "$HERE/kind-config.yaml" --wait 120s
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building $IMAGE"
  docker build -t "$IMAGE" "$ROOT"
  kind load docker-image "$IMAGE" --name "$CLUSTER"
fi

"$HERE/secrets.sh" "$CONTEXT"

if [ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]; then
  log "AWS emulator: LocalStack (LOCALSTACK_AUTH_TOKEN is set)"
  k apply -f "$HERE/manifests/localstack.yaml"
else
  log "AWS emulator: moto (set LOCALSTACK_AUTH_TOKEN to use LocalStack)"
  k apply -f "$HERE/manifests/moto.yaml"
fi
k apply -f "$HERE/manifests/bind.yaml"
k -n e2e rollout status deployment/aws --timeout=180s
k -n e2e rollout status deployment/bind --timeout=180s

# Local ends for the seeding, the e2e tests and you: kubectl port-forward (TCP; AXFR and updates use TCP).
"$HERE/port-forward.sh" start "$CONTEXT" "$AWS_PORT" "$BIND_PORT"
log "seeding the emulator (VPC, tagged subnets, public hosted zone)"
"$PY" -m e2e.seed aws --endpoint "http://127.0.0.1:$AWS_PORT"

log "installing the chart with the dev values"
helm --kube-context "$CONTEXT" upgrade --install ingress-reconciler "$ROOT/charts/ingress-reconciler" \
  --namespace ingress-reconciler -f "$HERE/values-dev.yaml" --wait --timeout 180s

log "applying the sample tenants' namespaces and Ingresses"
"$PY" -m e2e.seed manifests | k apply -f -

kind get kubeconfig --name "$CLUSTER" > "$STATE/kubeconfig"
cat > "$ENV_FILE" <<ENV
E2E_KUBECONFIG=$STATE/kubeconfig
E2E_AWS_ENDPOINT=http://127.0.0.1:$AWS_PORT
E2E_BIND_HOST=127.0.0.1
E2E_BIND_PORT=$BIND_PORT
E2E_TSIG_SECRET_FILE=$STATE/tsig.secret
ENV
log "ready. e2e tests: set -a && . $ENV_FILE && set +a && .venv/bin/pytest -m e2e tests/e2e"
