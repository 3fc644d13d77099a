"""The shared test helpers do what the tests rely on."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from tests.doubles import T0, FakeClock, FakeTime, undocumented


def test_undocumented_names_missing_and_undocumented_exports() -> None:
    module = ModuleType("sample")

    def documented() -> None:
        """Says what it does."""

    def bare() -> None:
        pass

    @dataclass
    class Plain:
        value: int

    module.documented = documented  # type: ignore[attr-defined]
    module.bare = bare  # type: ignore[attr-defined]
    module.Plain = Plain  # type: ignore[attr-defined]
    module.LIMIT = 3  # type: ignore[attr-defined]
    module.__all__ = ["documented", "bare", "Plain", "LIMIT", "gone"]  # type: ignore[attr-defined]
    assert undocumented(module) == ["bare", "Plain", "gone (not defined)"]


def test_clocks_move_only_when_told() -> None:
    clock = FakeClock()
    assert clock() == T0
    clock.advance(90)
    assert (clock() - T0).total_seconds() == 90
    time = FakeTime(5.0)
    time.sleep(1.5)
    assert (time.clock(), time.sleeps) == (6.5, [1.5])
