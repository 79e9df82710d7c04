"""What every fault is: a kind, its targets, and an inject that a revert undoes."""

from __future__ import annotations

from typing import Any, Protocol


class Fault(Protocol):
    #: The name users give it: ``pause``, ``stop``, ...
    kind: str
    #: What it hits (node names).
    targets: list[str]

    @property
    def reversible(self) -> bool:
        """False for one-shot faults (restart, start, remove): nothing to revert."""
        ...

    async def inject(self) -> None: ...

    async def revert(self) -> None: ...

    def parameters(self) -> dict[str, Any]:
        """What besides kind and targets it takes to rebuild the fault from its record."""
        ...
