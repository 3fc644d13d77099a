"""Network load balancers through the ELBv2 and EC2 APIs (``elbv2`` load-balancer mode).

``Elbv2LoadBalancers`` implements ``reconciler.model.load_balancer.LoadBalancerBackend``:

- **Names** are deterministic and within AWS's 32-character limit:
  ``ir-<cluster[:8]>-<fleet[:8]>-<hash10>`` for the load balancer and
  ``ir-<fleet[:8]>-<port>-<hash10>`` for each target group, where the hash covers cluster, owner
  and fleet (and, for target groups, port, target port, target type and VPC: the attributes a
  target group cannot change, so a change yields a new target group, swapped in by the listener).
- **Ownership** is by tags on the load balancer and every target group:
  ``ingress-reconciler.io/cluster``, ``ingress-reconciler.io/owner`` and
  ``ingress-reconciler.io/fleet``. ``owned()`` finds our load balancers by them; a load balancer
  or target group that has our name but not all three tags is never modified or deleted. We do
  not write the AWS Load Balancer Controller's ``elbv2.k8s.aws/cluster`` tag: that controller
  must not mistake our load balancers for its own.
- **Subnets** are discovered as the AWS Load Balancer Controller does: tagged
  ``kubernetes.io/role/elb`` (internet-facing) or ``kubernetes.io/role/internal-elb`` (internal)
  with value ``1`` or empty, and ``kubernetes.io/cluster/<cluster>`` = ``owned`` or ``shared``;
  subnets with fewer than 8 free addresses are skipped; in each availability zone the first by
  subnet id (lexicographic) wins. The subnets must all be in one VPC (else set ``vpc_id``).
- **ensure()** creates what is missing (load balancer, TCP target groups in the load balancer's
  VPC, TCP listeners forwarding to them), points a listener whose target group is wrong at the
  right one, deletes listeners on ports no longer wanted and the target groups of ours they used.
  A quiet pass makes only Describe* calls. It never changes a scheme: an existing load balancer
  with another scheme is a ``PermanentProviderError`` (the caller refuses the change before).
- **delete()** removes listeners, the load balancer, then our target groups of the fleet; True
  once none is left.

Every botocore error becomes a ``ProviderError``: throttling, 5xx and connection failures are
``TransientProviderError``, the rest ``PermanentProviderError``. The clients are injected; this
module never creates one. Moto's ``CanonicalHostedZoneId`` is a placeholder: it is passed through
as returned, and callers that need the real zone use ``providers.aws_hosted_zones``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from providers.aws_errors import describe_error, error_code, is_transient
from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import PermanentProviderError, ProviderError, TransientProviderError
from reconciler.model.load_balancer import (
    CLUSTER_TAG_KEY,
    FLEET_TAG_KEY,
    OWNER_TAG_KEY,
    LoadBalancerPort,
    LoadBalancerSpec,
    LoadBalancerState,
    Scheme,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

__all__ = [
    "MIN_FREE_ADDRESSES",
    "PROVIDER",
    "Elbv2LoadBalancers",
    "Subnet",
    "choose_subnets",
    "load_balancer_name",
    "ownership_tags",
    "target_group_name",
]

log = logging.getLogger(__name__)

PROVIDER = "elbv2"
"""The ``provider`` field of every ProviderError raised here."""
MIN_FREE_ADDRESSES = 8
"""Subnets with fewer free addresses are not chosen (the AWS Load Balancer Controller's rule)."""
ROLE_TAGS = {
    Scheme.INTERNET_FACING: "kubernetes.io/role/elb",
    Scheme.INTERNAL: "kubernetes.io/role/internal-elb",
}
_MAX_NAME = 32
_TAG_BATCH = 20  # DescribeTags takes at most 20 ARNs


# --- pure helpers -----------------------------------------------------------------------------


def _slug(text: str, limit: int) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:limit].strip("-") or "x"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:10]


def load_balancer_name(spec: LoadBalancerSpec) -> str:
    """The fleet's load balancer name: ``ir-<cluster>-<fleet>-<hash>``, at most 32 characters."""
    name = (
        f"ir-{_slug(spec.cluster_name, 8)}-{_slug(spec.fleet, 8)}-"
        f"{_digest(spec.cluster_name, spec.owner_id, spec.fleet)}"
    )
    return name[:_MAX_NAME]


def target_group_name(spec: LoadBalancerSpec, port: LoadBalancerPort, vpc_id: str) -> str:
    """A target group's name: ``ir-<fleet>-<port>-<hash>``, at most 32 characters."""
    digest = _digest(
        spec.cluster_name,
        spec.owner_id,
        spec.fleet,
        port.port,
        port.backend_port,
        spec.target_type,
        vpc_id,
    )
    return f"ir-{_slug(spec.fleet, 8)}-{port.port}-{digest}"[:_MAX_NAME]


def ownership_tags(spec: LoadBalancerSpec) -> dict[str, str]:
    """The tags that mark a load balancer or target group as this fleet's."""
    return {
        CLUSTER_TAG_KEY: spec.cluster_name,
        OWNER_TAG_KEY: spec.owner_id,
        FLEET_TAG_KEY: spec.fleet,
    }


def _is_ours(tags: Mapping[str, str], spec: LoadBalancerSpec) -> bool:
    return all(tags.get(k) == v for k, v in ownership_tags(spec).items())


@dataclass(frozen=True, slots=True)
class Subnet:
    """A subnet as discovery sees it."""

    subnet_id: str
    """The subnet's id."""
    vpc_id: str
    """Its VPC."""
    availability_zone: str
    """Its availability zone."""
    free_addresses: int
    """``AvailableIpAddressCount``."""
    tags: FrozenMap
    """Its tags."""


def choose_subnets(
    subnets: Iterable[Subnet], *, scheme: Scheme, cluster_name: str, vpc_id: str | None = None
) -> tuple[Subnet, ...]:
    """Pure: the subnets for a load balancer of ``scheme``: one per AZ, sorted by AZ.

    Eligible: the role tag of the scheme (value ``1`` or empty), the cluster tag ``owned`` or
    ``shared``, at least :data:`MIN_FREE_ADDRESSES` free addresses, in ``vpc_id`` when given.
    In each zone the lexicographically first subnet id wins.
    """
    role = ROLE_TAGS[scheme]
    cluster_tag = f"kubernetes.io/cluster/{cluster_name}"
    best: dict[str, Subnet] = {}
    for subnet in subnets:
        if subnet.tags.get(role) not in ("1", ""):
            continue
        if subnet.tags.get(cluster_tag) not in ("owned", "shared"):
            continue
        if subnet.free_addresses < MIN_FREE_ADDRESSES:
            continue
        if vpc_id is not None and subnet.vpc_id != vpc_id:
            continue
        current = best.get(subnet.availability_zone)
        if current is None or subnet.subnet_id < current.subnet_id:
            best[subnet.availability_zone] = subnet
    return tuple(best[zone] for zone in sorted(best))


def _tags(raw: Iterable[Mapping[str, Any]]) -> FrozenMap:
    return FrozenMap({str(t["Key"]): str(t.get("Value", "")) for t in raw})


def _aws_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


class _NotFoundError(Exception):
    """A Describe* said the resource does not exist (private)."""


class Elbv2LoadBalancers:
    """``LoadBalancerBackend`` on the ELBv2 + EC2 APIs (see the module docstring).

    ``vpc_id`` pins subnet discovery (and hence the load balancers) to one VPC; without it the
    discovered subnets must all be in the same VPC.
    """

    def __init__(
        self,
        *,
        elbv2_client: ElasticLoadBalancingv2Client,
        ec2_client: EC2Client,
        vpc_id: str | None = None,
    ) -> None:
        self.elbv2 = elbv2_client
        self.ec2 = ec2_client
        self.vpc_id = vpc_id

    # --- calls ---------------------------------------------------------------------------------

    def _call(
        self, operation: str, call: Callable[..., Any], *, not_found: str = "", **kwargs: Any
    ) -> Any:
        """One API call; botocore errors become ProviderError (``not_found`` -> _NotFoundError)."""
        try:
            return call(**kwargs)
        except ClientError as exc:
            if not_found and error_code(exc) == not_found:
                raise _NotFoundError(operation) from exc
            raise self._error(operation, exc) from exc
        except BotoCoreError as exc:
            raise self._error(operation, exc) from exc

    @staticmethod
    def _error(operation: str, exc: Exception) -> ProviderError:
        message = f"{operation}: {describe_error(exc)}"
        if is_transient(exc):
            return TransientProviderError(message, provider=PROVIDER)
        return PermanentProviderError(message, provider=PROVIDER)

    def _find_load_balancer(self, name: str) -> dict[str, Any] | None:
        try:
            page = self._call(
                "DescribeLoadBalancers",
                self.elbv2.describe_load_balancers,
                not_found="LoadBalancerNotFound",
                Names=[name],
            )
        except _NotFoundError:
            return None
        found = page.get("LoadBalancers") or []
        return dict(found[0]) if found else None

    def _find_target_group(self, name: str) -> dict[str, Any] | None:
        try:
            page = self._call(
                "DescribeTargetGroups",
                self.elbv2.describe_target_groups,
                not_found="TargetGroupNotFound",
                Names=[name],
            )
        except _NotFoundError:
            return None
        found = page.get("TargetGroups") or []
        return dict(found[0]) if found else None

    def _tags_of(self, arns: Sequence[str]) -> dict[str, FrozenMap]:
        result: dict[str, FrozenMap] = {}
        for start in range(0, len(arns), _TAG_BATCH):
            batch = list(arns[start : start + _TAG_BATCH])
            answer = self._call("DescribeTags", self.elbv2.describe_tags, ResourceArns=batch)
            for entry in answer.get("TagDescriptions") or ():
                result[str(entry["ResourceArn"])] = _tags(entry.get("Tags") or ())
        return result

    def _listeners(self, lb_arn: str) -> list[dict[str, Any]]:
        listeners: list[dict[str, Any]] = []
        marker = ""
        while True:
            kwargs: dict[str, Any] = {"LoadBalancerArn": lb_arn}
            if marker:
                kwargs["Marker"] = marker
            page = self._call("DescribeListeners", self.elbv2.describe_listeners, **kwargs)
            listeners.extend(dict(item) for item in page.get("Listeners") or ())
            marker = str(page.get("NextMarker") or "")
            if not marker:
                return listeners

    def _all(self, operation: str, call: Callable[..., Any], key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        marker = ""
        while True:
            kwargs: dict[str, Any] = {"Marker": marker} if marker else {}
            page = self._call(operation, call, **kwargs)
            items.extend(dict(item) for item in page.get(key) or ())
            marker = str(page.get("NextMarker") or "")
            if not marker:
                return items

    def _subnets(self, spec: LoadBalancerSpec) -> tuple[Subnet, ...]:
        role = ROLE_TAGS[spec.scheme]
        filters: list[Any] = [
            {"Name": "tag-key", "Values": [role]},
            {
                "Name": f"tag:kubernetes.io/cluster/{spec.cluster_name}",
                "Values": ["owned", "shared"],
            },
        ]
        if self.vpc_id is not None:
            filters.append({"Name": "vpc-id", "Values": [self.vpc_id]})
        found: list[Subnet] = []
        token = ""
        while True:
            kwargs: dict[str, Any] = {"Filters": filters}
            if token:
                kwargs["NextToken"] = token
            page = self._call("DescribeSubnets", self.ec2.describe_subnets, **kwargs)
            for raw in page.get("Subnets") or ():
                found.append(
                    Subnet(
                        subnet_id=str(raw["SubnetId"]),
                        vpc_id=str(raw.get("VpcId", "")),
                        availability_zone=str(raw.get("AvailabilityZone", "")),
                        free_addresses=int(raw.get("AvailableIpAddressCount", 0)),
                        tags=_tags(raw.get("Tags") or ()),
                    )
                )
            token = str(page.get("NextToken") or "")
            if not token:
                break
        chosen = choose_subnets(
            found, scheme=spec.scheme, cluster_name=spec.cluster_name, vpc_id=self.vpc_id
        )
        if not chosen:
            raise PermanentProviderError(
                f"no subnet for an {spec.scheme} load balancer of fleet {spec.fleet}: tag subnets "
                f"with {role}=1 and kubernetes.io/cluster/{spec.cluster_name}=owned|shared",
                provider=PROVIDER,
            )
        vpcs = sorted({s.vpc_id for s in chosen})
        if len(vpcs) > 1:
            raise PermanentProviderError(
                f"subnets for fleet {spec.fleet} span VPCs {', '.join(vpcs)}: set the VPC id",
                provider=PROVIDER,
            )
        return chosen

    # --- LoadBalancerBackend -------------------------------------------------------------------

    def owned(self, cluster_name: str, owner_id: str) -> Sequence[LoadBalancerState]:
        """Every network load balancer tagged with our cluster and owner (and a fleet)."""
        balancers = self._all(
            "DescribeLoadBalancers", self.elbv2.describe_load_balancers, "LoadBalancers"
        )
        network = [b for b in balancers if b.get("Type") == "network"]
        tags = self._tags_of([str(b["LoadBalancerArn"]) for b in network])
        result: list[LoadBalancerState] = []
        for balancer in network:
            state = self._state(balancer, tags.get(str(balancer["LoadBalancerArn"]), FrozenMap()))
            if (
                state.tags.get(CLUSTER_TAG_KEY) == cluster_name
                and state.tags.get(OWNER_TAG_KEY) == owner_id
                and state.fleet
            ):
                result.append(state)
        return tuple(sorted(result, key=lambda s: s.name))

    def ensure(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        """Create or correct the fleet's NLB, target groups and listeners; return the NLB."""
        name = load_balancer_name(spec)
        wanted_tags = ownership_tags(spec)
        balancer = self._find_load_balancer(name)
        known: dict[str, tuple[str, FrozenMap]] = {}
        if balancer is None:
            subnets = self._subnets(spec)
            created = self._call(
                "CreateLoadBalancer",
                self.elbv2.create_load_balancer,
                Name=name,
                Subnets=[s.subnet_id for s in subnets],
                Scheme=str(spec.scheme),
                Type="network",
                IpAddressType="ipv4",
                Tags=_aws_tags(wanted_tags),
            )
            balancer = dict(created["LoadBalancers"][0])
            tags = FrozenMap(wanted_tags)
            log.info(
                "load balancer created",
                extra={
                    "fleet": spec.fleet,
                    "load_balancer": name,
                    "scheme": str(spec.scheme),
                    "subnets": [s.subnet_id for s in subnets],
                },
            )
        else:
            arn = str(balancer["LoadBalancerArn"])
            attached = self._attached_groups(arn)
            # one DescribeTags for the load balancer and the target groups it uses
            every_tag = self._tags_of([arn, *attached])
            tags = every_tag.get(arn, FrozenMap())
            known = {
                name_: (group_arn, every_tag.get(group_arn, FrozenMap()))
                for group_arn, name_ in attached.items()
            }
            if not _is_ours(tags, spec):
                raise PermanentProviderError(
                    f"load balancer {name} exists without our ownership tags; not touching it",
                    provider=PROVIDER,
                )
            if balancer.get("Scheme") != spec.scheme:
                raise PermanentProviderError(
                    f"load balancer {name} is {balancer.get('Scheme')}, fleet {spec.fleet} wants "
                    f"{spec.scheme}; a scheme is not changed in place",
                    provider=PROVIDER,
                )
        state = self._state(balancer, tags)
        self._ensure_listeners(spec, state.arn, str(balancer.get("VpcId", "")), known)
        return state

    def _attached_groups(self, lb_arn: str) -> dict[str, str]:
        """ARN -> name of the target groups the load balancer's listeners use."""
        groups: dict[str, str] = {}
        marker = ""
        while True:
            kwargs: dict[str, Any] = {"LoadBalancerArn": lb_arn}
            if marker:
                kwargs["Marker"] = marker
            page = self._call("DescribeTargetGroups", self.elbv2.describe_target_groups, **kwargs)
            for group in page.get("TargetGroups") or ():
                groups[str(group["TargetGroupArn"])] = str(group["TargetGroupName"])
            marker = str(page.get("NextMarker") or "")
            if not marker:
                return groups

    def _ensure_listeners(
        self,
        spec: LoadBalancerSpec,
        lb_arn: str,
        vpc_id: str,
        known: Mapping[str, tuple[str, FrozenMap]],
    ) -> None:
        wanted: dict[int, str] = {}
        for port in spec.ports:
            wanted[port.port] = self._ensure_target_group(spec, port, vpc_id, known)
        listeners = {int(item["Port"]): item for item in self._listeners(lb_arn)}
        retired: set[str] = set()
        for port_number, tg_arn in sorted(wanted.items()):
            listener = listeners.get(port_number)
            action = [{"Type": "forward", "TargetGroupArn": tg_arn}]
            if listener is None:
                self._call(
                    "CreateListener",
                    self.elbv2.create_listener,
                    LoadBalancerArn=lb_arn,
                    Protocol="TCP",
                    Port=port_number,
                    DefaultActions=action,
                )
                log.info("listener created", extra={"fleet": spec.fleet, "port": port_number})
                continue
            current = _forward_targets(listener)
            if current != [tg_arn] or listener.get("Protocol") != "TCP":
                self._call(
                    "ModifyListener",
                    self.elbv2.modify_listener,
                    ListenerArn=str(listener["ListenerArn"]),
                    Protocol="TCP",
                    Port=port_number,
                    DefaultActions=action,
                )
                retired.update(arn for arn in current if arn != tg_arn)
                log.info("listener corrected", extra={"fleet": spec.fleet, "port": port_number})
        for port_number, listener in sorted(listeners.items()):
            if port_number in wanted:
                continue
            self._delete_listener(str(listener["ListenerArn"]))
            retired.update(_forward_targets(listener))
            log.info("listener deleted", extra={"fleet": spec.fleet, "port": port_number})
        self._delete_target_groups(spec, sorted(retired - set(wanted.values())))

    def _ensure_target_group(
        self,
        spec: LoadBalancerSpec,
        port: LoadBalancerPort,
        vpc: str,
        known: Mapping[str, tuple[str, FrozenMap]],
    ) -> str:
        """The ARN of the port's target group (found in ``known``, by name, or created)."""
        name = target_group_name(spec, port, vpc)
        found: tuple[str, FrozenMap] | None = known.get(name)
        if found is None:
            group = self._find_target_group(name)
            if group is not None:
                group_arn = str(group["TargetGroupArn"])
                found = (group_arn, self._tags_of([group_arn]).get(group_arn, FrozenMap()))
        if found is not None:
            arn, tags = found
            if not _is_ours(tags, spec):
                raise PermanentProviderError(
                    f"target group {name} exists without our ownership tags; not touching it",
                    provider=PROVIDER,
                )
            return arn
        created = self._call(
            "CreateTargetGroup",
            self.elbv2.create_target_group,
            Name=name,
            Protocol="TCP",
            Port=port.backend_port,
            VpcId=vpc,
            TargetType=spec.target_type or "ip",
            Tags=_aws_tags(ownership_tags(spec)),
        )
        log.info("target group created", extra={"fleet": spec.fleet, "target_group": name})
        return str(created["TargetGroups"][0]["TargetGroupArn"])

    def _delete_listener(self, arn: str) -> None:
        try:
            self._call(
                "DeleteListener",
                self.elbv2.delete_listener,
                not_found="ListenerNotFound",
                ListenerArn=arn,
            )
        except _NotFoundError:
            return

    def _delete_target_groups(self, spec: LoadBalancerSpec, arns: Sequence[str]) -> None:
        """Delete those of ``arns`` that carry our tags for this fleet (others are left alone)."""
        if not arns:
            return
        tags = self._tags_of(arns)
        for arn in arns:
            if not _is_ours(tags.get(arn, FrozenMap()), spec):
                log.warning(
                    "target group not ours, left alone",
                    extra={"fleet": spec.fleet, "target_group": arn},
                )
                continue
            try:
                self._call(
                    "DeleteTargetGroup",
                    self.elbv2.delete_target_group,
                    not_found="TargetGroupNotFound",
                    TargetGroupArn=arn,
                )
            except _NotFoundError:
                continue
            log.info("target group deleted", extra={"fleet": spec.fleet, "target_group": arn})

    def _fleet_target_groups(self, spec: LoadBalancerSpec) -> list[str]:
        groups = self._all(
            "DescribeTargetGroups", self.elbv2.describe_target_groups, "TargetGroups"
        )
        arns = [str(g["TargetGroupArn"]) for g in groups]
        tags = self._tags_of(arns)
        return [arn for arn in arns if _is_ours(tags.get(arn, FrozenMap()), spec)]

    def delete(self, spec: LoadBalancerSpec) -> bool:
        """Delete listeners, the NLB, then our target groups of the fleet; True once all gone."""
        name = load_balancer_name(spec)
        balancer = self._find_load_balancer(name)
        referenced: set[str] = set()
        if balancer is not None:
            arn = str(balancer["LoadBalancerArn"])
            if not _is_ours(self._tags_of([arn]).get(arn, FrozenMap()), spec):
                log.warning(
                    "load balancer not ours, left alone",
                    extra={"fleet": spec.fleet, "load_balancer": name},
                )
                balancer = None
            else:
                for listener in self._listeners(arn):
                    referenced.update(_forward_targets(listener))
                    self._delete_listener(str(listener["ListenerArn"]))
                with contextlib.suppress(_NotFoundError):
                    self._call(
                        "DeleteLoadBalancer",
                        self.elbv2.delete_load_balancer,
                        not_found="LoadBalancerNotFound",
                        LoadBalancerArn=arn,
                    )
                log.info(
                    "load balancer deleted", extra={"fleet": spec.fleet, "load_balancer": name}
                )
        groups = sorted(set(self._fleet_target_groups(spec)) | referenced)
        try:
            self._delete_target_groups(spec, groups)
        except ProviderError as exc:
            if exc.transient:
                raise
            # a target group still in use while the load balancer finishes deleting: next pass
            log.info(
                "target groups not yet deletable", extra={"fleet": spec.fleet, "error": str(exc)}
            )
            return False
        if balancer is not None:
            return self._find_load_balancer(name) is None and not self._fleet_target_groups(spec)
        return not self._fleet_target_groups(spec)

    @staticmethod
    def _state(balancer: Mapping[str, Any], tags: FrozenMap) -> LoadBalancerState:
        return LoadBalancerState(
            name=str(balancer.get("LoadBalancerName", "")),
            arn=str(balancer.get("LoadBalancerArn", "")),
            dns_name=str(balancer.get("DNSName", "")),
            canonical_hosted_zone_id=str(balancer.get("CanonicalHostedZoneId", "")),
            scheme=str(balancer.get("Scheme", "")),
            tags=tags,
        )


def _forward_targets(listener: Mapping[str, Any]) -> list[str]:
    """The target group ARNs a listener's default actions forward to."""
    arns: list[str] = []
    for action in listener.get("DefaultActions") or ():
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.append(str(action["TargetGroupArn"]))
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or ():
            arn = str(group.get("TargetGroupArn", ""))
            if arn and arn not in arns:
                arns.append(arn)
    return arns
