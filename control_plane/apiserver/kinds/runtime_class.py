"""node.k8s.io/v1 RuntimeClasses: which container runtime handler a pod asks for; the
kubelet refuses a handler its containerd does not have."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors


class RuntimeClassKind(Kind):
    resource = ResourceType(
        "node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", False
    )
    columns: ClassVar[list[Column]] = [NAME, ("Handler", "string", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        handler = obj.get("handler")
        if not handler:
            errors.required("handler")
        else:
            errors.dns_label("handler", handler)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("handler") != new.get("handler"):
            errors.immutable("handler", new.get("handler"))

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("handler", ""), age(obj)]
