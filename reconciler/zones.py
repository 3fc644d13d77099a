"""Which zone a name belongs to: the longest zone that is a suffix of it. Pure."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["is_within", "zone_for"]


def is_within(name: str, zone: str) -> bool:
    """True when normalised ``name`` is ``zone`` itself or a name below it."""
    return name == zone or name.endswith("." + zone)


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """The longest of ``zones`` that contains ``name``, or None."""
    best: str | None = None
    for zone in zones:
        if is_within(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best
