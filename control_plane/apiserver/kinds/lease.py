"""Leases (coordination.k8s.io/v1): node heartbeats and leader election."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors


class LeaseKind(Kind):
    resource = ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True)
    columns: ClassVar[list[Column]] = [NAME, ("Holder", "string", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            errors.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("spec", {}).get("holderIdentity", ""), age(obj)]
