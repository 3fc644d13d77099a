"""Which Gateway API kinds the cluster serves: discovered, never assumed.

A cluster may have no Gateway API CRDs, or an older or newer bundle whose CRDs serve other
versions (external-dns crashed listing a version a newer CRD no longer served). The reconciler
reads a kind only when ``/apis/gateway.networking.k8s.io/v1`` lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reconciler.kube.client import KubeClient
from reconciler.kube.resources import GATEWAY_API_KINDS, ResourceKind
from reconciler.model.errors import KubernetesError

__all__ = ["served_gateway_kinds"]

log = logging.getLogger(__name__)


def served_gateway_kinds(
    client: KubeClient, kinds: Sequence[ResourceKind] = GATEWAY_API_KINDS
) -> tuple[ResourceKind, ...]:
    """Those of ``kinds`` (Gateway API kinds) the cluster serves at v1; none when the group or
    version is not served. Other errors propagate."""
    try:
        listing = client.request("GET", "/apis/gateway.networking.k8s.io/v1")
    except KubernetesError as exc:
        if exc.status == 404:
            log.debug("Gateway API v1 not served")
            return ()
        raise
    served = {
        str(r.get("name"))
        for r in listing.get("resources") or ()
        if isinstance(r, dict) and "/" not in str(r.get("name"))
    }
    found = tuple(k for k in kinds if k.plural in served)
    log.debug("Gateway API kinds served", extra={"kinds": [k.kind for k in found]})
    return found
