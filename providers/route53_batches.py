"""Route53 change batches: which changes must share a call, and how few calls Route53's limits
allow.

A record and its TXT ownership record (linked by the ``ownedRecord`` label, else by name) always
travel in the same call; groups are packed first-fit decreasing into calls of at most 1,000
values and 32,000 value characters (an UPSERT counts twice). A change of type, of alias-ness, of
set identifier or of routing policy cannot be an UPSERT (:func:`needs_replace`). Pure: no client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from providers.route53_records import ROUTING_KEYS, is_alias
from reconciler.model.endpoint import Endpoint, Label, RecordType

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ChangeTypeDef

__all__ = [
    "MAX_CHARS_PER_CALL",
    "MAX_VALUES_PER_CALL",
    "Change",
    "group_of",
    "grouped",
    "needs_replace",
    "pack",
]

MAX_VALUES_PER_CALL = 1000
"""ResourceRecord elements per ``ChangeResourceRecordSets`` call (UPSERT counts twice)."""
MAX_CHARS_PER_CALL = 32000
"""Characters of all Value elements per call (UPSERT counts twice)."""

_TXT_PREFIX = re.compile(r"^(a|aaaa|cname|ns|mx|srv|txt|caa|ptr|naptr)-", re.IGNORECASE)
_ACTION_ORDER = {"DELETE": 0, "CREATE": 1, "UPSERT": 2}


def needs_replace(old: Endpoint, new: Endpoint) -> bool:
    """True when Route53 cannot UPSERT old into new and needs DELETE + CREATE."""
    if old.record_type != new.record_type or old.set_identifier != new.set_identifier:
        return True
    if is_alias(old) != is_alias(new):
        return True
    return any(
        (key in old.provider_specific) != (key in new.provider_specific) for key in ROUTING_KEYS
    )


def group_of(endpoint: Endpoint) -> str:
    """Which changes must share a call: a record and its TXT ownership record."""
    owned = endpoint.labels.get(Label.OWNED_RECORD, "")
    if owned:
        return owned
    if endpoint.record_type == RecordType.TXT:
        first, _, rest = endpoint.name.partition(".")
        stripped = _TXT_PREFIX.sub("", first)
        if stripped != first and stripped:
            return f"{stripped}.{rest}" if rest else stripped
    return endpoint.name


@dataclass(frozen=True, slots=True)
class Change:
    """One Route53 change: action, the record set sent, and the endpoint Route53 then holds."""

    action: str
    record_set: dict[str, Any] = field(hash=False, compare=False)
    endpoint: Endpoint
    group: str
    reproduces: bool = field(default=False, compare=False)
    """Does ``endpoint`` render to ``record_set`` exactly (so a cache may keep it alone)?"""

    @property
    def values(self) -> int:
        count = len(self.record_set.get("ResourceRecords") or ()) or 1
        return count * 2 if self.action == "UPSERT" else count

    @property
    def chars(self) -> int:
        if "AliasTarget" in self.record_set:
            count = len(self.record_set["AliasTarget"]["DNSName"])
        else:
            count = sum(len(rr["Value"]) for rr in self.record_set["ResourceRecords"])
        return count * 2 if self.action == "UPSERT" else count

    def as_api(self) -> ChangeTypeDef:
        return cast("ChangeTypeDef", {"Action": self.action, "ResourceRecordSet": self.record_set})

    def describe(self) -> str:
        return f"{self.action} {self.endpoint.name} {self.endpoint.record_type}"


def grouped(changes: Iterable[Change]) -> list[list[Change]]:
    """Changes by group (sorted), each group DELETEs first, then CREATEs, then UPSERTs."""
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.group, []).append(change)
    return [
        sorted(g, key=lambda c: (_ACTION_ORDER[c.action], c.endpoint.key))
        for _, g in sorted(grouped.items())
    ]


def pack(groups: Sequence[list[Change]]) -> list[list[Change]]:
    """First-fit decreasing of change groups into calls within Route53's per-call limits."""

    sized = [(group, sum(c.values for c in group), sum(c.chars for c in group)) for group in groups]

    def order(entry: tuple[list[Change], int, int]) -> tuple[float, str]:
        group, values, chars = entry
        return -max(values / MAX_VALUES_PER_CALL, chars / MAX_CHARS_PER_CALL), group[0].group

    bins: list[tuple[list[int], list[Change]]] = []
    for group, values, chars in sorted(sized, key=order):
        for used, items in bins:
            if used[0] + values <= MAX_VALUES_PER_CALL and used[1] + chars <= MAX_CHARS_PER_CALL:
                used[0] += values
                used[1] += chars
                items.extend(group)
                break
        else:
            bins.append(([values, chars], list(group)))
    return [items for _, items in bins]
