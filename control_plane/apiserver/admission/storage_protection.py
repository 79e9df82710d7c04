"""The StorageObjectInUseProtection admission plugin: every new claim and volume carries
its protection finalizer, which the storage protection controller takes off once nothing
uses the object, so deleting one in use waits instead of pulling data from a pod."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ku7s.api.persistent_volumes import CLAIM_PROTECTION, VOLUME_PROTECTION

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]

_FINALIZERS = {
    "persistentvolumeclaims": CLAIM_PROTECTION,
    "persistentvolumes": VOLUME_PROTECTION,
}


class StorageProtection:
    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        rt = kind.resource
        finalizer = _FINALIZERS.get(rt.plural) if not rt.group else None
        if old is not None or subresource or finalizer is None:
            return
        finalizers = obj.setdefault("metadata", {}).setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)
