"""The TXT ownership registry, byte-compatible with external-dns v0.22.

The registry wraps a :class:`~reconciler.dns.provider.Provider`. On the way up it reads the TXT
ownership records into ``owner``/``resource`` labels of the record sets they own; on the way down
it writes a TXT ownership record beside every record set it creates and removes ours beside every
record set it deletes. It never updates or deletes a record, or touches a TXT value, that is not
ours (see docs/ownership.md). The format of the values and names is
:mod:`reconciler.dns.txt_format`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from reconciler.dns.plan import DEFAULT_MANAGED_TYPES, Conflict, ConflictReason
from reconciler.dns.provider import Provider
from reconciler.dns.txt_format import (
    APEX_LABEL,
    AffixNameMapper,
    OwnershipCache,
    ownership_limits,
    ownership_value,
    reserved_name_patterns,
    txt_name_in_zone,
)
from reconciler.model.endpoint import (
    Changes,
    Endpoint,
    FrozenMap,
    InvalidNameError,
    Label,
    RecordType,
    Update,
    normalize_name,
)
from reconciler.model.errors import ConfigError, ReconcilerError
from reconciler.model.zones import zone_for

__all__ = [
    "OwnershipError",
    "TxtRegistry",
]

log = logging.getLogger(__name__)


# Provider properties of a record that must not be copied onto its TXT (they describe an alias).
_ALIAS_PROPERTIES: Final = frozenset(
    {"alias", "aws/evaluate-target-health", "aws/target-hosted-zone"}
)

RecordKey = tuple[str, str, str]
TxtKey = tuple[str, str]

# plain strings of the enum members read per record (an enum's .value is a property call)
_OWNER: Final = Label.OWNER.value
_RESOURCE: Final = Label.RESOURCE.value
_OWNED_RECORD: Final = Label.OWNED_RECORD.value
_A: Final = RecordType.A.value
_CNAME: Final = RecordType.CNAME.value
_TXT: Final = RecordType.TXT.value
_NO_PROPERTIES: Final = FrozenMap()

# Record types whose ownership TXT names are read with a name (external-dns writes one per type).
_OWNED_TYPES: Final = frozenset(
    {"A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "NAPTR", "SVCB", "HTTPS"}
)


class OwnershipError(ReconcilerError):
    """A change would touch a record or TXT that is not ours; ``names`` lists the records."""

    def __init__(self, message: str, *, names: Iterable[str]) -> None:
        self.names: tuple[str, ...] = tuple(sorted(set(names)))
        super().__init__(f"{message}: {', '.join(self.names)}")


# -- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ownership:
    """One ownership value found in a TXT record set."""

    txt: Endpoint
    """The TXT record set as stored."""
    value: str
    """The target that carries the ownership."""
    labels: FrozenMap
    """Its parsed labels."""

    @property
    def owner(self) -> str:
        return self.labels.get(_OWNER, "")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What one read of the provider found, kept for the apply that follows it."""

    zones: frozenset[str]
    """The provider's zones (a set: zone_for looks names up by suffix)."""
    records: Mapping[RecordKey, Endpoint]
    """Non-ownership record sets as stored (foreign TXT included)."""
    txts: Mapping[TxtKey, Endpoint]
    """TXT record sets that hold at least one ownership value, by (name, set identifier)."""
    index: Mapping[RecordKey, _Ownership]
    """Ownership by (lookup name, type or "" for the old format, set identifier)."""
    labelled: Mapping[RecordKey, Endpoint]
    """What records() returned (records and claims), by key."""


@dataclass(slots=True)
class _TxtEdit:
    """Values to drop from and add to one TXT record set."""

    template: Endpoint
    owned: str
    """The record it is the ownership of (the ``ownedRecord`` label, linking the two)."""
    # frozensets, replaced as they grow: most edits add one value and drop none, and an empty
    # frozenset is one shared object where a set is a new 216 bytes (two per TXT record written)
    drop: frozenset[str] = frozenset()
    add: frozenset[str] = frozenset()


class TxtRegistry:
    """Ownership through TXT records, in external-dns's format, around one provider.

    ``records()`` returns the provider's record sets labelled with their owner and resource, plus
    a *claim* (same name and type, no targets) for every ownership TXT whose record is missing.
    ``apply(changes)`` adds the TXT changes and writes everything in one ``provider.apply``.
    """

    def __init__(
        self,
        *,
        provider: Provider,
        owner_id: str,
        txt_prefix: str = "",
        txt_suffix: str = "",
        wildcard_replacement: str = "",
        managed_types: frozenset[str] = DEFAULT_MANAGED_TYPES,
    ) -> None:
        if not owner_id:
            raise ConfigError("owner id is empty: set ownerId to a name unique to this instance")
        if any(c in owner_id for c in ',="') or owner_id != owner_id.strip():
            raise ConfigError("owner id may not contain ',', '=', '\"' or spaces: choose another")
        self._provider = provider
        self._owner_id = owner_id
        self._mapper = AffixNameMapper.of(txt_prefix, txt_suffix, wildcard_replacement)
        self._managed_types = frozenset(t.upper() for t in managed_types)
        self._reserved = tuple(
            re.compile(p) for p in reserved_name_patterns(self._mapper, self._managed_types)
        )
        self._snapshot: _Snapshot | None = None
        self._ownership = OwnershipCache()

    @property
    def owner_id(self) -> str:
        """This instance's owner id."""
        return self._owner_id

    @property
    def provider(self) -> Provider:
        """The wrapped provider."""
        return self._provider

    @property
    def name(self) -> str:
        """The provider's configured name."""
        return self._provider.name

    def zones(self) -> Sequence[str]:
        """The provider's zones."""
        return self._provider.zones()

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Desired endpoints in the provider's stored form."""
        return self._provider.adjust_endpoints(endpoints)

    @property
    def mapper(self) -> AffixNameMapper:
        """The TXT name mapper in use."""
        return self._mapper

    def txt_name(self, name: str, record_type: str) -> str:
        """The ownership TXT name for a record, knowing the provider's zones (for the apex)."""
        normalised = normalize_name(name)
        return txt_name_in_zone(
            self._mapper, normalised, record_type, zone_for(normalised, self._provider.zones())
        )

    def value_for(self, labels: Mapping[str, str]) -> str:
        """The TXT value we write for a record with ``labels``: our owner id and its resource.

        Other labels are not written: the value stays exactly external-dns's, and whatever else
        the pipeline labels endpoints with (tenants, fleets) never leaks into public DNS.
        """
        return ownership_value(self._owner_id, labels.get(_RESOURCE, ""))

    def reserved_reason(self, name: str) -> str | None:
        """Why ``name`` may not be a record (it is an ownership TXT name), or None."""
        if any(p.search(name) for p in self._reserved):
            example = self._mapper.to_txt_name("www.example.test", "A")
            return (
                f"{name} has the form of an ownership TXT name (as {example} holds the ownership "
                "of www.example.test): a record here could take over another record's "
                "ownership; choose another host"
            )
        return None

    def screen(self, endpoints: Sequence[Endpoint]) -> tuple[list[Endpoint], list[Conflict]]:
        """Desired endpoints whose ownership can be written, and the rest refused with a reason.

        Refused: names in the ownership namespace (:func:`reserved_name_patterns`), and names
        whose ownership TXT would pass DNS limits (first label over 63 bytes, name over 253,
        value over one 255-byte string). Only those endpoints; every other one is kept.
        """
        zones = frozenset(self._provider.zones())
        kept: list[Endpoint] = []
        refused: list[Conflict] = []
        for endpoint in endpoints:
            reason = ConflictReason.RESERVED_NAME
            why = self.reserved_reason(endpoint.name)
            if why is None and endpoint.record_type in self._managed_types:
                reason = ConflictReason.OWNERSHIP_UNENCODABLE
                zone = zone_for(endpoint.name, zones)
                txt_name = txt_name_in_zone(self._mapper, endpoint.name, endpoint.record_type, zone)
                why = ownership_limits(txt_name, self.value_for(endpoint.labels))
            if why is None:
                kept.append(endpoint)
                continue
            refused.append(
                Conflict(
                    name=endpoint.name,
                    record_type=endpoint.record_type,
                    reason=reason,
                    detail=why,
                    resource=endpoint.labels.get(_RESOURCE, ""),
                )
            )
        return kept, refused

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> tuple[Endpoint, ...]:
        """Record sets with ownership labels, plus claims; ownership TXTs themselves left out."""
        self._snapshot = self._read()
        return tuple(self._snapshot.labelled[key] for key in sorted(self._snapshot.labelled))

    def generation(self) -> int:
        """The provider's generation: a new number when its zones were read from the server."""
        return self._provider.generation()

    def records_at(self, names: Collection[str]) -> tuple[Endpoint, ...]:
        """What :meth:`records` returns at these names only (the incremental pass's read).

        The provider is asked for the record sets at the names and at every TXT name that can
        hold their ownership (each record type's, the old format's, the wildcard's), which is
        all that labels a record or makes a claim at a name; the snapshot kept for
        :meth:`apply` covers the same names.
        """
        wanted = frozenset(names)
        zones = frozenset(self._provider.zones())
        self._snapshot = self._derive(
            self._provider.records_named(self._read_names(wanted, zones)), zones
        )
        labelled = self._snapshot.labelled
        return tuple(labelled[key] for key in sorted(labelled) if key[0] in wanted)

    def _read_names(self, names: frozenset[str], zones: frozenset[str]) -> set[str]:
        """The names whose record sets decide what :meth:`records` shows at ``names``."""
        replacement = self._mapper.wildcard_replacement
        found: set[str] = set()
        for name in names:
            forms = {name, self._lookup_name(name)}
            if replacement and name.startswith(replacement + "."):
                forms.add("*" + name[len(replacement) :])
            for form in forms:
                found.add(form)
                zone = zone_for(form, zones)
                for rtype in _OWNED_TYPES | self._managed_types:
                    try:
                        found.add(normalize_name(txt_name_in_zone(self._mapper, form, rtype, zone)))
                    except InvalidNameError:
                        continue
        return found

    def _read(self) -> _Snapshot:
        zones = frozenset(self._provider.zones())
        return self._derive(self._provider.records(), zones)

    def _derive(self, read: Iterable[Endpoint], zones: frozenset[str]) -> _Snapshot:
        records: dict[RecordKey, Endpoint] = {}
        txts: dict[TxtKey, Endpoint] = {}
        index: dict[RecordKey, _Ownership] = {}
        for record in read:
            found = self._ownership_in(record) if record.record_type == RecordType.TXT else None
            if found is None:
                records[record.key] = record
                continue
            txts[(record.name, record.set_identifier)] = record
            owned = self._owned_record(record.name, zones)
            if owned is None:
                log.debug("ownership record not mapped", extra={"txt": record.name})
                continue
            key = (owned[0], owned[1], record.set_identifier)
            earlier = index.get(key)
            if earlier is None or (earlier.owner == self._owner_id != found.owner):
                index[key] = found
        labelled = self._label(records, txts, index, zones)
        return _Snapshot(zones, records, txts, index, labelled)

    def _label(
        self,
        records: Mapping[RecordKey, Endpoint],
        txts: Mapping[TxtKey, Endpoint],
        index: Mapping[RecordKey, _Ownership],
        zones: frozenset[str],
    ) -> dict[RecordKey, Endpoint]:
        """What records() returns: records with their owner, other text, and claims."""
        labelled: dict[RecordKey, Endpoint] = {}
        used: set[RecordKey] = set()
        for key, record in records.items():
            sources = self._sources(record, index)
            used.update(sources)
            if sources and not record.labels:  # the usual case: share the parsed labels
                owned = index[sources[0]].labels
                labelled[key] = record.with_labels(owned) if owned else record
                continue
            labels = dict(record.labels)
            if sources:
                labels.update(index[sources[0]].labels)
            labelled[key] = record.with_labels(labels) if labels != record.labels else record
        # other text in an ownership TXT's record set (one rrset in DNS) is shown as a plain
        # TXT of nobody's, so the planner sees it (a CNAME may not join it)
        for txt in txts.values():
            other_text = [v for v in txt.targets if self._ownership.labels(v) is None]
            if other_text:
                labelled[txt.key] = txt.with_targets(other_text).with_labels({})
        # an ownership TXT name holding only other data cannot take our value (apply refuses
        # it), so the record it stands for reads as nobody's claim, outranking other claims;
        # unless our old-format TXT owns it (apply writes no new-format TXT then; a CNAME
        # would drop that TXT, so a CNAME stays refused)
        for key in sorted(self._blocked(records, zones)):
            old_format = index.get((key[0], "", key[2]))
            if (
                key[1] not in (RecordType.AAAA, RecordType.CNAME, RecordType.TXT)
                and old_format is not None
                and old_format.owner == self._owner_id
            ):
                continue
            for claim in self._claims(key, FrozenMap()):
                labelled.setdefault(claim.key, claim)
        # new-format claims first: they outrank an old-format TXT at the same name
        for key, ownership in sorted(index.items(), key=lambda item: item[0][1] == ""):
            # an old-format TXT without an owner still claims the types missing at its name
            # when a record of another type reads it (apply refuses creating under it); one of
            # another owner already labels that record, which refuses the name
            if key in used and (key[1] or ownership.owner):
                continue
            for claim in self._claims(key, ownership.labels):
                labelled.setdefault(claim.key, claim)
        return labelled

    def _blocked(
        self, records: Mapping[RecordKey, Endpoint], zones: frozenset[str]
    ) -> set[RecordKey]:
        """Keys of the records whose new-format TXT name holds a TXT with no ownership in it."""
        blocked: set[RecordKey] = set()
        for record in records.values():
            if record.record_type != RecordType.TXT:
                continue
            owned = self._owned_record(record.name, zones)
            if owned is not None and owned[1]:
                blocked.add((owned[0], owned[1], record.set_identifier))
        return blocked

    def _ownership_in(self, txt: Endpoint) -> _Ownership | None:
        """The ownership value in a TXT record set (a foreign owner's first), or None."""
        found = [
            _Ownership(txt, value, labels)
            for value in txt.targets
            if (labels := self._ownership.labels(value)) is not None
        ]
        if not found:
            return None
        if len(found) > 1:
            log.warning("several ownership values in one TXT record", extra={"txt": txt.name})
        foreign = [o for o in found if o.owner != self._owner_id]
        return (foreign or found)[0]

    def _owned_record(self, txt_name: str, zones: frozenset[str]) -> tuple[str, str] | None:
        """(lookup name, type) of the record a TXT name stands for, or None."""
        mapped = self._mapper.to_record_name(txt_name)
        if mapped is None:
            return None
        try:
            name = normalize_name(mapped[0])
        except InvalidNameError:
            return None
        apex = zone_for(name, zones)
        if apex is not None and name == f"{APEX_LABEL}.{apex}":
            name = apex
        return name, mapped[1]

    def _lookup_name(self, name: str) -> str:
        """A record name as it appears in TXT names (leading ``*`` replaced when configured)."""
        if self._mapper.wildcard_replacement and name.startswith("*."):
            return self._mapper.wildcard_replacement + name[1:]
        return name

    def _sources(self, record: Endpoint, index: Mapping[RecordKey, _Ownership]) -> list[RecordKey]:
        """Index keys that give a record its ownership, the one that counts first.

        New format first, then the legacy ``cname-`` TXT of an A alias, then the old format (TXT
        at the record's own name; never for AAAA, and never for TXT records themselves).
        """
        name, sid = self._lookup_name(record.name), record.set_identifier
        candidates = [(name, record.record_type, sid)]
        if _is_alias_a(record):
            candidates.append((name, _CNAME, sid))
        if record.record_type not in (RecordType.AAAA, RecordType.TXT):
            candidates.append((name, "", sid))
        return [key for key in candidates if key in index]

    def _claims(self, key: RecordKey, labels: FrozenMap) -> list[Endpoint]:
        name, rtype, sid = key
        if self._mapper.wildcard_replacement and name.startswith(
            self._mapper.wildcard_replacement + "."
        ):
            name = "*" + name[len(self._mapper.wildcard_replacement) :]
        types = [rtype] if rtype else [_A, _CNAME]
        return [
            Endpoint(name, t, (), set_identifier=sid, labels=labels)
            for t in types
            if t in self._managed_types
        ]

    # -- writing -----------------------------------------------------------------------------

    def apply(self, changes: Changes) -> None:
        """Write ``changes`` and their TXT ownership records in one provider call.

        Raises OwnershipError, writing nothing, when an update or delete names a record that is
        not ours or a create meets another owner's ownership record (external-dns #6617).
        """
        snapshot = self._snapshot if self._snapshot is not None else self._read()
        self._snapshot = None
        self._check_ownership(changes, snapshot)
        edits: dict[TxtKey, _TxtEdit] = {}
        creates: list[Endpoint] = []
        updates: list[Update] = []
        deletes: list[Endpoint] = []
        deleted = {d.key for d in changes.delete if d.targets}
        created = {c.key for c in changes.create if c.targets}
        created |= {u.new.key for u in changes.update if u.new.targets}

        for record in changes.create:
            if record.targets:
                creates.append(record)
            key = self._new_format_key(record, snapshot)
            if record.record_type == _CNAME or not self._owned_elsewhere(record, key, snapshot):
                self._claim(record, key, snapshot, edits)
            if record.record_type == RecordType.CNAME:
                # our old-format TXT at the name would sit beside the CNAME: illegal in DNS
                self._release(record, snapshot, edits, new=False, legacy=False, old=True)
        for update in changes.update:
            old, new = update.old, update.new
            if not old.targets and new.targets:
                creates.append(new)
            elif new.targets and not (old.same_record(new) and old.key == new.key):
                updates.append(update)
            key = self._new_format_key(new, snapshot)
            if not self._owned_elsewhere(new, key, snapshot):
                self._claim(new, key, snapshot, edits)
        # which (name, set identifier) of a delete keep a record that may read an old-format TXT
        # (scanned only when something is deleted: a creating pass does not walk every record)
        deleting = {(d.name, d.set_identifier) for d in changes.delete}
        old_format_readers = (
            {
                (name, sid)
                for keys, skip in ((snapshot.records, deleted), (created, ()))
                for name, rtype, sid in keys
                if (name, sid) in deleting
                and rtype not in (RecordType.AAAA, RecordType.TXT)
                and (name, rtype, sid) not in skip
            }
            if deleting
            else set()
        )
        for record in changes.delete:
            if record.targets:
                deletes.append(record)
            still_read = (record.name, record.set_identifier) in old_format_readers
            self._release(record, snapshot, edits, new=True, legacy=True, old=not still_read)

        txt_creates, txt_updates, txt_deletes = self._txt_changes(edits, snapshot)
        batch = Changes(
            create=(*creates, *txt_creates),
            update=(*updates, *txt_updates),
            delete=(*deletes, *txt_deletes),
        )
        if batch.is_empty():
            return
        log.debug(
            "registry applying changes",
            extra={
                "provider": self._provider.name,
                "create": len(batch.create),
                "update": len(batch.update),
                "delete": len(batch.delete),
            },
        )
        self._provider.apply(batch)

    def _check_ownership(self, changes: Changes, snapshot: _Snapshot) -> None:
        not_ours = [
            _show(record)
            for record in (*(u.old for u in changes.update), *changes.delete)
            if (known := snapshot.labelled.get(record.key)) is None or known.owner != self._owner_id
        ]
        if not_ours:
            raise OwnershipError("refusing to change records that are not ours", names=not_ours)
        # the ownership that counts is the one records() reads (the first source), so that
        # what the planner saw as our claim is writable and another owner's claim is not
        claimed = [
            _show(record)
            for record in changes.create
            if (sources := self._sources(record, snapshot.index))
            and snapshot.index[sources[0]].owner != self._owner_id
        ]
        if claimed:
            raise OwnershipError("another owner's ownership record claims", names=claimed)

    def _new_format_key(self, record: Endpoint, snapshot: _Snapshot) -> TxtKey:
        name = txt_name_in_zone(
            self._mapper, record.name, record.record_type, zone_for(record.name, snapshot.zones)
        )
        return normalize_name(name), record.set_identifier

    def _owned_elsewhere(self, record: Endpoint, key: TxtKey, snapshot: _Snapshot) -> bool:
        """Is ``record`` ours through its legacy or old-format TXT while its new-format TXT name
        (``key``) holds other data only? Then that TXT keeps owning it and the other data is left
        alone."""
        name, sid = key
        if (name, _TXT, sid) not in snapshot.records or key in snapshot.txts:
            return False
        sources = self._sources(record, snapshot.index)
        if not sources or snapshot.index[sources[0]].owner != self._owner_id:
            return False
        log.debug("ownership record name holds other data", extra={"record": record.name})
        return True

    def _claim(
        self, record: Endpoint, key: TxtKey, snapshot: _Snapshot, edits: dict[TxtKey, _TxtEdit]
    ) -> None:
        """Make the new-format TXT of ``record`` (at ``key``) hold exactly our current value."""
        value = self.value_for(record.labels)
        edit = self._edit(key, record, snapshot, edits)
        stored = snapshot.txts.get(key)
        if stored is not None:
            edit.drop |= {v for v in stored.targets if self._is_ours(v) and v != value}
        edit.add |= {value}

    def _release(
        self,
        record: Endpoint,
        snapshot: _Snapshot,
        edits: dict[TxtKey, _TxtEdit],
        *,
        new: bool,
        legacy: bool,
        old: bool,
    ) -> None:
        """Drop our ownership values for ``record`` from the chosen TXT formats."""
        zone = zone_for(record.name, snapshot.zones)
        names: list[str] = []
        if new:
            names.append(txt_name_in_zone(self._mapper, record.name, record.record_type, zone))
        if legacy and _is_alias_a(record):
            names.append(txt_name_in_zone(self._mapper, record.name, RecordType.CNAME, zone))
        if old and record.record_type not in (RecordType.AAAA, RecordType.TXT):
            names.append(record.name)
        for name in names:
            key = (normalize_name(name), record.set_identifier)
            stored = snapshot.txts.get(key)
            if stored is None:
                continue
            ours = {v for v in stored.targets if self._is_ours(v)}
            if ours:
                self._edit(key, record, snapshot, edits).drop |= ours

    def _edit(
        self,
        key: TxtKey,
        record: Endpoint,
        snapshot: _Snapshot,
        edits: dict[TxtKey, _TxtEdit],
    ) -> _TxtEdit:
        if key not in edits:
            template = snapshot.txts.get(key) or Endpoint(
                name=key[0],
                record_type=_TXT,
                targets=(),
                set_identifier=record.set_identifier,
                provider_specific=_txt_properties(record),
            )
            edits[key] = _TxtEdit(template, record.name)
        return edits[key]

    def _is_ours(self, value: str) -> bool:
        labels = self._ownership.labels(value)
        return labels is not None and labels.get(_OWNER) == self._owner_id

    def _txt_changes(
        self, edits: Mapping[TxtKey, _TxtEdit], snapshot: _Snapshot
    ) -> tuple[list[Endpoint], list[Update], list[Endpoint]]:
        creates: list[Endpoint] = []
        updates: list[Update] = []
        deletes: list[Endpoint] = []
        occupied: list[str] = []
        for key in sorted(edits):
            edit = edits[key]
            stored = snapshot.txts.get(key) or snapshot.records.get((key[0], _TXT, key[1]))
            current = frozenset(stored.targets) if stored is not None else frozenset()
            # our value may join other text only where ours already shares the record set
            if (
                edit.add - current
                and any(not self._is_ours(v) for v in current - edit.drop)
                and not any(self._is_ours(v) for v in current)
            ):
                occupied.append(key[0])
                continue
            wanted = (current - edit.drop) | edit.add
            # providers keep a record and its TXT in one write by this label (Route53 batches)
            link = FrozenMap.of_item(_OWNED_RECORD, edit.owned)
            if stored is None:
                if wanted:
                    template = edit.template
                    # TXT values are kept as given (normalize_target), sorted like with_targets
                    creates.append(
                        Endpoint(
                            template.name,
                            template.record_type,
                            tuple(sorted(wanted)),
                            template.ttl,
                            template.set_identifier,
                            link,
                            template.provider_specific,
                        )
                    )
            elif not wanted:
                deletes.append(stored.with_labels(link))
            elif wanted != current:
                linked = stored.with_labels(link)
                updates.append(Update(linked, linked.with_targets(wanted)))
        if occupied:
            raise OwnershipError("TXT name holds data that is not ours", names=occupied)
        return creates, updates, deletes


def _is_alias_a(record: Endpoint) -> bool:
    """An A record that is a Route53 ALIAS (its ownership may sit in a legacy ``cname-`` TXT)."""
    alias = record.provider_specific.get("alias", "").lower()
    return record.record_type == RecordType.A and alias in ("true", "a")


def _txt_properties(record: Endpoint) -> FrozenMap:
    """Routing properties a TXT shares with its record (set identifier policies), alias excluded."""
    if not record.set_identifier:
        return _NO_PROPERTIES
    return FrozenMap(
        (k, v) for k, v in record.provider_specific.items() if k not in _ALIAS_PROPERTIES
    )


def _show(record: Endpoint) -> str:
    return f"{record.name} {record.record_type}" + (
        f" [{record.set_identifier}]" if record.set_identifier else ""
    )
