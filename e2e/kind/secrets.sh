#!/usr/bin/env bash
# Creates (once) the dev loop's Secrets in the kind cluster: the TSIG key, as a key clause for BIND
# (e2e/tsig) and as the bare secret for the reconciler (ingress-reconciler/tsig); dummy AWS keys for
# the emulator; LocalStack's token when LOCALSTACK_AUTH_TOKEN is set. Copies the TSIG secret to
# e2e/kind/.state/tsig.secret for the e2e tests. Usage: secrets.sh <kube-context>
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CONTEXT=${1:?usage: secrets.sh <kube-context>}
STATE=${E2E_STATE_DIR:-$HERE/.state}
k() { kubectl --context "$CONTEXT" "$@"; }
mkdir -p "$STATE"
k apply -f "$HERE/manifests/namespaces.yaml"
if ! k -n e2e get secret tsig >/dev/null 2>&1; then
  secret=$(head -c 32 /dev/urandom | base64)
  key_clause=$(printf 'key "ddns-key" { algorithm hmac-sha256; secret "%s"; };\n' "$secret")
  k -n e2e create secret generic tsig --from-literal=secret="$secret" \
    --from-literal=ddns.key="$key_clause"
fi
secret=$(k -n e2e get secret tsig -o jsonpath='{.data.secret}' | base64 -d)
k -n ingress-reconciler create secret generic tsig --from-literal=secret="$secret" \
  --dry-run=client -o yaml | k apply -f -
(umask 077 && printf '%s\n' "$secret" > "$STATE/tsig.secret")
k -n ingress-reconciler create secret generic aws-dummy \
  --from-literal=aws_access_key_id=testing --from-literal=aws_secret_access_key=testing \
  --dry-run=client -o yaml | k apply -f -
if [ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]; then
  k -n e2e create secret generic localstack --from-literal=token="$LOCALSTACK_AUTH_TOKEN" \
    --dry-run=client -o yaml | k apply -f -
fi
