"""Namespaces: Active on creation, with the ``kubernetes`` finalizer; a delete makes them
Terminating until the namespace controller has emptied them and finalized them."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta

NAMESPACE_FINALIZER = "kubernetes"


class NamespaceKind(Kind):
    returns_deleted_object = True
    resource = ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        short_names=("ns",),
        subresources=("status", "finalize"),
    )
    label_names = True
    field_paths: ClassVar[tuple[str, ...]] = ("status.phase",)
    default_propagation = "Background"
    columns: ClassVar[list[Column]] = [NAME, ("Status", "string", "", 0), AGE]

    def default(self, obj: Object) -> None:
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        obj["spec"] = {"finalizers": [NAMESPACE_FINALIZER]}
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, old: Object, new: Object, subresource: str | None) -> Object:
        if subresource == "finalize":
            result = super().prepare_for_update(old, {**old, "metadata": old["metadata"]}, None)
            result["spec"] = {"finalizers": list((new.get("spec") or {}).get("finalizers") or [])}
            return result
        result = super().prepare_for_update(old, new, subresource)
        if subresource is None:
            result["spec"] = old.get("spec", {})  # spec.finalizers only moves through /finalize
        return result

    def after_create(self, obj: Object) -> list[tuple[str, Object]]:
        # The service account controller's job upstream; every namespace has one at once here.
        return [("serviceaccounts", {"metadata": {"name": "default"}})]

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("status", {}).get("phase", ""), age(obj)]
