"""The TXT ownership format, byte-compatible with external-dns v0.22: values and names.

Values are in presentation form, exactly as external-dns writes them through Route53::

    "heritage=external-dns,external-dns/owner=<owner>,external-dns/resource=ingress/<ns>/<name>"

Names follow external-dns's affix name mapper (its ``registry/mapper/mapper.go``):
``<type>-<first label>.<rest>`` (for example ``a-www.example.test``), the prefix/suffix attached
to the first label, ``%{record_type}`` in an affix replacing the ``<type>-`` marker, and a leading
``*`` replaced when a wildcard replacement is configured. One deliberate difference: the apex's
TXT is named after the reserved label ``_apex`` (``a-_apex.example.test``), inside the zone
(external-dns issue #449). Pure functions and values only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from reconciler.model.endpoint import (
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    FrozenMap,
    normalize_name,
)
from reconciler.model.errors import ConfigError
from reconciler.model.zones import is_within

__all__ = [
    "APEX_LABEL",
    "HERITAGE",
    "RECORD_TYPE_TEMPLATE",
    "AffixNameMapper",
    "OwnershipCache",
    "ownership_labels",
    "ownership_limits",
    "ownership_txt_name",
    "ownership_value",
    "parse_ownership",
    "reserved_name_patterns",
    "serialize_labels",
    "txt_name_in_zone",
]

HERITAGE: Final = "external-dns"
"""The ``heritage=`` value that marks a TXT record as an ownership record."""

RECORD_TYPE_TEMPLATE: Final = "%{record_type}"
"""Placeholder in a TXT prefix/suffix that the lower-case record type replaces."""

APEX_LABEL: Final = "_apex"
"""Stand-in first label for a zone apex, so that the apex's ownership TXT lies inside the zone."""

# external-dns's mapper.supportedRecords, in its order (the order decides which type wins when
# a %{record_type} affix matches more than one).
_SUPPORTED_TYPES: Final = ("A", "AAAA", "CNAME", "NS", "MX", "PTR", "SRV", "NAPTR", "TXT", "DNAME")

_TXT_STRING_BYTES: Final = 255


# -- the value -------------------------------------------------------------------------------


def serialize_labels(labels: Mapping[str, str]) -> str:
    """External-dns's ``Labels.Serialize(withQuotes=true)``: heritage first, keys sorted, quoted."""
    tokens = [f"heritage={HERITAGE}"]
    tokens += [f"{HERITAGE}/{key}={labels[key]}" for key in sorted(labels)]
    return '"' + ",".join(tokens) + '"'


def ownership_value(owner_id: str, resource: str = "") -> str:
    """The TXT value for a record owned by ``owner_id`` for ``resource`` (e.g. ``ingress/ns/n``)."""
    # serialize_labels({"owner": owner_id, "resource": resource}), its keys already in order
    if resource:
        return f'"heritage={HERITAGE},{HERITAGE}/owner={owner_id},{HERITAGE}/resource={resource}"'
    return f'"heritage={HERITAGE},{HERITAGE}/owner={owner_id}"'


def parse_ownership(value: str) -> dict[str, str] | None:
    """Labels of an ownership TXT value, or None when its heritage is not external-dns.

    Mirrors external-dns's ``NewLabelsFromStringPlain``: surrounding quotes dropped, tokens split
    at commas, a token counts only with exactly one ``=``, keys under ``external-dns/`` kept.
    """
    labels: dict[str, str] = {}
    found_heritage = False
    for token in value.strip('"').split(","):
        parts = token.split("=")
        if len(parts) != 2:
            continue
        key, val = parts
        if key == "heritage":
            if val != HERITAGE:
                return None
            found_heritage = True
            continue
        if key.startswith(HERITAGE):
            labels[key.removeprefix(HERITAGE + "/")] = val
    return labels if found_heritage else None


def ownership_labels(value: str) -> FrozenMap | None:
    """:func:`parse_ownership` as an immutable map, or None."""
    labels = parse_ownership(value)
    return None if labels is None else FrozenMap(labels)


class OwnershipCache:
    """:func:`ownership_labels` remembered per value, for one registry.

    Every pass reads every ownership value again, and a quiet pass reads the very same ones: a
    registry keeps what it parsed, so the values of its zones are parsed once. Bounded: past
    ``limit`` values the cache starts over (a zone that large re-parses at most once per limit).
    """

    __slots__ = ("_cache", "_limit")

    def __init__(self, limit: int = 1 << 16) -> None:
        self._cache: dict[str, FrozenMap | None] = {}
        self._limit = limit

    def labels(self, value: str) -> FrozenMap | None:
        """The ownership labels of ``value`` (None when it is not an ownership value)."""
        try:
            return self._cache[value]
        except KeyError:
            pass
        if len(self._cache) >= self._limit:
            self._cache.clear()
        labels = self._cache[value] = ownership_labels(value)
        return labels

    def __len__(self) -> int:
        return len(self._cache)


# -- the name --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffixNameMapper:
    """External-dns's affix name mapper: record name and type to TXT name, and back."""

    prefix: str = ""
    """Attached before the first label (``%{record_type}`` allowed)."""
    suffix: str = ""
    """Attached after the first label (``%{record_type}`` allowed); exclusive with ``prefix``."""
    wildcard_replacement: str = ""
    """Replaces a leading ``*`` label in TXT names; empty keeps the ``*``."""

    @classmethod
    def of(
        cls, prefix: str = "", suffix: str = "", wildcard_replacement: str = ""
    ) -> AffixNameMapper:
        """A mapper with lower-cased affixes (as external-dns lower-cases them)."""
        if prefix and suffix:
            raise ConfigError("txt prefix and txt suffix are mutually exclusive: set only one")
        return cls(prefix.lower(), suffix.lower(), wildcard_replacement.lower())

    @property
    def record_type_in_affix(self) -> bool:
        """Does an affix carry the ``%{record_type}`` placeholder?"""
        return RECORD_TYPE_TEMPLATE in self.prefix or RECORD_TYPE_TEMPLATE in self.suffix

    def to_txt_name(self, name: str, record_type: str) -> str:
        """The TXT name external-dns writes for record ``name`` of ``record_type``."""
        first, dot, rest = name.partition(".")
        rtype = record_type.lower()
        prefix = self.prefix.replace(RECORD_TYPE_TEMPLATE, rtype)
        suffix = self.suffix.replace(RECORD_TYPE_TEMPLATE, rtype)
        if self.wildcard_replacement and first == "*":
            first = self.wildcard_replacement
        if not self.record_type_in_affix:
            first = f"{rtype}-{first}"
        if not dot:
            return prefix + first + suffix
        return f"{prefix}{first}{suffix}.{rest}"

    def to_record_name(self, txt_name: str) -> tuple[str, str] | None:
        """(record name, record type) that a TXT name stands for; type ``""`` for the old format.

        None when the name does not carry this mapper's affix.
        """
        lower = txt_name.lower()
        if not self.suffix:
            return self._drop_affix(lower)
        if self.prefix:
            return None
        dots = self.suffix.count(".")
        parts = lower.split(".", 1 + dots)
        if len(parts) <= dots:
            return None
        found = self._drop_affix(".".join(parts[: 1 + dots]))
        if found is None or len(parts) <= 1 + dots:
            return found
        return f"{found[0]}.{parts[1 + dots]}", found[1]

    def _drop_affix(self, name: str) -> tuple[str, str] | None:
        prefix, suffix = self.prefix, self.suffix
        if self.record_type_in_affix:
            for rtype in _SUPPORTED_TYPES:
                typed_prefix = prefix.replace(RECORD_TYPE_TEMPLATE, rtype.lower())
                typed_suffix = suffix.replace(RECORD_TYPE_TEMPLATE, rtype.lower())
                if not suffix and name.startswith(typed_prefix):
                    return name.removeprefix(typed_prefix), rtype
                if suffix and name.endswith(typed_suffix):
                    return name[: len(name) - len(typed_suffix)], rtype
            # names written before the template was configured
            prefix = prefix.replace(RECORD_TYPE_TEMPLATE, "")
            suffix = suffix.replace(RECORD_TYPE_TEMPLATE, "")
        if not suffix and name.startswith(prefix):
            return _split_type_marker(name.removeprefix(prefix))
        if suffix and name.endswith(suffix):
            return _split_type_marker(name[: len(name) - len(suffix)])
        return None


def _split_type_marker(name: str) -> tuple[str, str]:
    """``a-foo.example`` → (``foo.example``, ``A``); a name without a known marker → (name, "")."""
    head = name.split("-", 1)[0]
    for rtype in _SUPPORTED_TYPES:
        if head == rtype.lower():
            return name.removeprefix(head + "-"), rtype
    return name, ""


def ownership_txt_name(
    name: str,
    record_type: str,
    zone: str | None = None,
    *,
    prefix: str = "",
    suffix: str = "",
    wildcard_replacement: str = "",
) -> str:
    """The name of the ownership TXT for record ``name`` of ``record_type`` in ``zone``.

    External-dns's name, except at the apex of ``zone`` when that name would fall outside the
    zone: then the apex is mapped as if it were ``_apex.<zone>`` (``a-_apex.example.test``).
    """
    mapper = AffixNameMapper.of(prefix, suffix, wildcard_replacement)
    return txt_name_in_zone(mapper, normalize_name(name), record_type, zone)


def txt_name_in_zone(mapper: AffixNameMapper, name: str, record_type: str, zone: str | None) -> str:
    txt = mapper.to_txt_name(name, record_type)
    if zone is not None and name == zone and not is_within(txt, zone):
        txt = mapper.to_txt_name(f"{APEX_LABEL}.{zone}", record_type)
    return txt


_MARK: Final = "zzownedzz"
_REGEX_SPECIAL: Final = frozenset("\\.+*?()|[]{}^$")


def reserved_name_patterns(
    mapper: AffixNameMapper, managed_types: Iterable[str]
) -> tuple[str, ...]:
    """Regular expressions (RE2 and Python alike) of the names that ownership TXTs may take.

    A host matching one is refused: it is, or could be, the ownership TXT name of another record
    (``a-www.example.test`` holds the ownership of ``www.example.test``), and a record there
    would let its owner delete or squat the other record's ownership. One pattern per managed
    type from the configured affixes, plus the wildcard replacement label (the TXT of
    ``*.example.test`` is also that of ``<replacement>.example.test``). Names are matched
    lower-case, without the final dot. The admission policy uses the same patterns.
    """
    patterns: set[str] = set()
    for rtype in sorted({t.upper() for t in managed_types}):
        head, _, tail = mapper.to_txt_name(_MARK, rtype).partition(_MARK)
        patterns.add(f"^{_quote_meta(head)}[^.]*{_quote_meta(tail)}(\\.|$)")
    if mapper.wildcard_replacement:
        patterns.add(f"^{_quote_meta(mapper.wildcard_replacement)}(\\.|$)")
    return tuple(sorted(patterns))


def _quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta`` (Helm's ``regexQuoteMeta``), so the chart renders the same."""
    return "".join(f"\\{c}" if c in _REGEX_SPECIAL else c for c in text)


def ownership_limits(txt_name: str, value: str) -> str | None:
    """Why an ownership TXT of this name and value cannot be written, or None."""
    labels = txt_name.split(".")
    if len(labels[0]) > MAX_LABEL_LENGTH:
        return (
            f"its ownership TXT name {labels[0][:24]}… would have a first label of "
            f"{len(labels[0])} bytes (DNS allows 63): shorten the first label of the host"
        )
    if len(txt_name) > MAX_NAME_LENGTH:
        return (
            f"its ownership TXT name would be {len(txt_name)} bytes long (DNS allows 253): "
            "shorten the host"
        )
    size = len(value.strip('"').encode())
    if size > _TXT_STRING_BYTES:
        return (
            f"its ownership TXT value would be {size} bytes (one TXT string holds 255): "
            "shorten the namespace or name of the resource, or the owner id"
        )
    return None
