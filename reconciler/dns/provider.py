"""The provider contract, owned by the core: what a DNS backend must do, nothing it may decide."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from reconciler.model.endpoint import Changes, Endpoint

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """A DNS backend: lists record sets and applies change sets. It executes; it never decides.

    ``records`` returns every record set in the provider's zones, TXT ownership records included,
    normalised through :meth:`Endpoint.of`. ``apply`` writes one :class:`Changes` (which may span
    zones) and raises :class:`reconciler.model.errors.ProviderError` with the names that failed.
    ``records_named`` is the incremental pass's read: the record sets at a few names, exactly as
    ``records`` would return them, from what the provider remembers (its own writes included),
    after the same freshness check ``records`` makes. ``generation`` makes that freshness check
    alone and counts the times the provider found its zones changed by someone else (read again).
    """

    @property
    def name(self) -> str:
        """The provider's configured name (``providers[].name``)."""
        ...

    def zones(self) -> Sequence[str]:
        """Normalised names of the zones this provider writes to."""
        ...

    def records(self) -> Sequence[Endpoint]:
        """All record sets currently in the provider's zones."""
        ...

    def generation(self) -> int:
        """After the freshness check: how many times the zones were read from the server (a new
        number means they may hold changes that are not this provider's own writes)."""
        ...

    def records_named(self, names: Collection[str]) -> Sequence[Endpoint]:
        """The record sets at these (normalised) names, as :meth:`records` returns them."""
        ...

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Rewrite desired endpoints into the provider's own shape (e.g. Route53 ALIAS)."""
        ...

    def apply(self, changes: Changes) -> None:
        """Write the changes; raise ProviderError naming what failed."""
        ...
