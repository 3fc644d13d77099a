"""Test doubles and checks shared by the unit tests: clocks the tests move by hand, and the
check that a module documents what it exports."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from types import ModuleType

__all__ = ["T0", "FakeClock", "FakeTime", "undocumented"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)
"""The moment a :class:`FakeClock` starts at unless told otherwise."""


class FakeClock:
    """A wall clock (``clock() -> datetime``) that moves only when the test says so."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


class FakeTime:
    """A monotonic clock whose ``sleep`` advances it and records each wait."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        """Seconds, as ``time.monotonic`` gives them."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock past it."""
        self.sleeps.append(seconds)
        self.now += seconds


def undocumented(module: ModuleType) -> list[str]:
    """Names in ``module.__all__`` that are missing, or functions and classes without a
    docstring of their own (constants are documented where they are assigned)."""
    missing: list[str] = []
    for name in module.__all__:
        if not hasattr(module, name):
            missing.append(f"{name} (not defined)")
            continue
        value = getattr(module, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        doc = (value.__doc__ or "").strip()
        # a dataclass without a docstring gets its signature as __doc__: not documentation
        if not doc or (inspect.isclass(value) and doc.startswith(f"{value.__name__}(")):
            missing.append(name)
    return missing
