"""Invariants of the planner, checked with hypothesis over small worlds of colliding records.

The worlds are deliberately tiny (three names, a few targets, two owners besides us) so that
collisions, type clashes, claims and duplicates happen in most examples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from unittest.mock import patch

from hypothesis import example, given, settings
from hypothesis import strategies as st

import reconciler.dns.plan as plan_module
from reconciler.dns.plan import DomainFilter, Plan, Policy, calculate
from reconciler.model.endpoint import Changes, Endpoint

ME = "me"
NAMES = ("a.example.com", "b.example.com", "c.other.org")
TARGETS = {
    "A": ("1.1.1.1", "2.2.2.2", "3.3.3.3"),
    "AAAA": ("::1", "2001:db8::1"),
    "CNAME": ("lb1.example.net", "lb2.example.net"),
    "TXT": ("hello", "world"),
    "MX": ("10 mx.example.com",),
}
MANAGED = (
    frozenset({"A", "AAAA", "CNAME"}),
    frozenset({"A", "CNAME"}),
    frozenset({"A", "AAAA", "CNAME", "TXT"}),
)
FILTERS = (
    DomainFilter(),
    DomainFilter(include=("example.com",)),
    DomainFilter(exclude=("b.example.com",)),
)

PAIR = frozenset({"A", "CNAME"})
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def endpoints(draw: st.DrawFn, *, owners: Sequence[str] | None) -> Endpoint:
    """One endpoint; with ``owners`` it is a current record (owner label), else a desired one."""
    record_type = draw(st.sampled_from(sorted(TARGETS)))
    claim = draw(st.booleans()) and draw(st.booleans())  # about one in four has no targets
    targets = () if claim else draw(st.sets(st.sampled_from(TARGETS[record_type]), min_size=1))
    labels = {"resource": draw(st.sampled_from(("ingress/ns/a", "ingress/ns/b", "ingress/x/c")))}
    if owners is not None:
        labels["owner"] = draw(st.sampled_from(owners))
    return Endpoint.of(
        draw(st.sampled_from(NAMES)),
        record_type,
        targets,
        ttl=draw(st.sampled_from((None, 60, 300))),
        set_identifier=draw(st.sampled_from(("", "", "s1"))),
        labels=labels,
        provider_specific=draw(st.sampled_from(({}, {"alias": "true"}))),
    )


@st.composite
def current_records(draw: st.DrawFn) -> list[Endpoint]:
    """What a registry returns: at most one entry per record key."""
    drawn = draw(st.lists(endpoints(owners=(ME, ME, "other", "")), max_size=8))
    by_key: dict[tuple[str, str, str], Endpoint] = {}
    for endpoint in drawn:
        by_key.setdefault(endpoint.key, endpoint)
    return list(by_key.values())


desired_endpoints = st.lists(endpoints(owners=None), max_size=8)
policies = st.sampled_from(list(Policy))
managed = st.sampled_from(MANAGED)
filters = st.sampled_from(FILTERS)


def _is_record(endpoint: Endpoint) -> bool:
    return bool(endpoint.targets)


def apply(current: Sequence[Endpoint], changes: Changes) -> list[Endpoint]:
    """The zone after ``changes``, as the registry would return it; checks each step is valid."""
    state = {e.key: e for e in current}
    for endpoint in changes.delete:
        assert state.pop(endpoint.key) == endpoint, "delete of a record that is not there"
    for update in changes.update:
        assert update.old.key == update.new.key
        assert state[update.old.key] == update.old, "update of a record that is not there"
        state[update.new.key] = update.new
    for endpoint in changes.create:
        existing = state.get(endpoint.key)
        assert existing is None or (not _is_record(existing) and existing.owner == ME), (
            "create over a record or another owner's claim"
        )
        state[endpoint.key] = endpoint
    return list(state.values())


def _plan(
    current: Sequence[Endpoint],
    desired: Sequence[Endpoint],
    policy: Policy,
    managed_types: frozenset[str],
    domain_filter: DomainFilter,
) -> Plan:
    return calculate(
        current=current,
        desired=desired,
        owner_id=ME,
        policy=policy,
        managed_types=managed_types,
        domain_filter=domain_filter,
    )


def _names_holding_a_cname_beside_other_data(records: Sequence[Endpoint]) -> set[tuple[str, str]]:
    types: dict[tuple[str, str], set[str]] = {}
    for record in records:
        if _is_record(record):
            types.setdefault((record.name, record.set_identifier), set()).add(record.record_type)
    return {row for row, kinds in types.items() if "CNAME" in kinds and len(kinds) > 1}


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies, managed, filters)
def test_applying_the_plan_converges(
    current: list[Endpoint],
    desired: list[Endpoint],
    policy: Policy,
    managed_types: frozenset[str],
    domain_filter: DomainFilter,
) -> None:
    first = calculate(
        current=current,
        desired=desired,
        owner_id=ME,
        policy=policy,
        managed_types=managed_types,
        domain_filter=domain_filter,
    )
    after = apply(current, first.changes)
    second = calculate(
        current=after,
        desired=desired,
        owner_id=ME,
        policy=policy,
        managed_types=managed_types,
        domain_filter=domain_filter,
    )
    assert second.changes.is_empty(), second.changes
    # Applying never makes a name hold a CNAME beside other data that it did not hold before.
    assert _names_holding_a_cname_beside_other_data(after) <= (
        _names_holding_a_cname_beside_other_data(current)
    )


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies)
def test_records_of_others_are_never_touched(
    current: list[Endpoint], desired: list[Endpoint], policy: Policy
) -> None:
    result = calculate(current=current, desired=desired, owner_id=ME, policy=policy)
    changes = result.changes
    for endpoint in changes.delete:
        assert endpoint.owner == ME
        assert endpoint in current
    for update in changes.update:
        assert update.old.owner == ME
        assert update.new.owner == ME
    occupied = {e.key for e in current if _is_record(e) or e.owner != ME}
    for endpoint in changes.create:
        assert endpoint.owner == ME
        assert _is_record(endpoint)
        assert endpoint.key not in occupied
    if policy is not Policy.SYNC:
        assert not changes.delete
    if policy is Policy.CREATE_ONLY:
        assert not changes.update


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies, managed, filters)
@example(  # our old-format A+CNAME claim pair, the A wanted but refused by an AAAA not ours
    current=[
        Endpoint.of("a.example.com", "A", (), labels={"owner": ME}),
        Endpoint.of("a.example.com", "CNAME", (), labels={"owner": ME}),
        Endpoint.of("a.example.com", "AAAA", ("::1",), labels={"owner": ""}),
    ],
    desired=[Endpoint.of("a.example.com", "A", ("1.1.1.1",), labels={"resource": "ingress/x/c"})],
    policy=Policy.SYNC,
    managed_types=MANAGED[0],
    domain_filter=FILTERS[0],
)
def test_only_our_orphan_claims_are_deleted_and_only_under_sync(
    current: list[Endpoint],
    desired: list[Endpoint],
    policy: Policy,
    managed_types: frozenset[str],
    domain_filter: DomainFilter,
) -> None:
    result = _plan(current, desired, policy, managed_types, domain_filter)
    deleted = {e.key for e in result.changes.delete if not _is_record(e)}
    created = {e.key for e in result.changes.create}
    for claim in current:
        if _is_record(claim):
            continue
        here = [
            e
            for e in desired
            if (e.name, e.set_identifier) == (claim.name, claim.set_identifier)
            and domain_filter.matches(e.name)
        ]
        wanted = {e.record_type for e in here if _is_record(e) and e.record_type in managed_types}
        if "CNAME" in wanted and len(wanted) > 1:
            wanted.discard("CNAME")  # refused beside other types: it does not hold the name
        orphan = (
            policy is Policy.SYNC
            and claim.owner == ME
            and claim.record_type in managed_types
            and domain_filter.matches(claim.name)
            and claim.record_type not in wanted
            and not any(not _is_record(e) for e in here)  # a live resource keeps the name
        )
        if orphan and claim.record_type in PAIR:
            # one old-format TXT may stand for an A and a CNAME claim: both stay while one does
            partner = (
                claim.name,
                ({"A", "CNAME"} - {claim.record_type}).pop(),
                claim.set_identifier,
            )
            orphan = not any(
                e.key == partner and e.owner == ME and not _is_record(e) for e in current
            ) or (partner in deleted or partner in created)
        assert (claim.key in deleted) is orphan, claim


UNMANAGED_EXTRAS = st.lists(
    st.builds(
        lambda name, kind, owner, set_id: Endpoint.of(
            name,
            kind,
            {"MX": ("10 mx.example.com",), "SOA": ("ns. admin. 1 2 3 4 5",)}.get(
                kind, ('"v=spf1 -all"',)
            ),
            set_identifier=set_id,
            labels={"owner": owner},
        ),
        st.sampled_from(NAMES),
        st.sampled_from(("MX", "TXT", "SOA")),
        st.sampled_from(("other", "")),
        st.sampled_from(("", "s1")),
    ),
    max_size=4,
)


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, UNMANAGED_EXTRAS, policies, filters)
def test_records_of_unmanaged_types_without_owner_never_refuse_other_types_than_cname(
    current: list[Endpoint],
    desired: list[Endpoint],
    extras: list[Endpoint],
    policy: Policy,
    domain_filter: DomainFilter,
) -> None:
    """An MX, an SPF TXT or the SOA without owner changes nothing when no CNAME is wanted."""
    managed_types = frozenset({"A", "AAAA", "CNAME"})
    without_cname = [e for e in desired if e.record_type != "CNAME"]
    taken = {e.key for e in current}
    added = [e for e in extras if e.key not in taken and not e.owner]

    def plan(records: list[Endpoint]) -> Plan:
        return calculate(
            current=records,
            desired=without_cname,
            owner_id=ME,
            policy=policy,
            managed_types=managed_types,
            domain_filter=domain_filter,
        )

    assert plan([*current, *added]) == plan(current)


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, UNMANAGED_EXTRAS, policies)
def test_records_of_another_owner_refuse_every_create_at_their_name(
    current: list[Endpoint], desired: list[Endpoint], extras: list[Endpoint], policy: Policy
) -> None:
    """Whatever its type, a record another owner's ownership record reaches holds the name."""
    taken = {e.key for e in current}
    added = [e for e in extras if e.key not in taken and e.owner]
    result = calculate(current=[*current, *added], desired=desired, owner_id=ME, policy=policy)
    held = {e.name for e in added}
    assert not [e for e in result.changes.create if e.name in held]


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies)
def test_a_delegation_not_ours_refuses_every_create_at_its_name(
    current: list[Endpoint], desired: list[Endpoint], policy: Policy
) -> None:
    delegation = Endpoint.of("a.example.com", "NS", ("ns1.dns.net",), labels={"owner": ""})
    result = calculate(current=[*current, delegation], desired=desired, owner_id=ME, policy=policy)
    assert not [e for e in result.changes.create if e.name == "a.example.com"]
    apex = Endpoint.of("a.example.com", "SOA", ("ns1.dns.net. admin. 1 2 3 4 5",))
    with_soa = calculate(
        current=[*current, delegation, apex.with_labels({"owner": ""})],
        desired=desired,
        owner_id=ME,
        policy=policy,
    )
    without_ns = calculate(current=current, desired=desired, owner_id=ME, policy=policy)
    # At an apex (the SOA is there) the NS stands in nobody's way but a CNAME's.
    assert {e for e in with_soa.changes.create if e.record_type != "CNAME"} == {
        e for e in without_ns.changes.create if e.record_type != "CNAME"
    }


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, st.randoms(use_true_random=False), policies)
def test_result_does_not_depend_on_input_order(
    current: list[Endpoint], desired: list[Endpoint], rnd: random.Random, policy: Policy
) -> None:
    expected = calculate(current=current, desired=desired, owner_id=ME, policy=policy)
    shuffled_current, shuffled_desired = list(current), list(desired)
    rnd.shuffle(shuffled_current)
    rnd.shuffle(shuffled_desired)
    got = calculate(
        current=tuple(shuffled_current), desired=shuffled_desired, owner_id=ME, policy=policy
    )
    assert got == expected


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies)
def test_inputs_are_not_mutated_and_output_is_sorted(
    current: list[Endpoint], desired: list[Endpoint], policy: Policy
) -> None:
    current_before, desired_before = list(current), list(desired)
    result: Plan = calculate(current=current, desired=desired, owner_id=ME, policy=policy)
    assert current == current_before
    assert desired == desired_before
    assert all(a is b for a, b in zip(current, current_before, strict=True))
    assert all(a is b for a, b in zip(desired, desired_before, strict=True))

    def keys(endpoints: Sequence[Endpoint]) -> list[tuple[str, str, str]]:
        return [e.key for e in endpoints]

    assert keys(result.changes.create) == sorted(keys(result.changes.create))
    assert keys(result.changes.delete) == sorted(keys(result.changes.delete))
    old_keys = [u.old.key for u in result.changes.update]
    assert old_keys == sorted(old_keys)
    conflict_keys = [(c.name, c.record_type, c.resource) for c in result.conflicts]
    assert conflict_keys == sorted(conflict_keys)
    assert len(set(result.conflicts)) == len(result.conflicts)


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints)
def test_every_desired_record_is_planned_present_or_reported(
    current: list[Endpoint], desired: list[Endpoint]
) -> None:
    """No silent drops: under sync, each desired record ends up written or in a conflict."""
    result = calculate(current=current, desired=desired, owner_id=ME)
    after = {e.key: e for e in apply(current, result.changes)}
    refused = {(c.name, c.record_type, c.resource) for c in result.conflicts}
    for endpoint in desired:
        if not _is_record(endpoint) or endpoint.record_type not in {"A", "AAAA", "CNAME"}:
            continue
        written = after.get(endpoint.key)
        served = written is not None and written.owner == ME and written.same_record(endpoint)
        ttl_kept = (
            written is not None
            and endpoint.ttl is None
            and written.owner == ME
            and written.targets == endpoint.targets
            and written.provider_specific == endpoint.provider_specific
        )
        reported = (endpoint.name, endpoint.record_type, endpoint.labels["resource"]) in refused
        assert served or ttl_kept or reported, endpoint


@PROPERTY_SETTINGS
@given(current_records(), desired_endpoints, policies, managed, filters)
@example(
    current=[],
    desired=[Endpoint.of("a.example.com", "A", ["1.1.1.1"], labels={"resource": "ingress/ns/a"})],
    policy=Policy.SYNC,
    managed_types=MANAGED[0],
    domain_filter=FILTERS[0],
)
def test_the_fast_rows_plan_as_the_general_rules_do(
    current: list[Endpoint],
    desired: list[Endpoint],
    policy: Policy,
    managed_types: frozenset[str],
    domain_filter: DomainFilter,
) -> None:
    """Rows the planner settles without its general rules (nothing to do; one lone create) get
    the plan the general rules give them."""

    fast = _plan(current, desired, policy, managed_types, domain_filter)
    with (
        patch.object(plan_module, "_lone_create", lambda row: None),
        patch.object(plan_module, "_converged", lambda row, owner_id: False),
    ):
        general = _plan(current, desired, policy, managed_types, domain_filter)
    assert fast == general
