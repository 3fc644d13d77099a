"""Which zone a name belongs to: the longest zone that is a suffix of it. Pure."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["is_within", "zone_for"]


def is_within(name: str, zone: str) -> bool:
    """True when normalised ``name`` is ``zone`` itself or a name below it."""
    return name == zone or name.endswith("." + zone)


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """The longest of ``zones`` that contains ``name``, or None.

    Given a set (or frozenset) of zones, the lookup walks the name's label suffixes, longest
    first, instead of scanning every zone: the cost no longer grows with the number of zones.
    """
    if isinstance(zones, (set, frozenset)):
        if name in zones:
            return name
        dot = name.find(".")
        while dot != -1:
            # name.endswith("." + zone) holds exactly for the zones name[dot + 1:]
            suffix = name[dot + 1 :]
            if suffix in zones:
                return suffix
            dot = name.find(".", dot + 1)
        return None
    best: str | None = None
    for zone in zones:
        if is_within(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best
