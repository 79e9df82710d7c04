"""ServiceAccounts; every namespace gets a ``default`` one when it is created."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta


class ServiceAccountKind(Kind):
    returns_deleted_object = True
    resource = ResourceType(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        True,
        short_names=("sa",),
        subresources=("token",),
    )
    columns: ClassVar[list[Column]] = [NAME, ("Secrets", "integer", "", 0), AGE]

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), len(obj.get("secrets") or []), age(obj)]
