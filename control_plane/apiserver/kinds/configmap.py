"""ConfigMaps: string data and binary data under valid keys; immutable ones stay as made."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_DATA_BYTES = 1024 * 1024


def validate_keys(path: str, data: Any, errors: FieldErrors) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        errors.invalid(path, data, "must be a map")
        return
    for key in data:
        if not isinstance(key, str) or len(key) > 253 or not _CONFIG_KEY.match(key):
            errors.invalid(
                path,
                key,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                "is '[-._a-zA-Z0-9]+')",
            )


def validate_immutable_data(
    old: Object, new: Object, errors: FieldErrors, fields: tuple[str, ...]
) -> None:
    if old.get("immutable"):
        for part in fields:
            if old.get(part) != new.get(part):
                errors.forbidden(part, "field is immutable when `immutable` is set")
        if not new.get("immutable"):
            errors.forbidden("immutable", "field is immutable when `immutable` is set")


class ConfigMapKind(Kind):
    resource = ResourceType(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        True,
        short_names=("cm",),
    )
    columns: ClassVar[list[Column]] = [NAME, ("Data", "integer", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        validate_keys("data", obj.get("data"), errors)
        validate_keys("binaryData", obj.get("binaryData"), errors)
        for key in set(obj.get("data") or {}) & set(obj.get("binaryData") or {}):
            errors.invalid("data", key, "duplicate of key present in binaryData")
        size = sum(len(str(k)) + len(str(v)) for k, v in (obj.get("data") or {}).items())
        if size > MAX_DATA_BYTES:
            errors.add(
                "", "FieldValueTooLong", f"Too long: must have at most {MAX_DATA_BYTES} bytes"
            )

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        validate_immutable_data(old, new, errors, ("data", "binaryData"))

    def row(self, obj: Object) -> list[Any]:
        count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
        return [meta.name_of(obj), count, age(obj)]
