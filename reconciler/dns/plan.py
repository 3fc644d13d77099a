"""The planner: current records and desired endpoints in, the changes that converge them out.

Pure code: no I/O, logging, clock, randomness or metrics; inputs are never mutated and the result
does not depend on their order (every output tuple is sorted by record key).

The rules follow external-dns's ``plan`` package (``plan.go``, ``conflict.go``, ``policy.go``) with
these differences, all in the direction of touching less:

- A record is ours only when its ``owner`` label equals ``owner_id``. Records that are not ours
  are never updated or deleted, and a desired change that would touch one is returned as a
  :class:`Conflict` instead of being dropped silently.
- A record type is created only where the name (within its set identifier) holds no record that
  is not ours of a managed type, no ownership claim that is not ours, no CNAME that is not ours,
  no record of another owner of any type, no NS delegation that is not ours (an NS at a name
  that also holds an SOA is a zone apex and does not count), and nothing it cannot coexist with
  (a CNAME never shares a name, so creating one is refused beside any record that is not ours).
  Records of other types without owner (MX, SPF TXT, CAA, the apex NS) are left alone and do
  not stand in the way, as in external-dns; see docs/planner.md.
- A change of record type of our own records (CNAME to A/AAAA or back) is a delete and a create
  in the same :class:`~reconciler.model.endpoint.Changes`; when every such create is refused, the
  old
  record stays rather than leaving the name empty. Policies that forbid deletes forbid the pair
  and say so with a :attr:`ConflictReason.POLICY_BLOCKED` conflict.
- Rules about "the name" apply per (name, set identifier), like external-dns's plan rows, with
  one addition: a plain record (no set identifier) shares its name with no other owner's records
  of any set identifier, so those refuse each other's creates.
- Ownership claims (endpoints with no targets) are understood on both sides: a current claim of
  another owner blocks a create at its name, a desired claim (a live Ingress that lost its
  address) keeps our records at its name from being deleted. Under :attr:`Policy.SYNC` our own
  orphan claims (our ownership record, no record, nothing desired at the name and type) are
  deleted: the registry removes their ownership records and writes nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from reconciler.model.endpoint import Changes, Endpoint, Label, RecordType, Update, normalize_name
from reconciler.model.errors import ConfigError

__all__ = [
    "DEFAULT_MANAGED_TYPES",
    "Conflict",
    "ConflictReason",
    "DomainFilter",
    "Plan",
    "Policy",
    "calculate",
]

DEFAULT_MANAGED_TYPES: frozenset[str] = frozenset(
    {RecordType.A.value, RecordType.AAAA.value, RecordType.CNAME.value}
)
"""Record types planned when the caller names none (external-dns's default set)."""

_CNAME = RecordType.CNAME.value
_NS = RecordType.NS.value
_SOA = RecordType.SOA.value
_OWNER = Label.OWNER.value


class Policy(StrEnum):
    """Which kinds of change a pass may make (external-dns's ``--policy`` values)."""

    SYNC = "sync"
    """Create, update and delete."""
    UPSERT_ONLY = "upsert-only"
    """Create and update; never delete."""
    CREATE_ONLY = "create-only"
    """Only create records that do not exist yet."""


class ConflictReason(StrEnum):
    """Why a desired endpoint was not turned into a change."""

    OWNED_BY_OTHER = "record owned by another owner"
    """The record at this key carries another owner's ownership record."""
    UNOWNED_RECORD = "record without ownership record in the way"
    """The record at this key has no ownership record, so it is not ours to change."""
    TYPE_CLASH = "record type cannot coexist at this name"
    """The name holds a record of another type that is not ours, or a CNAME would share it."""
    CLAIM_BLOCKED = "name claimed by another owner"
    """Another owner's ownership record claims the name although its record is missing."""
    DUPLICATE = "another resource wants different data for this record"
    """Several resources want the same record with different data; this one lost."""
    POLICY_BLOCKED = "policy forbids the delete this change needs"
    """Changing the record type needs a delete, and the policy allows none."""
    OWNERSHIP_UNENCODABLE = "ownership record cannot be written for this name"
    """The ownership TXT's name or value would pass DNS limits (label 63, name 253, string 255)."""
    RESERVED_NAME = "name reserved for ownership records"
    """The name is the ownership TXT name of another record (``a-<host>``, affixes applied)."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A desired record the plan refuses to write, with the resource that asked for it."""

    name: str
    """The record name."""
    record_type: str
    """The record type that was desired."""
    reason: ConflictReason
    """Why it is refused."""
    detail: str
    """What is in the way, for people (events, logs)."""
    resource: str
    """The ``resource`` label of the endpoint refused, e.g. ``ingress/ns/name``; may be empty."""


def _prepare_filter(entries: Iterable[str]) -> tuple[str, ...]:
    prepared: set[str] = set()
    for entry in entries:
        text = entry.strip().lower()
        subdomains_only = text.startswith(".")
        body = text.strip(".")
        if not body:
            continue  # external-dns ignores empty filter entries
        name = normalize_name(body)
        prepared.add("." + name if subdomains_only else name)
    return tuple(sorted(prepared))


def _filter_matches(entry: str, name: str) -> bool:
    if entry.startswith("."):
        return name.endswith(entry)
    return name == entry or name.endswith("." + entry)


@dataclass(frozen=True, slots=True)
class DomainFilter:
    """Which names the planner may touch, with external-dns's ``--domain-filter`` semantics.

    An entry matches the name itself and every name below it, on label boundaries
    (``example.com`` matches ``a.example.com`` but not ``badexample.com``); an entry with a
    leading dot (``.example.com``) matches only names below it. No include entry means every
    name; an excluded name never matches. Entries are normalised like names (case, trailing
    dot, IDN); empty entries are ignored, and an entry that is no DNS name raises
    :class:`~reconciler.model.endpoint.InvalidNameError`.
    """

    include: tuple[str, ...] = ()
    """Names (with the names below them) that may be touched; empty: all."""
    exclude: tuple[str, ...] = ()
    """Names (with the names below them) that are never touched."""

    def __post_init__(self) -> None:
        # Normalised once, so equal filters compare equal and matching is plain string work.
        object.__setattr__(self, "include", _prepare_filter(self.include))
        object.__setattr__(self, "exclude", _prepare_filter(self.exclude))

    def matches(self, name: str) -> bool:
        """True when ``name`` is included and not excluded."""
        text = name.strip().lower().rstrip(".")
        if self.include:
            for entry in self.include:
                if _filter_matches(entry, text):
                    break
            else:
                return False
        return not self.exclude or all(not _filter_matches(e, text) for e in self.exclude)


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of :func:`calculate`: what to change, and what was refused."""

    changes: Changes
    """Creates, updates and deletes, each sorted by record key."""
    conflicts: tuple[Conflict, ...]
    """Desired endpoints that were refused, sorted by name, type, resource and reason."""


# --- internals -----------------------------------------------------------------------------


_SortKey = tuple[
    tuple[str, str, str],
    tuple[str, ...],
    bool,
    int,
    tuple[tuple[str, str], ...],
    tuple[tuple[str, str], ...],
]


def _sort_key(endpoint: Endpoint) -> _SortKey:
    """A total order on endpoints, so every choice among equals is deterministic."""
    return (
        endpoint.key,
        endpoint.targets,
        endpoint.ttl is not None,
        endpoint.ttl or 0,
        tuple(endpoint.provider_specific.items()),
        tuple(endpoint.labels.items()),
    )


def _change_key(endpoint: Endpoint) -> tuple[str, str, str]:
    return endpoint.key


def _resource(endpoint: Endpoint) -> str:
    return endpoint.labels.get(Label.RESOURCE, "")


def _is_claim(endpoint: Endpoint) -> bool:
    return not endpoint.targets


def _clashes(a: str, b: str) -> bool:
    """True when records of types ``a`` and ``b`` cannot share a name (RFC 1034 3.6.2)."""
    return a != b and _CNAME in (a, b)


def _in_the_way(
    present: Endpoint, wanted: str, managed_types: frozenset[str], *, apex: bool
) -> bool:
    """Does ``present``, a record that is not ours, stop a create of type ``wanted``?

    Records of managed types are the planner's business, so another owner's (or nobody's) record
    of a managed type holds the name. A CNAME shares its name with nothing, on either side. An NS
    at a name that is no zone apex is a delegation: records written beside it are never served.
    A record of any type that another owner's ownership record reaches holds the name too (an
    old-format TXT owns every type at its name, and the registry refuses creates under it).
    Anything else without an owner (MX, SPF TXT, CAA, the apex NS) is left alone.
    """
    rtype = present.record_type
    if _CNAME in (rtype, wanted) or rtype in managed_types or present.owner:
        return True
    return rtype == _NS and not apex


def _data_differs(desired: Endpoint, current: Endpoint) -> bool:
    if desired.targets != current.targets:
        return True
    if desired.ttl is not None and desired.ttl != current.ttl:
        return True
    return desired.provider_specific != current.provider_specific


def _owned(endpoint: Endpoint, owner_id: str) -> Endpoint:
    return endpoint.with_labels(endpoint.labels.with_item(_OWNER, owner_id))


def _describe_owner(endpoint: Endpoint) -> str:
    return f"owner {endpoint.owner!r}" if endpoint.owner else "no ownership record"


@dataclass(slots=True)
class _Row:
    """Everything at one (name, set identifier): external-dns's plan-table row."""

    records: dict[str, Endpoint] = field(default_factory=dict)
    """Current records with data, by type (any type)."""
    claims: dict[str, Endpoint] = field(default_factory=dict)
    """Current ownership claims without a record, by type."""
    candidates: dict[str, list[Endpoint]] = field(default_factory=lambda: defaultdict(list))
    """Desired endpoints with data, by (managed) type."""
    desired_claim: bool = False
    """A live resource claims the name without data: keep our records."""
    neighbours: Sequence[Endpoint] = ()
    """Current entries not ours at the same name in rows a plain record cannot share the name
    with: another set identifier when this row has none, or no set identifier when it has one."""
    apex: bool = False
    """Some row at this name holds an SOA record: the name is a zone apex, its NS no delegation."""


@dataclass(slots=True)
class _Outcome:
    create: list[Endpoint] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    delete: list[Endpoint] = field(default_factory=list)
    conflicts: set[Conflict] = field(default_factory=set)


def _pick_current(existing: Endpoint | None, new: Endpoint, owner_id: str) -> Endpoint:
    """Of two current entries at one key (a registry should not return both), keep one.

    The one that is not ours wins: in doubt, the planner touches less.
    """
    if existing is None:
        return new

    def rank(e: Endpoint) -> tuple[bool, _SortKey]:
        return (e.owner == owner_id, _sort_key(e))

    return min(existing, new, key=rank)


def _build_rows(
    current: Sequence[Endpoint],
    desired: Sequence[Endpoint],
    managed_types: frozenset[str],
    domain_filter: DomainFilter,
    owner_id: str,
) -> dict[tuple[str, str], _Row]:
    rows: dict[tuple[str, str], _Row] = defaultdict(_Row)
    for endpoint in current:
        if not domain_filter.matches(endpoint.name):
            continue
        row = rows[(endpoint.name, endpoint.set_identifier)]
        bucket = row.claims if _is_claim(endpoint) else row.records
        bucket[endpoint.record_type] = _pick_current(
            bucket.get(endpoint.record_type), endpoint, owner_id
        )
    for endpoint in desired:
        if not domain_filter.matches(endpoint.name):
            continue
        row = rows[(endpoint.name, endpoint.set_identifier)]
        if _is_claim(endpoint):
            row.desired_claim = True
        elif endpoint.record_type in managed_types:
            row.candidates[endpoint.record_type].append(endpoint)
    _link_neighbours(rows, owner_id)
    return rows


def _link_neighbours(rows: dict[tuple[str, str], _Row], owner_id: str) -> None:
    """Set identifiers share a name between owners, but a plain record shares it with no one."""
    foreign: dict[str, list[tuple[str, Endpoint]]] = defaultdict(list)
    apexes: set[str] = set()
    for (name, set_id), row in rows.items():
        if _SOA in row.records:
            apexes.add(name)
        for entry in (*row.records.values(), *row.claims.values()):
            if entry.owner != owner_id:
                foreign[name].append((set_id, entry))
    for (name, set_id), row in rows.items():
        row.apex = name in apexes
        entries = foreign.get(name)
        if entries:  # most names have no foreign entry: keep the shared empty tuple
            row.neighbours = sorted(
                (e for other, e in entries if other != set_id and "" in (other, set_id)),
                key=_sort_key,
            )


def _conflicts_for(
    endpoints: Iterable[Endpoint], reason: ConflictReason, detail: str
) -> set[Conflict]:
    return {
        Conflict(
            name=e.name,
            record_type=e.record_type,
            reason=reason,
            detail=detail,
            resource=_resource(e),
        )
        for e in endpoints
    }


def _resolve(
    candidates: Sequence[Endpoint], current: Endpoint | None, owner_id: str
) -> tuple[Endpoint, list[Endpoint], list[Endpoint]]:
    """Pick the winner among candidates for one key, like external-dns's PerResource resolver.

    The resource that holds our current record keeps it; otherwise the smallest resource label
    wins. Returns (winner, candidates with the winner's data, candidates with other data).
    """
    if len(candidates) == 1:  # the usual case: one resource wants the record
        return candidates[0], [candidates[0]], []
    held_by = _resource(current) if current is not None and current.owner == owner_id else None

    def rank(e: Endpoint) -> tuple[bool, str, _SortKey]:
        return (_resource(e) != held_by, _resource(e), _sort_key(e))

    ordered = sorted(candidates, key=rank)
    winner = ordered[0]
    same = [e for e in ordered if e.same_record(winner)]
    other = [e for e in ordered if not e.same_record(winner)]
    return winner, same, other


def _blocker(
    row: _Row,
    record_type: str,
    owner_id: str,
    replaced: set[str],
    managed_types: frozenset[str],
) -> tuple[ConflictReason, str] | None:
    """Why a record of ``record_type`` cannot be created in ``row``, or None when it can."""
    claim = row.claims.get(record_type)
    if claim is not None and claim.owner != owner_id:
        return ConflictReason.CLAIM_BLOCKED, f"{record_type} claimed with {_describe_owner(claim)}"
    for rtype, record in sorted(row.records.items()):
        if rtype in replaced:
            continue
        if record.owner != owner_id:
            if _in_the_way(record, record_type, managed_types, apex=row.apex):
                delegated = " (a delegation)" if rtype == _NS else ""
                return (
                    ConflictReason.TYPE_CLASH,
                    f"name holds a {rtype} record{delegated} with {_describe_owner(record)}",
                )
        elif _clashes(record_type, rtype):
            return ConflictReason.TYPE_CLASH, f"name holds our {rtype} record, which is not managed"
    for rtype, claim in sorted(row.claims.items()):
        if claim.owner != owner_id:
            return ConflictReason.CLAIM_BLOCKED, f"{rtype} claimed with {_describe_owner(claim)}"
    return _neighbour_blocker(row, record_type, managed_types)


def _neighbour_blocker(
    row: _Row, record_type: str, managed_types: frozenset[str]
) -> tuple[ConflictReason, str] | None:
    """Why an entry not ours in another set identifier at the name refuses the create, or None."""
    for entry in row.neighbours:
        if not _is_claim(entry) and not _in_the_way(
            entry, record_type, managed_types, apex=row.apex
        ):
            continue
        where = (
            f"set identifier {entry.set_identifier!r}"
            if entry.set_identifier
            else "no set identifier"
        )
        if _is_claim(entry):
            reason = ConflictReason.CLAIM_BLOCKED
        elif entry.record_type != record_type:
            reason = ConflictReason.TYPE_CLASH
        elif entry.owner:
            reason = ConflictReason.OWNED_BY_OTHER
        else:
            reason = ConflictReason.UNOWNED_RECORD
        return (
            reason,
            f"name holds a {entry.record_type} entry with {where} and {_describe_owner(entry)}",
        )
    return None


def _winners(row: _Row, owner_id: str, out: _Outcome) -> dict[str, tuple[Endpoint, list[Endpoint]]]:
    """The desired record per type in ``row``, with the candidates that agree with it.

    Refused candidates (a CNAME beside other types, losers with other data) go to ``out``.
    """
    candidates = {t: list(c) for t, c in row.candidates.items() if c}

    # A CNAME cannot share its name: prefer A/AAAA (and any other type) like external-dns does.
    if _CNAME in candidates and len(candidates) > 1:
        others = ", ".join(sorted(t for t in candidates if t != _CNAME))
        out.conflicts |= _conflicts_for(
            candidates.pop(_CNAME), ConflictReason.TYPE_CLASH, f"{others} wanted at the same name"
        )

    winners: dict[str, tuple[Endpoint, list[Endpoint]]] = {}
    for rtype, cands in sorted(candidates.items()):
        winner, same, other = _resolve(cands, row.records.get(rtype), owner_id)
        winners[rtype] = (winner, same)
        if other:
            out.conflicts |= _conflicts_for(
                other,
                ConflictReason.DUPLICATE,
                f"won by {_resource(winner) or 'a resource without resource label'}",
            )
    return winners


# One old-format ownership TXT (at the record's own name) reads as a claim of both types.
_CLAIM_PAIR = frozenset({RecordType.A.value, _CNAME})


def _orphan_claims(
    row: _Row,
    owner_id: str,
    managed_types: frozenset[str],
    winners: Collection[str],
    created: Sequence[Endpoint],
) -> list[Endpoint]:
    """Our claims in ``row`` that nothing wants any more: to delete (their TXT only) under sync.

    An A and a CNAME claim may stand for one old-format TXT, which the registry removes for
    either: while one of the two stays a claim (its create refused), both are kept.
    """
    ours = {t: c for t, c in row.claims.items() if c.owner == owner_id and t not in row.records}
    orphans = {t for t in ours if t in managed_types and t not in winners}
    staying = set(ours) - orphans - {c.record_type for c in created}
    if staying & _CLAIM_PAIR:
        orphans -= _CLAIM_PAIR
    return [ours[t] for t in sorted(orphans)]


def _converged(row: _Row, owner_id: str) -> bool:
    """The usual row of a quiet pass, where the full planning finds nothing to do: one resource
    wants one type, and our record of that type already holds its data, with no claims."""
    if row.claims or len(row.records) != 1 or len(row.candidates) != 1:
        return False
    ((rtype, candidates),) = row.candidates.items()
    record = row.records.get(rtype)
    return (
        len(candidates) == 1
        and record is not None
        and record.owner == owner_id
        and not _data_differs(candidates[0], record)
    )


def _lone_create(row: _Row) -> Endpoint | None:
    """The usual row of a creating pass, which :func:`_plan_row` plans as one create: one
    resource wants one type at a name where nothing is (no record, no claim, no neighbour).
    Returns that resource's endpoint, or None for any other row."""
    if row.records or row.claims or row.neighbours or len(row.candidates) != 1:
        return None
    (candidates,) = row.candidates.values()
    return candidates[0] if len(candidates) == 1 else None


def _plan_row(row: _Row, owner_id: str, managed_types: frozenset[str], policy: Policy) -> _Outcome:
    out = _Outcome()
    winners = _winners(row, owner_id, out)
    ours = {t: r for t, r in row.records.items() if r.owner == owner_id and t in managed_types}
    # Our records that must go for the desired types to exist (a type change).
    replaced = {t for t in ours if t not in winners and any(_clashes(t, w) for w in winners)}

    creates: list[tuple[Endpoint, list[Endpoint]]] = []
    refused = False
    for rtype, (winner, same) in sorted(winners.items()):
        record = row.records.get(rtype)
        if record is not None:
            if record.owner != owner_id:
                reason = (
                    ConflictReason.OWNED_BY_OTHER if record.owner else ConflictReason.UNOWNED_RECORD
                )
                out.conflicts |= _conflicts_for(
                    same, reason, f"{rtype} record has {_describe_owner(record)}"
                )
            elif _data_differs(winner, record):
                new = replace(
                    winner,
                    ttl=winner.ttl if winner.ttl is not None else record.ttl,
                    labels=winner.labels.with_item(_OWNER, owner_id),
                )
                out.update.append(Update(old=record, new=new))
            continue
        blocked = _blocker(row, rtype, owner_id, replaced, managed_types)
        if blocked is not None:
            refused = True
            out.conflicts |= _conflicts_for(same, *blocked)
            continue
        creates.append((_owned(winner, owner_id), same))

    replacements = [ours[t] for t in sorted(replaced)]
    if refused and not creates:
        replacements = []  # keep the old record until its successor can be written
    if replacements and policy is not Policy.SYNC:
        # The new type cannot be written beside the old one, and the policy allows no delete.
        for _, same in creates:
            out.conflicts |= _conflicts_for(
                same,
                ConflictReason.POLICY_BLOCKED,
                f"policy {policy.value} forbids deleting "
                + ", ".join(sorted(r.record_type for r in replacements)),
            )
        creates = []
        replacements = []
    out.create = [c for c, _ in creates]
    out.delete = replacements
    if policy is Policy.SYNC and not row.desired_claim:
        out.delete += [r for t, r in sorted(ours.items()) if t not in winners and t not in replaced]
        out.delete += _orphan_claims(row, owner_id, managed_types, winners, out.create)
    if policy is Policy.CREATE_ONLY:
        out.update = []
    return out


def calculate(
    *,
    current: Sequence[Endpoint],
    desired: Sequence[Endpoint],
    owner_id: str,
    policy: Policy = Policy.SYNC,
    managed_types: frozenset[str] = DEFAULT_MANAGED_TYPES,
    domain_filter: DomainFilter = DomainFilter(),
) -> Plan:
    """Plan the changes that turn ``current`` into ``desired`` for the records ``owner_id`` owns.

    ``current``: record sets as the registry returns them, labelled with ``owner`` (``""`` when
    no ownership record names one) and ``resource``; an endpoint without targets is an ownership
    claim whose record is missing. ``desired``: what the sources want, labelled with
    ``resource``; an endpoint without targets is a live resource without an address, which
    creates nothing and keeps our records at its name. Only ``managed_types`` are planned and
    only names ``domain_filter`` matches are looked at. Raises :class:`ConfigError` for an empty
    ``owner_id`` (it would make every record without an owner ours).
    """
    if not owner_id:
        raise ConfigError("owner id must not be empty: set ownerId")
    rows = _build_rows(current, desired, managed_types, domain_filter, owner_id)
    creates: list[Endpoint] = []
    updates: list[Update] = []
    deletes: list[Endpoint] = []
    conflicts: set[Conflict] = set()
    for key in sorted(rows):
        row = rows[key]
        if _converged(row, owner_id):
            continue  # nothing to change, nothing refused
        lone = _lone_create(row)
        if lone is not None:
            creates.append(_owned(lone, owner_id))
            continue
        outcome = _plan_row(row, owner_id, managed_types, policy)
        creates += outcome.create
        updates += outcome.update
        deletes += outcome.delete
        conflicts |= outcome.conflicts
    # a row plans at most one change per type, so a record set's key orders them totally
    return Plan(
        changes=Changes(
            create=tuple(sorted(creates, key=_change_key)),
            update=tuple(sorted(updates, key=lambda u: u.old.key)),
            delete=tuple(sorted(deletes, key=_change_key)),
        ),
        conflicts=tuple(
            sorted(
                conflicts,
                key=lambda c: (c.name, c.record_type, c.resource, c.reason.value, c.detail),
            )
        ),
    )
