"""DNS endpoints and change sets: the values every stage of the DNS pipeline passes on.

Pure code: no I/O, no logging, no clock. Names are normalised on construction (lower case, no
trailing dot, IDN as punycode) and targets are kept sorted, so two endpoints that mean the same
record compare equal whatever order or case their inputs had.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import ItemsView, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar, overload

from reconciler.model.errors import ReconcilerError

__all__ = [
    "Changes",
    "Endpoint",
    "FrozenMap",
    "InvalidNameError",
    "Label",
    "RecordType",
    "Update",
    "normalize_name",
    "normalize_target",
]

_T = TypeVar("_T")

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
# Full stops that IDNA (RFC 3490 section 3.1) treats as label separators.
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# Fast paths (pure, same results as the general code below):
# a name that is already normal: printable ASCII labels of 1..63 characters without space, dot
# or upper case, joined by single dots (normalize_name returns such a name as it is) ...
_NORMAL_NAME = re.compile(r"(?:[!-\-/-@\[-~]{1,63}\.)*[!-\-/-@\[-~]{1,63}")
# ... and an IPv4 address already in its canonical text (no leading zeros, octets <= 255).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


class RecordType(StrEnum):
    """DNS record types the project knows by name."""

    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    TXT = "TXT"
    NS = "NS"
    MX = "MX"
    SRV = "SRV"
    CAA = "CAA"
    PTR = "PTR"
    SOA = "SOA"


class Label(StrEnum):
    """Well-known endpoint label keys (external-dns's names, so TXT records stay compatible)."""

    OWNER = "owner"
    RESOURCE = "resource"
    OWNED_RECORD = "ownedRecord"
    AWS_SD_DESCRIPTION = "aws-sd-description"


class InvalidNameError(ReconcilerError, ValueError):
    """A DNS name or target that cannot be a record; the message says what is wrong."""


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable string mapping (endpoint labels, provider-specific properties)."""

    # A private dict, filled once in key order and never changed: lookups are dict lookups, and
    # a dict of strings is not tracked by the garbage collector (tuples of pairs are, at first).
    __slots__ = ("_hash", "_map")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        if isinstance(items, FrozenMap):
            # already plain and sorted, and never changed: share the dict and its hash
            self._map: dict[str, str] = items._map
            self._hash: int | None = items._hash
            return
        if isinstance(items, dict):
            source = items
        else:
            source = dict(items.items() if isinstance(items, Mapping) else items)
        # Plain str (not e.g. a Label member), so keys compare, hash, print and serialise alike.
        self._map = {_plain(k): _plain(v) for k, v in sorted(source.items())}
        self._hash = None

    @classmethod
    def of_item(cls, key: str, value: str) -> FrozenMap:
        """A map of one entry (``FrozenMap({key: value})``, without sorting one key)."""
        made = cls.__new__(cls)
        made._map = {_plain(key): _plain(value)}
        made._hash = None
        return made

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, default: str | _T, /) -> str | _T: ...

    def get(self, key: str, default: object = None, /) -> object:
        """The value at ``key``, or ``default``."""
        return self._map.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def items(self) -> ItemsView[str, str]:
        """(key, value) pairs in key order."""
        return self._map.items()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._map.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._map == other._map
        if isinstance(other, Mapping):
            return self._map == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._map!r})"

    def with_item(self, key: str, value: str) -> FrozenMap:
        """A copy with ``key`` set to ``value`` (this map when it holds that already)."""
        if self._map.get(key) == value:
            return self
        return FrozenMap({**self._map, key: value})

    def without(self, key: str) -> FrozenMap:
        """A copy without ``key`` (this map when it has no ``key``)."""
        if key not in self._map:
            return self
        return FrozenMap((k, v) for k, v in self._map.items() if k != key)


_EMPTY = FrozenMap()  # immutable, so one instance serves every empty map


def _frozen(items: Mapping[str, str] | None) -> FrozenMap:
    """``items`` as a FrozenMap: the same instance when it is one (immutable, so shareable)."""
    if isinstance(items, FrozenMap):
        return items
    return FrozenMap(items) if items else _EMPTY


def _plain(text: str) -> str:
    return text if type(text) is str else str.__str__(text) if isinstance(text, str) else text


def normalize_name(name: str) -> str:
    """Lower case, no trailing dot, IDN labels as punycode; else raise InvalidNameError.

    A leading ``*`` label (wildcard) is kept. Lengths follow RFC 1035 (label ≤ 63, name ≤ 253).
    """
    if len(name) <= MAX_NAME_LENGTH and name.isascii():
        lowered = name.lower()
        if _NORMAL_NAME.fullmatch(lowered):
            # the same object when nothing changed: one string per name, however often it is met
            return name if lowered == name else lowered
    return _normalize_name_general(name)


def _normalize_name_general(name: str) -> str:
    """:func:`normalize_name` without its fast path (any input)."""
    text = name.strip().translate(_IDNA_DOTS).rstrip(".")
    if not text:
        raise InvalidNameError("empty DNS name")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidNameError(f"{name!r}: whitespace or control character in a DNS name")
    labels: list[str] = []
    for raw in text.split("."):
        if not raw:
            raise InvalidNameError(f"{name!r}: empty label")
        if raw.isascii():
            label = raw.lower()
        else:
            try:
                label = raw.encode("idna").decode("ascii").lower()
            except UnicodeError as exc:
                raise InvalidNameError(f"{name!r}: label {raw!r} is not a valid IDN label") from exc
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidNameError(f"{name!r}: label {label[:20]!r}… is longer than 63 bytes")
        labels.append(label)
    result = ".".join(labels)
    if len(result) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{name!r}: name is longer than 253 bytes")
    return result


def normalize_target(record_type: str, target: str) -> str:
    """Canonical text of one target so that comparison ignores case and formatting.

    A/AAAA: the address in its canonical form. Name-valued types: a normalised DNS name. Other
    types (TXT, MX, SRV, …) are kept as given: their case can be meaningful.
    """
    if record_type == RecordType.A:
        if _CANONICAL_IPV4.fullmatch(target):
            return target
        try:
            return str(ipaddress.IPv4Address(target.strip()))
        except ValueError as exc:
            raise InvalidNameError(f"{target!r} is not an IPv4 address") from exc
    if record_type == RecordType.AAAA:
        try:
            address = ipaddress.IPv6Address(target.strip())
        except ValueError as exc:
            raise InvalidNameError(f"{target!r} is not an IPv6 address") from exc
        if address.scope_id is not None:
            raise InvalidNameError(f"{target!r}: an AAAA record cannot carry a zone index")
        return str(address)
    if record_type in (RecordType.CNAME, RecordType.NS, RecordType.PTR):
        return normalize_name(target)
    return target


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One DNS record set: a name, a type and its targets, plus what the pipeline knows about it.

    Construct through :meth:`Endpoint.of` to normalise; the plain constructor trusts its input.
    """

    name: str
    """Fully qualified name, normalised (lower case, no trailing dot, punycode)."""
    record_type: str
    """Record type, e.g. ``"A"``; a :class:`RecordType` value for the types we know."""
    targets: tuple[str, ...]
    """Normalised, sorted, unique targets."""
    ttl: int | None = None
    """TTL in seconds, or ``None`` for the provider's default."""
    set_identifier: str = ""
    """Routing-policy set identifier (Route53 weighted/latency records); empty for plain records."""
    labels: FrozenMap = field(default=_EMPTY)
    """Metadata such as ``owner`` and ``resource``; not written as DNS data except through TXT."""
    provider_specific: FrozenMap = field(default=_EMPTY)
    """Provider knobs, e.g. ``alias=true`` or ``aws/evaluate-target-health=true``."""

    @classmethod
    def of(
        cls,
        name: str,
        record_type: str,
        targets: Iterable[str],
        *,
        ttl: int | None = None,
        set_identifier: str = "",
        labels: Mapping[str, str] | None = None,
        provider_specific: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Build a normalised endpoint; raise InvalidNameError for a bad name, target or TTL."""
        rtype = record_type.upper()
        if ttl is not None and not 0 <= ttl <= MAX_TTL:
            raise InvalidNameError(f"TTL {ttl} is outside 0..{MAX_TTL}")
        return cls(
            name=normalize_name(name),
            record_type=rtype,
            targets=tuple(sorted({normalize_target(rtype, t) for t in targets})),
            ttl=ttl,
            set_identifier=set_identifier,
            labels=_frozen(labels),
            provider_specific=_frozen(provider_specific),
        )

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the record set: (name, type, set identifier)."""
        return (self.name, self.record_type, self.set_identifier)

    @property
    def owner(self) -> str:
        """The owner label, or ``""`` when no ownership record names one."""
        return self.labels.get(Label.OWNER, "")

    def with_labels(self, labels: Mapping[str, str]) -> Endpoint:
        """A copy with ``labels`` replacing the current labels."""
        # the constructor, not dataclasses.replace: same fields, a fraction of the cost
        return Endpoint(
            self.name,
            self.record_type,
            self.targets,
            self.ttl,
            self.set_identifier,
            _frozen(labels),
            self.provider_specific,
        )

    def with_ttl(self, ttl: int | None) -> Endpoint:
        """A copy with ``ttl``."""
        return Endpoint(
            self.name,
            self.record_type,
            self.targets,
            ttl,
            self.set_identifier,
            self.labels,
            self.provider_specific,
        )

    def with_targets(self, targets: Iterable[str]) -> Endpoint:
        """A copy with new (normalised) targets."""
        return Endpoint(
            self.name,
            self.record_type,
            tuple(sorted({normalize_target(self.record_type, t) for t in targets})),
            self.ttl,
            self.set_identifier,
            self.labels,
            self.provider_specific,
        )

    def same_record(self, other: Endpoint) -> bool:
        """True when both hold the same DNS data (targets, TTL, provider properties)."""
        return (
            self.targets == other.targets
            and self.ttl == other.ttl
            and self.provider_specific == other.provider_specific
        )


@dataclass(frozen=True, slots=True)
class Update:
    """One record set changed in place: what is there now, and what it becomes."""

    old: Endpoint
    """The record as the provider holds it (with its ownership labels)."""
    new: Endpoint
    """The record as it should be."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What one pass changes in one provider. Empty means converged."""

    create: tuple[Endpoint, ...] = ()
    """Record sets that do not exist yet."""
    update: tuple[Update, ...] = ()
    """Record sets that exist and change, as (old, new) pairs."""
    delete: tuple[Endpoint, ...] = ()
    """Record sets to remove, as the provider holds them."""

    def is_empty(self) -> bool:
        """True when nothing changes."""
        return not (self.create or self.update or self.delete)

    def __len__(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)
