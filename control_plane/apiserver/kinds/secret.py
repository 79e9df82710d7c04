"""Secrets: ``stringData`` is folded into base64 ``data`` on every write, type defaults to
Opaque and cannot change, and values must be valid base64."""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.configmap import validate_immutable_data, validate_keys
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors


class SecretKind(Kind):
    resource = ResourceType("", "v1", "secrets", "secret", "Secret", True)
    field_paths: ClassVar[tuple[str, ...]] = ("type",)
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Type", "string", "", 0),
        ("Data", "integer", "", 0),
        AGE,
    ]

    def default(self, obj: Object) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            if isinstance(data, dict):
                for key, value in string_data.items():
                    data[key] = base64.b64encode(str(value).encode()).decode()

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        validate_keys("data", obj.get("data"), errors)
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                errors.invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("type") != new.get("type"):
            errors.immutable("type", new.get("type"))
        validate_immutable_data(old, new, errors, ("data",))

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("type", ""), len(obj.get("data") or {}), age(obj)]
