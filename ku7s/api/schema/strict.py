"""Checking a JSON object against the schema, as kube-apiserver's decoder does: fields the
type does not have are unknown (rejected under ``fieldValidation=Strict``, dropped with a
warning otherwise), and a value of the wrong JSON type is always a bad request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ku7s.api.schema import SCHEMA, Field

_GO_TYPES = {
    "string": "string",
    "int32": "int32",
    "int64": "int64",
    "bool": "bool",
    "double": "float64",
    "bytes": "[]uint8",
    "quantity": "Quantity",
    "intstr": "IntOrString",
    "time": "Time",
    "microtime": "MicroTime",
}


@dataclass
class FieldReport:
    unknown: list[str] = field(default_factory=list)
    #: (struct holding the field, path, Go-like expected type, JSON type found)
    wrong_types: list[tuple[str, str, str, str]] = field(default_factory=list)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind in ("string", "bytes", "time", "microtime"):
        return isinstance(value, str)
    if kind in ("int32", "int64"):
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("quantity", "intstr"):
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    return True  # raw


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check(struct_name: str, obj: Any, *, prune: bool = True) -> FieldReport:
    """Report unknown fields and wrong types; with prune, drop the unknown fields in place."""
    report = FieldReport()
    _check_struct(struct_name, obj, "", report, prune)
    return report


def _check_struct(struct_name: str, obj: Any, path: str, report: FieldReport, prune: bool) -> None:
    struct = SCHEMA.struct(struct_name)
    owner = struct_name.split(".", 1)[1]
    if not isinstance(obj, dict):
        report.wrong_types.append((owner, path, owner, _json_type(obj)))
        return
    fields = struct.by_name()
    for key in list(obj):
        value = obj[key]
        if key in ("apiVersion", "kind") and not path:
            continue
        spec = fields.get(key)
        if spec is None:
            report.unknown.append(_join(path, key))
            if prune:
                del obj[key]
            continue
        if value is None:
            continue
        _check_value(owner, spec, value, _join(path, key), report, prune)


def _check_value(
    owner: str, spec: Field, value: Any, path: str, report: FieldReport, prune: bool
) -> None:
    if spec.repeated:
        if not isinstance(value, list):
            report.wrong_types.append((owner, path, f"[]{_type_name(spec)}", _json_type(value)))
            return
        for i, item in enumerate(value):
            if item is not None:
                _check_one(owner, spec, item, f"{path}[{i}]", report, prune)
        return
    if spec.map:
        if not isinstance(value, dict):
            report.wrong_types.append(
                (owner, path, f"map[string]{_type_name(spec)}", _json_type(value))
            )
            return
        for key, item in value.items():
            if item is not None:
                _check_one(owner, spec, item, f"{path}[{key}]", report, prune)
        return
    _check_one(owner, spec, value, path, report, prune)


def _check_one(
    owner: str, spec: Field, value: Any, path: str, report: FieldReport, prune: bool
) -> None:
    if spec.is_struct:
        _check_struct(spec.type, value, path, report, prune)
    elif not _scalar_ok(spec.type, value):
        report.wrong_types.append((owner, path, _type_name(spec), _json_type(value)))


def _type_name(spec: Field) -> str:
    if spec.is_struct:
        return spec.type.split(".", 1)[1]
    return _GO_TYPES.get(spec.type, spec.type)
