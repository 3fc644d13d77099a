"""An in-memory DNS provider: a first-class test double that is as strict as real DNS.

It implements :class:`reconciler.dns.provider.Provider` and enforces the rules Route53 and RFC2136
servers enforce, so that planner and registry bugs fail in unit tests instead of in production:

- a create over an existing record set (same name, type and set identifier) fails;
- a delete of a missing record set, or with other targets (or another TTL, when one is given),
  fails;
- an update whose ``old`` does not match what is stored fails, and an update may not rename;
- a CNAME beside any other data at the same name fails, and so does a CNAME at a zone apex;
- a record set outside every zone, or with no targets, fails;
- TXT targets must be in presentation form (each string in double quotes).

A failed :meth:`InMemoryProvider.apply` changes nothing (the batch is atomic, as in Route53).
Like a real provider it stores DNS data only: endpoint labels are dropped on write, so nothing
can rely on labels surviving a round trip except through TXT ownership records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from reconciler.model.endpoint import (
    Changes,
    Endpoint,
    FrozenMap,
    RecordType,
    Update,
    normalize_name,
)
from reconciler.model.errors import PermanentProviderError, ProviderError
from reconciler.model.zones import zone_for

__all__ = ["InMemoryProvider"]

RecordKey = tuple[str, str, str]


class InMemoryProvider:
    """A strict in-memory DNS provider for tests; see the module docstring for its rules.

    ``apply_calls`` counts every :meth:`apply` call (failed ones included) and ``applied`` keeps
    the change sets that were written, in order.
    """

    def __init__(
        self,
        *,
        name: str,
        zones: Sequence[str],
        records: Iterable[Endpoint] = (),
    ) -> None:
        self._name = name
        self._zones: tuple[str, ...] = tuple(sorted({normalize_name(z) for z in zones}))
        self._records: dict[RecordKey, Endpoint] = {}
        self._apply_calls = 0
        self._applied: list[Changes] = []
        self._pending_failure: ProviderError | None = None
        self._records = self._validated(self._merge({}, creates=tuple(records)))
        self._names: dict[str, set[RecordKey]] = {}
        self._index(self._records)

    # -- the Provider protocol ---------------------------------------------------------------

    @property
    def name(self) -> str:
        """The provider's configured name."""
        return self._name

    def zones(self) -> Sequence[str]:
        """The normalised zone names, sorted."""
        return self._zones

    def records(self) -> Sequence[Endpoint]:
        """Every stored record set, sorted by (name, type, set identifier), without labels."""
        return tuple(self._records[key] for key in sorted(self._records))

    def generation(self) -> int:
        """Always 0: nothing but :meth:`apply` changes what memory holds."""
        return 0

    def records_named(self, names: Collection[str]) -> Sequence[Endpoint]:
        """The stored record sets at these names, sorted as :meth:`records` sorts them."""
        keys = sorted(k for name in set(names) for k in self._names.get(name, ()))
        return tuple(self._records[key] for key in keys)

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Desired endpoints unchanged: memory has no provider-specific shape."""
        return tuple(endpoints)

    def apply(self, changes: Changes) -> None:
        """Apply deletes, then updates, then creates, all or nothing.

        Raises PermanentProviderError naming the offending records when any rule is broken
        (nothing is written then), or the error injected with :meth:`fail_next_apply`.
        """
        self._apply_calls += 1
        if self._pending_failure is not None:
            error, self._pending_failure = self._pending_failure, None
            raise error
        staged = self._merge(
            self._records, creates=changes.create, updates=changes.update, deletes=changes.delete
        )
        changed = [
            *changes.create,
            *changes.delete,
            *(e for u in changes.update for e in (u.old, u.new)),
        ]
        self._records = self._validated(staged, touched={e.key for e in changed})
        self._index(
            (*changes.create, *changes.delete, *(e for u in changes.update for e in (u.old, u.new)))
        )
        self._applied.append(changes)

    def _index(self, touched: Iterable[Endpoint] | Mapping[RecordKey, Endpoint]) -> None:
        """Bring the keys-by-name index up to date for these records (or keys)."""
        keys = touched.keys() if isinstance(touched, Mapping) else [e.key for e in touched]
        for key in keys:
            stored = self._names.setdefault(key[0], set())
            if key in self._records:
                stored.add(key)
            else:
                stored.discard(key)
                if not stored:
                    del self._names[key[0]]

    # -- test helpers ------------------------------------------------------------------------

    @property
    def apply_calls(self) -> int:
        """How many times :meth:`apply` was called, failed calls included."""
        return self._apply_calls

    @property
    def applied(self) -> tuple[Changes, ...]:
        """The change sets written successfully, oldest first."""
        return tuple(self._applied)

    def fail_next_apply(self, error: ProviderError) -> None:
        """Make the next :meth:`apply` raise ``error`` without writing anything."""
        self._pending_failure = error

    def get(self, name: str, record_type: str, set_identifier: str = "") -> Endpoint | None:
        """The stored record set with this key, or None."""
        return self._records.get((normalize_name(name), record_type.upper(), set_identifier))

    # -- rules -------------------------------------------------------------------------------

    def _fail(self, problem: str, names: Iterable[str]) -> PermanentProviderError:
        listed = ", ".join(sorted(set(names)))
        return PermanentProviderError(f"{problem}: {listed}", provider=self._name)

    def _merge(
        self,
        current: Mapping[RecordKey, Endpoint],
        *,
        creates: Sequence[Endpoint] = (),
        updates: Sequence[Update] = (),
        deletes: Sequence[Endpoint] = (),
    ) -> dict[RecordKey, Endpoint]:
        """The record sets after the changes, or raise without touching ``current``."""
        staged = dict(current)
        self._check_unique("more than one change for the same record set", creates, deletes)
        for record in deletes:
            stored = staged.get(record.key)
            if stored is None:
                raise self._fail("delete of a record set that does not exist", [_show(record)])
            if not _matches(stored, record):
                raise self._fail("delete with other data than stored", [_show(record)])
            del staged[record.key]
        seen: set[RecordKey] = set()
        for update in updates:
            old, new = update.old, update.new
            if old.key != new.key:
                raise self._fail("update may not rename a record set", [_show(old), _show(new)])
            if old.key in seen:
                raise self._fail("more than one update of the same record set", [_show(old)])
            seen.add(old.key)
            stored = staged.get(old.key)
            if stored is None:
                raise self._fail("update of a record set that does not exist", [_show(old)])
            if not _matches(stored, old):
                raise self._fail("update whose old data does not match the stored", [_show(old)])
            staged[new.key] = _stored_form(new)
        for record in creates:
            if record.key in staged:
                raise self._fail("create of a record set that already exists", [_show(record)])
            staged[record.key] = _stored_form(record)
        return staged

    def _check_unique(self, problem: str, *groups: Sequence[Endpoint]) -> None:
        for group in groups:
            counts = Counter(record.key for record in group)
            repeated = {_show_key(key) for key, n in counts.items() if n > 1}
            if repeated:
                raise self._fail(problem, repeated)

    def _validated(
        self, records: dict[RecordKey, Endpoint], *, touched: set[RecordKey] | None = None
    ) -> dict[RecordKey, Endpoint]:
        """``records`` when every DNS rule holds for it, else raise. With ``touched`` (the keys
        an apply changed, on a store that held) only the names of those keys are checked: every
        rule is about one record set or one name."""
        if touched is not None:
            keys = {k for n in {k[0] for k in touched} for k in self._names.get(n, ())} | touched
            self._validated({k: records[k] for k in keys if k in records})
            return records
        outside = [key[0] for key in records if zone_for(key[0], self._zones) is None]
        if outside:
            raise self._fail("record set outside every zone", outside)
        empty = [_show(r) for r in records.values() if not r.targets]
        if empty:
            raise self._fail("record set without targets", empty)
        unquoted = [
            _show(r)
            for r in records.values()
            if r.record_type == RecordType.TXT and not all(_is_quoted(t) for t in r.targets)
        ]
        if unquoted:
            raise self._fail("TXT target not in presentation form (double quotes)", unquoted)
        types_at: dict[str, set[str]] = {}
        for name, record_type, _ in records:
            types_at.setdefault(name, set()).add(record_type)
        beside = [
            name for name, types in types_at.items() if RecordType.CNAME in types and len(types) > 1
        ]
        if beside:
            raise self._fail("CNAME beside other data at the same name", beside)
        apex = [
            name
            for name, types in types_at.items()
            if RecordType.CNAME in types and name in self._zones
        ]
        if apex:
            raise self._fail("CNAME at a zone apex", apex)
        return records


def _stored_form(record: Endpoint) -> Endpoint:
    """What a DNS server keeps: the data, not the pipeline's labels."""
    return replace(record, labels=FrozenMap())


def _matches(stored: Endpoint, given: Endpoint) -> bool:
    """Does ``given`` name the stored data (targets; TTL when given; provider properties)?"""
    if stored.targets != given.targets:
        return False
    if given.ttl is not None and given.ttl != stored.ttl:
        return False
    return stored.provider_specific == given.provider_specific


def _is_quoted(target: str) -> bool:
    return len(target) >= 2 and target.startswith('"') and target.endswith('"')


def _show(record: Endpoint) -> str:
    return _show_key(record.key)


def _show_key(key: RecordKey) -> str:
    name, record_type, set_identifier = key
    return f"{name} {record_type}" + (f" [{set_identifier}]" if set_identifier else "")
