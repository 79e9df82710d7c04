"""Admission plugins that need more than the object itself: they read other objects
through the registry before a write is stored (upstream's mutating admission chain)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class AdmissionPlugin(Protocol):
    """Runs before the object is validated; may change it, or refuse with an APIError."""

    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None: ...


class ValidatingPlugin(Protocol):
    """Runs after the object is validated (and before a delete); may only refuse."""

    async def validate(
        self,
        kind: Kind,
        obj: Object | None,
        old: Object | None,
        *,
        operation: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None: ...
