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
    "POLICY_API_VERSION",
    "admission_parameters",
    "policy_validations",
    "policy_variables",
    "render_admission_policy",
]

POLICY_API_VERSION = "admissionregistration.k8s.io/v1"


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


def policy_variables() -> list[dict[str, str]]:
    """The policy's CEL variables (name, expression), in order."""

    def param(suffix: str) -> str:
        return (
            "variables.tenant == '' ? [] : "
            f"params.data['tenant.' + variables.tenant + '.{suffix}']"
            ".split(',').filter(x, x != '')"
        )

    selector = "params.data['tenant.' + t + '.selector']"
    variables = [
        ("isStatus", "has(request.subResource) && request.subResource == 'status'"),
        (
            "annotations",
            "has(object.metadata.annotations) ? object.metadata.annotations : {}",
        ),
        (
            "oldAnnotations",
            "oldObject != null && has(oldObject.metadata.annotations) ? "
            "oldObject.metadata.annotations : {}",
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
        ("ownDomains", param("domains")),
        ("excluded", param("excluded")),
        ("ownClasses", param("classes")),
        ("ownTargets", param("targets")),
        ("allDomains", "params.data['domains'].split(',').filter(d, d != '')"),
        (
            "specClass",
            "has(object.spec.ingressClassName) ? object.spec.ingressClassName : ''",
        ),
        ("legacyClass", _annotation_cel(LEGACY_CLASS_ANNOTATION)),
        (
            "className",
            "variables.specClass != '' ? variables.specClass : variables.legacyClass",
        ),
        (
            "hosts",
            _normalized_list_cel(
                "(has(object.spec.rules) ? object.spec.rules"
                ".map(r, has(r.host) ? r.host : '').join(',') : '') + ',' + "
                "(has(object.spec.tls) ? object.spec.tls"
                ".map(t, has(t.hosts) ? t.hosts.join(',') : '').join(',') : '') + ',' + "
                + " + ',' + ".join(_annotation_cel(k) for k in HOSTNAME_ANNOTATIONS)
            ),
        ),
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
        (
            "reservedHosts",
            "variables.hosts.filter(h, params.data['reserved'].split(',')"
            ".exists(p, p != '' && h.matches(p)))",
        ),
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


def policy_validations() -> list[dict[str, str]]:
    """The policy's validations (expression, messageExpression, reason), in order."""
    tenant = "' + variables.tenant + '"
    rules = [
        (
            "variables.tenant != ''",
            "'NamespaceNotInTenant: namespace ' + variables.ns + "
            "(variables.matching.size() > 1 ? ' matches several tenants (' + "
            "variables.matching.join(', ') + ')' : ' belongs to no tenant') + "
            "'; it may publish no host'",
        ),
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
        (
            "variables.conflictHosts.size() == 0",
            "'HostnameConflict: ' + variables.conflictHosts.join(', ') + "
            f"' belong(s) to another tenant, not to tenant {tenant}'",
        ),
        (
            "variables.notAllowedHosts.size() == 0",
            "'HostnameNotAllowed: ' + variables.notAllowedHosts.join(', ') + "
            f"' is not under the domains of tenant {tenant} (' + "
            "variables.ownDomains.join(', ') + ')'",
        ),
        (
            "variables.wideWildcards.size() == 0",
            "'WildcardTooWide: ' + variables.wideWildcards.join(', ') + "
            f"' covers names outside the domains of tenant {tenant} (' + "
            "variables.ownDomains.join(', ') + ')'",
        ),
        (
            "variables.badTargets.size() == 0",
            "'TargetNotAllowed: the target annotation names ' + "
            f"variables.badTargets.join(', ') + ', which tenant {tenant} may not point at'",
        ),
        (
            "variables.nonAscii.size() == 0",
            "'HostnameNotAllowed: ' + variables.nonAscii.join(', ') + ' is not plain ASCII; "
            "write every host and target in ASCII (IDN as punycode, xn--...)'",
        ),
        (
            "variables.reservedHosts.size() == 0",
            "'ReservedName: ' + variables.reservedHosts.join(', ') + ' has the form of an "
            "ownership TXT name (a-<host>, cname-<host>, ...); choose another host'",
        ),
        (
            "variables.privateTargets.size() == 0",
            "'TargetNotInView: ' + variables.privateTargets.join(', ') + ' is a private "
            "address and class ' + variables.className + ' is a public fleet'",
        ),
    ]
    validations: list[dict[str, str]] = []
    for index, (expression, message) in enumerate(rules):
        # Every rule but the first needs a tenant; the first one already reports its absence.
        # Writes to ingresses/status are judged by the last rule alone.
        guarded = expression if index == 0 else f"variables.tenant == '' || ({expression})"
        validations.append(
            {
                "expression": f"variables.isStatus || ({guarded})",
                "messageExpression": message,
                "reason": "Forbidden",
            }
        )
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
    fleets) and ``.targets``.
    """
    fleet_list = tuple(fleets)
    classes = {f.name: f.class_name for f in fleet_list}
    data = {
        "tenants": ",".join(sorted(t.name for t in config.tenants)),
        "unassigned": config.unassigned,
        "domains": ",".join(sorted({d for t in config.tenants for d in t.domains})),
        "reserved": ",".join(sorted(set(config.reserved_names))),
        "publicClasses": ",".join(
            sorted({f.class_name for f in fleet_list if f.visibility == Visibility.PUBLIC})
        ),
        "publicExcludedNets": ",".join(public_excluded_nets),
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

    Returns ``[ConfigMap, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding]``. The
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
    binding_spec: dict[str, Any] = {"policyName": name}
    if namespace_selector:
        binding_spec["matchResources"] = {
            "namespaceSelector": {"matchLabels": dict(namespace_selector)}
        }
    binding = {
        "apiVersion": POLICY_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            **binding_spec,
            "validationActions": list(validation_actions),
            "paramRef": {
                "name": name,
                "namespace": namespace,
                "parameterNotFoundAction": "Deny",
            },
        },
    }
    return [params, policy, binding]
