"""The DefaultStorageClass and DefaultIngressClass admission plugins: a new claim (or
Ingress) that names no class (the field absent, not "") gets the cluster's default class,
the newest if several are marked, as upstream's plugins do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from control_plane.apiserver.registry import ListOptions
from ku7s.api import meta
from ku7s.api.ingresses import CLASS_ANNOTATION
from ku7s.api.ingresses import DEFAULT_CLASS as DEFAULT_INGRESS_CLASS
from ku7s.api.persistent_volumes import DEFAULT_CLASS as DEFAULT_STORAGE_CLASS

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


@dataclass(frozen=True)
class DefaultClass:
    #: The objects defaulted: (group, plural) and the spec field naming their class.
    group: str
    plural: str
    field: str
    #: The classes: (group, plural) and the annotation marking the default.
    class_group: str
    class_plural: str
    annotation: str

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
        if old is not None or subresource or (rt.group, rt.plural) != (self.group, self.plural):
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get(self.field) is not None:
            return
        if self.plural == "ingresses" and meta.annotations_of(obj).get(CLASS_ANNOTATION):
            return  # the deprecated annotation names the class
        classes = await registry.list(
            registry.kinds.get(self.class_plural, self.class_group), None, ListOptions()
        )
        marked = meta.annotations_of
        defaults = [c for c in classes.items if marked(c).get(self.annotation) == "true"]
        if defaults:
            newest = max(
                defaults,
                key=lambda c: (c["metadata"].get("creationTimestamp", ""), meta.name_of(c)),
            )
            spec[self.field] = meta.name_of(newest)


DEFAULT_STORAGE_CLASS_PLUGIN = DefaultClass(
    "", "persistentvolumeclaims", "storageClassName",
    "storage.k8s.io", "storageclasses", DEFAULT_STORAGE_CLASS,
)  # fmt: skip
DEFAULT_INGRESS_CLASS_PLUGIN = DefaultClass(
    "networking.k8s.io", "ingresses", "ingressClassName",
    "networking.k8s.io", "ingressclasses", DEFAULT_INGRESS_CLASS,
)  # fmt: skip
