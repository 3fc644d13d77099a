"""The provider contract suite (tests/integration/provider_contract.py) on the in-memory provider,
so the double the unit tests lean on behaves like the real providers where the contract says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.provider import Provider
from reconciler.model.endpoint import Changes, Endpoint, Update
from tests.integration.provider_contract import ProviderContract, ProviderHarness


class MemoryHarness:
    """One in-memory "server": every provider() is a view of it, seed() writes around them."""

    def __init__(self, zone: str = "example.test") -> None:
        self.zone = zone
        self.server = InMemoryProvider(name="memory", zones=[zone])

    def provider(self) -> Provider:
        return self.server

    def seed(self, endpoints: Sequence[Endpoint]) -> None:
        """UPSERT, as a person editing the zone would."""
        creates: list[Endpoint] = []
        updates: list[Update] = []
        for endpoint in endpoints:
            seeded = endpoint if endpoint.ttl is not None else replace(endpoint, ttl=300)
            stored = self.server.get(seeded.name, seeded.record_type, seeded.set_identifier)
            if stored is None:
                creates.append(seeded)
            else:
                updates.append(Update(old=stored, new=seeded))
        self.server.apply(Changes(create=tuple(creates), update=tuple(updates)))

    def read(self) -> list[Endpoint]:
        return list(self.server.records())


@pytest.fixture
def harness() -> ProviderHarness:
    return MemoryHarness()


class TestMemoryContract(ProviderContract):
    """The shared provider contract on the in-memory provider."""
