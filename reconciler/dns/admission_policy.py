"""The tenancy rules as a ValidatingAdmissionPolicy: the same rules in CEL, fed by one ConfigMap of
flat comma-separated keys, so that Kubernetes refuses at admission what the reconciler refuses.

:func:`render_admission_policy` returns the ConfigMap, the policy and its binding as API dicts; the
chart's ``templates/tenancy-policy.yaml`` renders the same objects (a test compares the two), its
CEL pasted from :func:`policy_variables` and :func:`policy_validations`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.dns.tenancy import (
    DEFAULT_PUBLIC_EXCLUDED_NETS,
    HOSTNAME_ANNOTATIONS,
    TARGET_ANNOTATIONS,
    Fleet,
    TenancyConfig,
    validate_tenancy,
)
from reconciler.model.ingress import LEGACY_CLASS_ANNOTATION, Visibility
from reconciler.model.zones import is_within

__all__ = [
    "GATEWAY_API_RESOURCES",
    "POLICY_API_VERSION",
    "admission_parameters",
    "gateway_policy_validations",
    "gateway_policy_variables",
    "policy_validations",
    "policy_variables",
    "render_admission_policy",
]

POLICY_API_VERSION = "admissionregistration.k8s.io/v1"
GATEWAY_API_RESOURCES = (
    "gateways",
    "listenersets",
    "httproutes",
    "grpcroutes",
    "tlsroutes",
    "tcproutes",
    "udproutes",
)
"""The Gateway API resources the second policy judges (hostnames, parents, classes)."""


def _within_cel(name: str, domain: str) -> str:
    return f"({name} == {domain} || {name}.endsWith('.' + {domain}))"


def _owned_cel(name: str) -> str:
    """CEL: does the namespace's tenant own ``name`` (most specific domain wins)?"""
    return (
        f"variables.ownDomains.exists(d, {_within_cel(name, 'd')} && "
        f"!variables.excluded.exists(x, x.size() > d.size() && {_within_cel(name, 'x')}))"
    )


def _normalized_list_cel(text: str) -> str:
    """CEL: a comma-separated string as a list of trimmed, lower-case names without final dot."""
    return (
        f"({text}).split(',').map(h, h.trim().lowerAscii())"
        ".map(h, h.endsWith('.') ? h.substring(0, h.size() - 1) : h).filter(h, h != '')"
    )


def _annotation_cel(key: str) -> str:
    return f"('{key}' in variables.annotations ? variables.annotations['{key}'] : '')"


def _param(suffix: str) -> str:
    """CEL: the namespace's tenant's list parameter ``tenant.<t>.<suffix>`` (empty: no tenant)."""
    return (
        "variables.tenant == '' ? [] : "
        f"params.data['tenant.' + variables.tenant + '.{suffix}']"
        ".split(',').filter(x, x != '')"
    )


def _tenant_variables() -> list[tuple[str, str]]:
    """The variables that find the object's tenant and its domains (both policies)."""
    selector = "params.data['tenant.' + t + '.selector']"
    return [
        (
            "annotations",
            "has(object.metadata.annotations) ? object.metadata.annotations : {}",
        ),
        ("ns", "namespaceObject.metadata.name"),
        (
            "nsLabels",
            "has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}",
        ),
        ("tenantNames", "params.data['tenants'].split(',').filter(t, t != '')"),
        (
            "matching",
            "variables.tenantNames.filter(t, "
            "params.data['tenant.' + t + '.namespaces'].split(',').exists(n, n == variables.ns)"
            f" || ({selector} != '' && {selector}.split(',').all(kv, "
            "kv.split('=')[0] in variables.nsLabels && "
            "variables.nsLabels[kv.split('=')[0]] == kv.split('=')[1])))",
        ),
        (
            "tenant",
            "variables.matching.size() == 1 ? variables.matching[0] : "
            "(variables.matching.size() == 0 && params.data['unassigned'] != 'deny' "
            "? params.data['unassigned'] : '')",
        ),
        ("ownDomains", _param("domains")),
        ("excluded", _param("excluded")),
        ("allDomains", "params.data['domains'].split(',').filter(d, d != '')"),
    ]


def _host_variables(hosts: str) -> list[tuple[str, str]]:
    """The variables that judge the object's hosts (``hosts``: a CEL comma-separated string)."""
    return [
        ("hosts", _normalized_list_cel(hosts)),
        (
            "badHosts",
            "variables.hosts.filter(h, !h.startsWith('*.') && "
            f"(h.contains('*') || !{_owned_cel('h')}))",
        ),
        (
            "conflictHosts",
            "variables.badHosts.filter(h, !h.contains('*') && "
            f"variables.allDomains.exists(d, {_within_cel('h', 'd')}))",
        ),
        (
            "notAllowedHosts",
            "variables.badHosts.filter(h, h.contains('*') || "
            f"!variables.allDomains.exists(d, {_within_cel('h', 'd')}))",
        ),
        (
            "wideWildcards",
            "variables.hosts.filter(h, h.startsWith('*.')).filter(h, "
            "h.substring(2).contains('*') || "
            f"!{_owned_cel('h.substring(2)')} || "
            "variables.excluded.exists(x, x != h.substring(2) && "
            "x.endsWith('.' + h.substring(2))))",
        ),
    ]


_HOSTNAME_ANNOTATIONS_CEL = " + ',' + ".join(_annotation_cel(k) for k in HOSTNAME_ANNOTATIONS)


def policy_variables() -> list[dict[str, str]]:
    """The Ingress policy's CEL variables (name, expression), in order."""
    variables = [
        ("isStatus", "has(request.subResource) && request.subResource == 'status'"),
        (
            "oldAnnotations",
            "oldObject != null && has(oldObject.metadata.annotations) ? "
            "oldObject.metadata.annotations : {}",
        ),
        *_tenant_variables(),
        ("ownClasses", _param("classes")),
        ("ownTargets", _param("targets")),
        (
            "specClass",
            "has(object.spec.ingressClassName) ? object.spec.ingressClassName : ''",
        ),
        ("legacyClass", _annotation_cel(LEGACY_CLASS_ANNOTATION)),
        (
            "className",
            "variables.specClass != '' ? variables.specClass : variables.legacyClass",
        ),
        *_host_variables(
            "(has(object.spec.rules) ? object.spec.rules"
            ".map(r, has(r.host) ? r.host : '').join(',') : '') + ',' + "
            "(has(object.spec.tls) ? object.spec.tls"
            ".map(t, has(t.hosts) ? t.hosts.join(',') : '').join(',') : '') + ',' + "
            + _HOSTNAME_ANNOTATIONS_CEL
        ),
        (
            "targets",
            _normalized_list_cel(" + ',' + ".join(_annotation_cel(k) for k in TARGET_ANNOTATIONS)),
        ),
        (
            "badTargets",
            f"variables.targets.filter(t, !{_owned_cel('t')} && "
            f"!variables.ownTargets.exists(a, {_within_cel('t', 'a')}))",
        ),
        # The reconciler maps Unicode full stops and other look-alikes (IDNA) before it compares
        # names; CEL cannot, so a name that is not plain ASCII is refused here outright.
        (
            "nonAscii",
            "(variables.hosts + variables.targets).filter(h, !h.matches('^[ -~]*$'))",
        ),
        _reserved_variable(),
        (
            "publicView",
            "variables.className != '' && "
            "params.data['publicClasses'].split(',').exists(c, c == variables.className)",
        ),
        (
            "privateTargets",
            "variables.publicView ? variables.targets.filter(t, isIP(t) && "
            "params.data['publicExcludedNets'].split(',')"
            ".exists(n, n != '' && cidr(n).containsIP(t))) : []",
        ),
    ]
    return [{"name": n, "expression": e} for n, e in variables]


def _reserved_variable() -> tuple[str, str]:
    return (
        "reservedHosts",
        "variables.hosts.filter(h, params.data['reserved'].split(',')"
        ".exists(p, p != '' && h.matches(p)))",
    )


_TENANT = "' + variables.tenant + '"


def _host_rules() -> list[tuple[str, str]]:
    """The rules on hosts both policies apply (expression, message)."""
    return [
        (
            "variables.conflictHosts.size() == 0",
            "'HostnameConflict: ' + variables.conflictHosts.join(', ') + "
            f"' belong(s) to another tenant, not to tenant {_TENANT}'",
        ),
        (
            "variables.notAllowedHosts.size() == 0",
            "'HostnameNotAllowed: ' + variables.notAllowedHosts.join(', ') + "
            f"' is not under the domains of tenant {_TENANT} (' + "
            "variables.ownDomains.join(', ') + ')'",
        ),
        (
            "variables.wideWildcards.size() == 0",
            "'WildcardTooWide: ' + variables.wideWildcards.join(', ') + "
            f"' covers names outside the domains of tenant {_TENANT} (' + "
            "variables.ownDomains.join(', ') + ')'",
        ),
    ]


def _not_in_tenant_rule(subject: str) -> tuple[str, str]:
    return (
        "variables.tenant != ''",
        "'NamespaceNotInTenant: namespace ' + variables.ns + "
        "(variables.matching.size() > 1 ? ' matches several tenants (' + "
        "variables.matching.join(', ') + ')' : ' belongs to no tenant') + "
        f"'; it may {subject}'",
    )


_NON_ASCII_MESSAGE = (
    "'HostnameNotAllowed: ' + variables.nonAscii.join(', ') + ' is not plain ASCII; "
    "write every host and target in ASCII (IDN as punycode, xn--...)'"
)
_RESERVED_RULE = (
    "variables.reservedHosts.size() == 0",
    "'ReservedName: ' + variables.reservedHosts.join(', ') + ' has the form of an "
    "ownership TXT name (a-<host>, cname-<host>, ...); choose another host'",
)


def _validations(rules: Sequence[tuple[str, str]], skip: str) -> list[dict[str, str]]:
    """Every rule as a validation; none applies when ``skip`` holds, and every rule but the
    first (which reports a missing tenant) needs a tenant."""
    validations: list[dict[str, str]] = []
    for index, (expression, message) in enumerate(rules):
        guarded = expression if index == 0 else f"variables.tenant == '' || ({expression})"
        validations.append(
            {
                "expression": f"{skip} || ({guarded})",
                "messageExpression": message,
                "reason": "Forbidden",
            }
        )
    return validations


def policy_validations() -> list[dict[str, str]]:
    """The Ingress policy's validations (expression, messageExpression, reason), in order."""
    tenant = _TENANT
    rules = [
        _not_in_tenant_rule("publish no host"),
        (
            "variables.className != '' && variables.className in variables.ownClasses",
            "'FleetNotAllowed: ' + (variables.className == '' ? "
            "'spec.ingressClassName is not set' : 'class \"' + variables.className + '\" is "
            f"not a fleet tenant {tenant} may use') + ' (allowed classes: ' + "
            "variables.ownClasses.join(', ') + ')'",
        ),
        (
            "variables.legacyClass == '' || variables.specClass == '' || "
            "variables.legacyClass == variables.specClass",
            f"'FleetNotAllowed: annotation {LEGACY_CLASS_ANNOTATION}=\"' + "
            "variables.legacyClass + '\" disagrees with spec.ingressClassName=\"' + "
            "variables.specClass + '\"; remove the annotation'",
        ),
        *_host_rules(),
        (
            "variables.badTargets.size() == 0",
            "'TargetNotAllowed: the target annotation names ' + "
            f"variables.badTargets.join(', ') + ', which tenant {tenant} may not point at'",
        ),
        ("variables.nonAscii.size() == 0", _NON_ASCII_MESSAGE),
        _RESERVED_RULE,
        (
            "variables.privateTargets.size() == 0",
            "'TargetNotInView: ' + variables.privateTargets.join(', ') + ' is a private "
            "address and class ' + variables.className + ' is a public fleet'",
        ),
    ]
    # Writes to ingresses/status are judged by the last validation alone.
    validations = _validations(rules, "variables.isStatus")
    validations.append(
        {
            "expression": (
                "!variables.isStatus || variables.annotations == variables.oldAnnotations"
            ),
            "messageExpression": "'StatusMetadataChange: annotations may not be changed "
            "through ingresses/status; change them on the Ingress itself'",
            "reason": "Forbidden",
        }
    )
    return validations


def _gateway_refs_cel() -> str:
    """CEL: ``namespace/name`` of every Gateway the object names as its parent (a Route's
    ``spec.parentRefs`` of kind Gateway, a ListenerSet's ``spec.parentRef``)."""
    group = "gateway.networking.k8s.io"

    def key(ref: str) -> str:
        return f"(has({ref}.namespace) ? {ref}.namespace : variables.ns) + '/' + {ref}.name"

    is_gateway = (
        f"(has(p.group) ? p.group : '{group}') == '{group}' && "
        "(has(p.kind) ? p.kind : 'Gateway') == 'Gateway'"
    )
    return (
        f"(has(object.spec.parentRefs) ? object.spec.parentRefs.filter(p, {is_gateway})"
        f".map(p, {key('p')}) : []) + "
        f"(has(object.spec.parentRef) ? [{key('object.spec.parentRef')}] : [])"
    )


def gateway_policy_variables() -> list[dict[str, str]]:
    """The Gateway API policy's CEL variables (Routes, Gateways, ListenerSets), in order."""
    variables = [
        *_tenant_variables(),
        (
            "fleetNamespace",
            "params.data['fleetNamespaces'].split(',').exists(n, n == variables.ns)",
        ),
        ("ownGateways", _param("gateways")),
        ("ownGatewayClasses", _param("gatewayClasses")),
        *_host_variables(
            "(has(object.spec.hostnames) ? object.spec.hostnames.join(',') : '') + ',' + "
            "(has(object.spec.listeners) ? object.spec.listeners"
            ".map(l, has(l.hostname) ? l.hostname : '').join(',') : '') + ',' + "
            + _HOSTNAME_ANNOTATIONS_CEL
        ),
        ("nonAscii", "variables.hosts.filter(h, !h.matches('^[ -~]*$'))"),
        _reserved_variable(),
        (
            "foreignGateways",
            f"({_gateway_refs_cel()}).filter(g, "
            "params.data['fleetGateways'].split(',').exists(f, f == g) && "
            "!variables.ownGateways.exists(o, o == g))",
        ),
        (
            "gatewayClass",
            "has(object.spec.gatewayClassName) ? object.spec.gatewayClassName : ''",
        ),
        (
            "foreignClass",
            "variables.gatewayClass != '' && "
            "params.data['fleetGatewayClasses'].split(',').exists(c, c == variables.gatewayClass)"
            " && !variables.ownGatewayClasses.exists(c, c == variables.gatewayClass)",
        ),
    ]
    return [{"name": n, "expression": e} for n, e in variables]


def gateway_policy_validations() -> list[dict[str, str]]:
    """The Gateway API policy's validations, in order (none in the fleets' namespaces, where
    the reconciler keeps the fleets' own Gateways)."""
    tenant = _TENANT
    rules = [
        _not_in_tenant_rule("attach to no fleet"),
        (
            "variables.foreignGateways.size() == 0",
            "'FleetNotAllowed: Gateway ' + variables.foreignGateways.join(', ') + "
            f"' belongs to a fleet tenant {tenant} may not use (allowed Gateways: ' + "
            "variables.ownGateways.join(', ') + ')'",
        ),
        (
            "!variables.foreignClass",
            "'FleetNotAllowed: gatewayClassName \"' + variables.gatewayClass + '\" is a "
            f"fleet tenant {tenant} may not use (allowed classes: ' + "
            "variables.ownGatewayClasses.join(', ') + ')'",
        ),
        *_host_rules(),
        ("variables.nonAscii.size() == 0", _NON_ASCII_MESSAGE),
        _RESERVED_RULE,
    ]
    return _validations(rules, "variables.fleetNamespace")


def admission_parameters(
    config: TenancyConfig,
    fleets: Iterable[Fleet],
    *,
    public_excluded_nets: Sequence[str] = DEFAULT_PUBLIC_EXCLUDED_NETS,
) -> dict[str, str]:
    """The policy's parameter data: flat keys, each a comma-separated list (CEL splits them).

    ``tenants``, ``unassigned``, ``domains`` (every tenant's), ``reserved`` (the config's
    ``reserved_names``), ``publicClasses`` (the classes of public
    fleets), ``publicExcludedNets`` (ranges no target of a public fleet may lie in), and per
    tenant ``t``:
    ``tenant.<t>.namespaces``, ``.selector`` (``key=value`` pairs), ``.domains``, ``.excluded``
    (other tenants' domains nested inside t's: names there are theirs), ``.classes`` (of t's
    fleets) and ``.targets``. For the Gateway API policy: ``fleetNamespaces`` (where the
    fleets' own Gateways live: not judged), ``fleetGateways`` (``namespace/name``),
    ``fleetGatewayClasses``, and per tenant ``.gateways`` and ``.gatewayClasses`` of its fleets.
    """
    fleet_list = tuple(fleets)
    classes = {f.name: f.class_name for f in fleet_list}
    gateways = {f.name: f"{f.namespace}/{f.gateway}" for f in fleet_list if f.gateway}
    gateway_classes = {f.name: f.gateway_class for f in fleet_list if f.gateway}
    data = {
        "tenants": ",".join(sorted(t.name for t in config.tenants)),
        "unassigned": config.unassigned,
        "domains": ",".join(sorted({d for t in config.tenants for d in t.domains})),
        "reserved": ",".join(sorted(set(config.reserved_names))),
        "publicClasses": ",".join(
            sorted({f.class_name for f in fleet_list if f.visibility == Visibility.PUBLIC})
        ),
        "publicExcludedNets": ",".join(public_excluded_nets),
        "fleetNamespaces": ",".join(sorted({f.namespace for f in fleet_list if f.namespace})),
        "fleetGateways": ",".join(sorted(gateways.values())),
        "fleetGatewayClasses": ",".join(sorted({f.gateway_class for f in fleet_list if f.gateway})),
    }
    for tenant in config.tenants:
        prefix = f"tenant.{tenant.name}."
        excluded = sorted(
            {
                domain
                for other in config.tenants
                if other.name != tenant.name
                for domain in other.domains
                if any(domain != own and is_within(domain, own) for own in tenant.domains)
            }
        )
        data[prefix + "namespaces"] = ",".join(tenant.namespaces)
        data[prefix + "selector"] = ",".join(
            f"{k}={v}" for k, v in tenant.namespace_selector.items()
        )
        data[prefix + "domains"] = ",".join(tenant.domains)
        data[prefix + "excluded"] = ",".join(excluded)
        data[prefix + "classes"] = ",".join(
            sorted({classes[f] for f in tenant.fleets if f in classes})
        )
        data[prefix + "targets"] = ",".join(tenant.targets)
        data[prefix + "gateways"] = ",".join(
            sorted({gateways[f] for f in tenant.fleets if f in gateways})
        )
        data[prefix + "gatewayClasses"] = ",".join(
            sorted({gateway_classes[f] for f in tenant.fleets if f in gateway_classes})
        )
    return data


def render_admission_policy(
    config: TenancyConfig,
    fleets: Iterable[Fleet],
    *,
    namespace: str,
    name: str = "ingress-reconciler-tenancy",
    validation_actions: Sequence[str] = ("Deny",),
    namespace_selector: Mapping[str, str] | None = None,
    public_excluded_nets: Sequence[str] = DEFAULT_PUBLIC_EXCLUDED_NETS,
) -> list[dict[str, Any]]:
    """The admission objects enforcing tenancy at create/update time, as API dicts.

    Returns ``[ConfigMap, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding]``: the first pair judges
    Ingresses, the second (``<name>-gateway-api``) Gateway API Routes, Gateways and ListenerSets
    (their hostnames under the tenant's domains, their parent Gateways and GatewayClasses of the
    tenant's fleets; the fleets' own namespaces are not judged). The
    ConfigMap ``name`` in ``namespace`` carries :func:`admission_parameters`; the policy
    (admissionregistration.k8s.io/v1, CEL, no webhook) reads it as ``params`` and the Ingress's
    namespace as ``namespaceObject``; a missing ConfigMap denies (fail closed).
    ``validation_actions`` is the binding's: ``Deny``, or ``Warn``/``Audit`` to observe first.
    ``namespace_selector`` (label equalities) limits the binding to matching namespaces; by
    default every namespace is checked. ``public_excluded_nets`` goes into the parameters
    (:func:`admission_parameters`). Writes to ``ingresses/status`` are matched too: they may not
    change annotations. Raise ConfigError when the configuration is invalid.
    """
    fleet_list = tuple(fleets)
    validate_tenancy(config, fleet_list)
    labels = {
        "app.kubernetes.io/name": "ingress-reconciler",
        "app.kubernetes.io/component": "tenancy",
    }
    params = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": admission_parameters(config, fleet_list, public_excluded_nets=public_excluded_nets),
    }
    policy = {
        "apiVersion": POLICY_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                # ingresses/status too: annotations changed there would skip the rules.
                "resourceRules": [
                    {
                        "apiGroups": ["networking.k8s.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["ingresses", "ingresses/status"],
                    }
                ]
            },
            "variables": policy_variables(),
            "validations": policy_validations(),
        },
    }
    gateway_name = f"{name}-gateway-api"
    gateway_policy = {
        "apiVersion": POLICY_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": gateway_name, "labels": dict(labels)},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                # the objects, not their status (which the fleets' controllers write)
                "resourceRules": [
                    {
                        "apiGroups": ["gateway.networking.k8s.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": list(GATEWAY_API_RESOURCES),
                    }
                ]
            },
            "variables": gateway_policy_variables(),
            "validations": gateway_policy_validations(),
        },
    }

    def binding(policy_name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"policyName": policy_name}
        if namespace_selector:
            spec["matchResources"] = {
                "namespaceSelector": {"matchLabels": dict(namespace_selector)}
            }
        return {
            "apiVersion": POLICY_API_VERSION,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy_name, "labels": dict(labels)},
            "spec": {
                **spec,
                "validationActions": list(validation_actions),
                "paramRef": {
                    "name": name,
                    "namespace": namespace,
                    "parameterNotFoundAction": "Deny",
                },
            },
        }

    return [params, policy, binding(name), gateway_policy, binding(gateway_name)]
