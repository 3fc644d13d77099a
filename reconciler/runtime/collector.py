"""The cyclic garbage collector's thresholds for a process that holds a whole cluster in memory.

A pass allocates hundreds of thousands of small objects that live (endpoints, plan rows, the
records each provider remembers), and CPython's default first threshold (700 allocations) runs
a young collection every few hundred of them, walking every survivor again and again on its
way to the oldest generation. At 10,000 Ingresses that was about a third of the CPU of the
creating pass (py-spy). Almost nothing here is cyclic garbage (JSON objects, frozen
dataclasses and tuples are freed by reference counting the moment they are dropped), so
collecting young objects every 100,000 allocations instead costs no memory worth measuring.
At 10,000 allocations the creating pass at 10,000 Ingresses still spent 0.29 CPU s in the
collector (about a hundred young collections, each walking again the lists a pass is growing,
eight of the middle generation, one full); at 100,000, six young collections and 0.16 s.
"""

from __future__ import annotations

import gc

__all__ = ["COLLECTOR_THRESHOLDS", "keep_as_long_lived", "tune_collector"]

COLLECTOR_THRESHOLDS = (100_000, 10, 10)
"""Young collection every 100,000 net allocations; the older generations as CPython's default."""


def tune_collector() -> None:
    """Set :data:`COLLECTOR_THRESHOLDS` for this process (the commands that run passes call it)."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def keep_as_long_lived() -> None:
    """Move every object alive now out of the collector's generations (``gc.freeze``).

    ``run`` calls it once, when its first full pass has converged: what that pass built (the
    caches of the cluster and of each zone, the desired index) lives as long as the process.
    Left in the generations, its survivors wait in the middle one until its next collection,
    which then walks all of them at once during some later change: at 100,000 Ingresses
    (``bench.onepass``) middle-generation collections took 0.07-0.34 s. Frozen, they are never
    walked again; each is still freed the moment nothing refers to it. The price: cyclic garbage
    not yet collected at that moment (a young collection finds 0-30 such objects) is never
    collected.
    """
    gc.freeze()
