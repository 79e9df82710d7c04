"""The PersistentVolumeClaimResize admission plugin: a bound claim may ask for more storage
only when it was made by its class's provisioner and the class allows expansion; less
than it has is refused, as upstream's plugin and validation do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from ku7s.api import meta
from ku7s.api.persistent_volumes import claim_class, requested_storage, storage_of

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class ClaimResize:
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
        if old is None or subresource or rt.group or rt.plural != "persistentvolumeclaims":
            return
        wanted, before = requested_storage(obj), requested_storage(old)
        if wanted == before or not (old.get("spec") or {}).get("volumeName"):
            return
        name = meta.name_of(obj)
        capacity = storage_of((old.get("status") or {}).get("capacity"))
        if wanted < capacity:
            message = "Forbidden: field can not be less than status.capacity"
            cause = ("spec.resources.requests.storage", "FieldValueForbidden", message)
            raise errors.invalid(rt.kind, name, [cause])
        found = await registry.find(
            registry.kinds.get("storageclasses", "storage.k8s.io"), "", claim_class(old)
        )
        if not claim_class(old) or found is None or not found.get("allowVolumeExpansion"):
            raise errors.forbidden(
                "persistentvolumeclaims",
                name,
                "only dynamically provisioned pvc can be resized and the storageclass that "
                "provisions the pvc must support resize",
            )
