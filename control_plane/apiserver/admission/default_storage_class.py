"""The DefaultStorageClass admission plugin: a new claim that names no class (the field
absent, not "") gets the cluster's default class, the newest if several are marked, as
upstream's plugin does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_plane.apiserver.registry import ListOptions
from ku7s.api import meta
from ku7s.api.persistent_volumes import DEFAULT_CLASS

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class DefaultStorageClass:
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
        if old is not None or subresource or rt.group or rt.plural != "persistentvolumeclaims":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return
        classes = await registry.list(
            registry.kinds.get("storageclasses", "storage.k8s.io"), None, ListOptions()
        )
        defaults = [c for c in classes.items if meta.annotations_of(c).get(DEFAULT_CLASS) == "true"]
        if defaults:
            newest = max(
                defaults,
                key=lambda c: (c["metadata"].get("creationTimestamp", ""), meta.name_of(c)),
            )
            spec["storageClassName"] = meta.name_of(newest)
