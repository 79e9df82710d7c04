"""A custom resource's structural schema (``openAPIV3Schema``): validating an object against
it, defaulting from it and pruning what it does not describe, as the API server does for
every custom resource it stores.

Validation is done by ``jsonschema`` (Draft 4, the dialect OpenAPI 3.0's schemas are closest
to) on a copy of the schema with Kubernetes' extensions translated (``nullable``,
``x-kubernetes-int-or-string``); its errors are worded as kube-apiserver words the same
failures, with the same field paths.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from control_plane.apiserver.custom_resources.validation_rules import check as check_rules
from control_plane.apiserver.custom_resources.validation_rules import compile_rules
from ku7s.api.field_errors import FieldErrors, show
from ku7s.api.meta import clone as meta_clone

Object = dict[str, Any]

PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
EMBEDDED_RESOURCE = "x-kubernetes-embedded-resource"
#: Fields every object has at its root, which the API server (not the schema) governs.
ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _is_integer(_: Any, value: Any) -> bool:
    """JSON numbers without a fraction are integers (1.0 included), booleans are not."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES = Draft4Validator.TYPE_CHECKER.redefine("integer", _is_integer)
_Validator = jsonschema.validators.extend(Draft4Validator, type_checker=_TYPES)
#: The formats upstream checks that jsonschema checks without optional packages, and two
#: of our own below.
_FORMATS = FormatChecker(
    [f for f in ("date", "email", "ipv4", "ipv6", "uuid") if f in FormatChecker.checkers]
)


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


@_FORMATS.checks("byte", raises=(ValueError, binascii.Error))
def _is_base64(value: object) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


def _translated(schema: Any) -> Any:
    """The schema as jsonschema reads it: nullable and int-or-string spelled as types."""
    if isinstance(schema, list):
        return [_translated(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: (_translated(value) if key not in ("enum", "default", "example") else value)
        for key, value in schema.items()
        if not key.startswith("x-kubernetes-") and key not in ("nullable", "format")
    }
    if schema.get("format") in _FORMATS.checkers:
        result["format"] = schema["format"]
    if schema.get(INT_OR_STRING):
        result.pop("type", None)
        result["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in result:
        types = result["type"] if isinstance(result["type"], list) else [result["type"]]
        result["type"] = [*types, "null"]
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    return result


def _path(parts: Iterator[Any] | Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _joined(base: str, child: str) -> str:
    return f"{base}.{child}" if base else child


class StructuralSchema:
    """One version's schema, compiled once and used for every object of that version."""

    def __init__(self, schema: Object) -> None:
        self.schema = schema
        self._validator = _Validator(_translated(schema), format_checker=_FORMATS)
        self._rules = compile_rules(schema, "")
        #: Whether the schema has a set or map list or an embedded resource to check (most
        #: have none, and then no object is walked for them).
        self._checks_lists = _mentions(schema, ("x-kubernetes-list-type",
                                                EMBEDDED_RESOURCE))  # fmt: skip

    # -- validation ----------------------------------------------------------------------

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        body = {k: v for k, v in obj.items() if k != "metadata"}
        reported: set[tuple[str, str]] = set()
        for error in sorted(self._validator.iter_errors(body), key=lambda e: list(e.path)):
            for path, reason, message in _field_errors(error):
                if (path, message) not in reported:
                    reported.add((path, message))
                    errors.add(path, reason, message)
        if self._checks_lists:
            _list_and_embedded_errors(body, self.schema, "", errors)
        if not errors:  # rules see only values of the right shape, as upstream
            check_rules(self._rules, obj, None, errors)

    def validate_transition(self, old: Object, new: Object, errors: FieldErrors) -> None:
        """The rules that compare a value with its old self (oldSelf)."""
        check_rules(self._rules, new, old, errors)

    # -- defaulting and pruning ----------------------------------------------------------

    def unknown_fields(self, obj: Object) -> list[str]:
        """The paths pruning would drop, as strict field validation names them."""
        found: list[str] = []
        _walk(meta_clone(obj), self.schema, root=True, dropped=found)
        return found

    def prune_and_default(self, obj: Object) -> None:
        """Drop the fields the schema does not know (unless it keeps unknown fields there)
        and fill in its defaults, in place; the root's apiVersion, kind and metadata stay."""
        _walk(obj, self.schema, root=True)


def _mentions(schema: Any, keys: tuple[str, ...]) -> bool:
    """Whether any node of the schema has one of the keys."""
    if isinstance(schema, dict):
        return any(k in schema for k in keys) or any(_mentions(v, keys) for v in schema.values())
    if isinstance(schema, list):
        return any(_mentions(v, keys) for v in schema)
    return False


def _list_and_embedded_errors(value: Any, schema: Any, path: str, errors: FieldErrors) -> None:
    """What JSON Schema cannot say: lists of type set or map hold no duplicates (by their
    keys), and an embedded resource has its apiVersion and kind, as upstream checks."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for i, item in enumerate(value):
            identity = (
                {k: item.get(k) for k in keys} if list_type == "map" and isinstance(item, dict)
                else item
            )  # fmt: skip
            if list_type in ("set", "map") and identity in seen:
                errors.duplicate(f"{path}[{i}]", identity)
            seen.append(identity)
            _list_and_embedded_errors(item, schema.get("items"), f"{path}[{i}]", errors)
        return
    if not isinstance(value, dict):
        return
    if schema.get(EMBEDDED_RESOURCE):
        for field in ("apiVersion", "kind"):
            if not value.get(field):
                errors.required(_joined(path, field), "must not be empty")
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        child = properties.get(key, additional if isinstance(additional, dict) else None)
        _list_and_embedded_errors(item, child, _joined(path, key), errors)


def _field_errors(error: ValidationError) -> Iterator[tuple[str, str, str]]:
    path = _path(error.absolute_path)
    value, keyword, limit = error.instance, error.validator, error.validator_value
    where = path or "<root>"
    if keyword == "required":
        present = value if isinstance(value, dict) else {}
        for name in limit:
            if name not in present:
                yield _joined(path, name), "FieldValueRequired", "Required value"
    elif keyword == "enum":
        quoted = ", ".join(show(v) for v in limit)
        yield (
            path,
            "FieldValueNotSupported",
            (f"Unsupported value: {show(value)}: supported values: {quoted}"),
        )
    elif keyword == "type":
        wanted = limit[0] if isinstance(limit, list) else limit
        if isinstance(limit, list) and set(limit) >= {"integer", "string"}:
            wanted = "integer,string"
        yield (
            path,
            "FieldValueTypeInvalid",
            (
                f"Invalid value: {show(_type_name(value))}: {where} in body must be of type "
                f"{wanted}: {show(_type_name(value))}"
            ),
        )
    elif keyword == "maxLength":
        yield path, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes"
    elif keyword in ("maxItems", "maxProperties"):
        what = "items" if keyword == "maxItems" else "properties"
        yield (
            path,
            "FieldValueTooMany",
            (f"Too many: {len(value)}: must have at most {limit} {what}"),
        )
    else:
        yield (
            path,
            "FieldValueInvalid",
            f"Invalid value: {show(value)}: {where} in body "
            + (_detail(keyword, limit, value, error)),
        )


def _type_name(value: Any) -> Any:
    """What upstream shows for a value of the wrong type: the value's JSON type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) and not value.is_integer() else "integer"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _detail(keyword: str, limit: Any, value: Any, error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "minimum":
        strict = schema.get("exclusiveMinimum") is True
        return f"should be greater than {'' if strict else 'or equal to '}{show(limit)}"
    if keyword == "maximum":
        strict = schema.get("exclusiveMaximum") is True
        return f"should be less than {'' if strict else 'or equal to '}{show(limit)}"
    if keyword == "minLength":
        return f"should be at least {limit} chars long"
    if keyword == "pattern":
        return f"should match '{limit}'"
    if keyword == "minItems":
        return f"should have at least {limit} items"
    if keyword == "minProperties":
        return f"should have at least {limit} properties"
    if keyword == "uniqueItems":
        return "shouldn't contain duplicates"
    if keyword == "multipleOf":
        return f"should be a multiple of {show(limit)}"
    if keyword == "format":
        return f"must be of type {limit}: {show(value)}"
    if keyword == "additionalProperties":
        return "may not have additional properties"
    return error.message


def _walk(
    value: Any,
    schema: Object,
    *,
    root: bool = False,
    path: str = "",
    dropped: list[str] | None = None,
) -> None:
    """Prune and default in place; with `dropped`, note the pruned paths instead of
    defaulting."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        keep_unknown = bool(schema.get(PRESERVE_UNKNOWN))
        kept = ROOT_FIELDS if root or schema.get(EMBEDDED_RESOURCE) else ()
        for key in list(value):
            where = _joined(path, key)
            if key in properties:
                _walk(value[key], properties[key], path=where, dropped=dropped)
            elif isinstance(additional, dict):
                _walk(value[key], additional, path=where, dropped=dropped)
            elif not (keep_unknown or additional is True or key in kept):
                del value[key]
                if dropped is not None:
                    dropped.append(where)
        if dropped is not None:
            return
        for key, child in properties.items():
            if key not in value and isinstance(child, dict) and "default" in child:
                value[key] = copy.deepcopy(child["default"])
                _walk(value[key], child)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk(item, items, path=f"{path}[{i}]", dropped=dropped)


def structural_errors(schema: Any, path: str, errors: FieldErrors) -> None:
    """What makes a schema non-structural, as upstream says it: every field's type given
    (unless it is int-or-string or keeps unknown fields), an object at the root."""
    if not isinstance(schema, dict):
        errors.required(path)
        return
    if schema.get("type") != "object":
        if not schema.get("type"):
            errors.required(f"{path}.type", "must not be empty at the root")
        else:
            errors.invalid(f"{path}.type", schema["type"], "must be object at the root")
    _structural(schema, path, errors, root=True)


def _structural(schema: Object, path: str, errors: FieldErrors, *, root: bool = False) -> None:
    typed = schema.get("type") or schema.get(INT_OR_STRING) or schema.get(PRESERVE_UNKNOWN)
    if not root and not typed:
        errors.required(f"{path}.type", "must not be empty for specified object fields")
    for name, child in (schema.get("properties") or {}).items():
        if isinstance(child, dict):
            _structural(child, f"{path}.properties[{name}]", errors)
    for key in ("items", "additionalProperties"):
        child = schema.get(key)
        if isinstance(child, dict):
            _structural(child, f"{path}.{key}", errors)
