"""Test doubles shared by the unit tests: clocks the tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["T0", "FakeClock", "FakeTime"]

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
