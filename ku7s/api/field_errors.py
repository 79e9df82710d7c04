"""Field errors worded as kube-apiserver words them, collected for one 422 Invalid answer.

Each error is a field path and a message such as ``Required value``, ``Invalid value: "x":
must be no more than 63 characters`` or ``Unsupported value: "Sometimes": supported values:
"Always", "Never", "OnFailure"``; kubectl prints them as they come.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ku7s.api.validation import dns1123_label_errors, dns1123_subdomain_errors

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_C_IDENTIFIER = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def show(value: Any) -> str:
    """A value as the messages show it: strings quoted, numbers bare, the rest as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass
class FieldErrors:
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # path, reason, message

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, path: str, reason: str, message: str) -> None:
        self.errors.append((path, reason, message))

    def required(self, path: str, detail: str = "") -> None:
        self.add(path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.add(path, "FieldValueInvalid", f"Invalid value: {show(value)}: {detail}")

    def forbidden(self, path: str, detail: str) -> None:
        self.add(path, "FieldValueForbidden", f"Forbidden: {detail}")

    def duplicate(self, path: str, value: Any) -> None:
        self.add(path, "FieldValueDuplicate", f"Duplicate value: {show(value)}")

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        values = ", ".join(json.dumps(s) for s in sorted(supported))
        self.add(
            path,
            "FieldValueNotSupported",
            f"Unsupported value: {show(value)}: supported values: {values}",
        )

    def immutable(self, path: str, value: Any) -> None:
        self.invalid(path, value, "field is immutable")

    # -- common checks ---------------------------------------------------------------------

    def dns_label(self, path: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            self.required(path)
        elif problems := dns1123_label_errors(value):
            self.invalid(path, value, problems[0])

    def path_segment(self, path: str, value: Any) -> None:
        """Names that need only fit in a URL path segment (upstream's ValidatePathSegmentName)."""
        if not isinstance(value, str) or not value:
            self.required(path, "name or generateName is required")
        elif value in (".", ".."):
            self.invalid(path, value, f"may not be '{value}'")
        elif "/" in value or "%" in value:
            self.invalid(path, value, "may not contain '/' or '%'")

    def dns_subdomain(self, path: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            self.required(path)
        elif problems := dns1123_subdomain_errors(value):
            self.invalid(path, value, problems[0])

    def labels(self, path: str, labels: Any) -> None:
        if labels is None:
            return
        if not isinstance(labels, dict):
            self.invalid(path, labels, "must be a map of strings")
            return
        for key, value in labels.items():
            self.qualified_name(path, key)
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
                self.invalid(
                    path,
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                )

    def qualified_name(self, path: str, key: Any) -> None:
        """A label or annotation key: an optional DNS subdomain prefix and a name part."""
        if not isinstance(key, str) or not key:
            self.invalid(path, key, "name part must be non-empty")
            return
        prefix, _, name = key.rpartition("/")
        if prefix and dns1123_subdomain_errors(prefix):
            self.invalid(path, key, "prefix part " + dns1123_subdomain_errors(prefix)[0])
        if len(name) > 63 or not _QUALIFIED_NAME.match(name):
            self.invalid(
                path,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                "or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            )

    def env_var_name(self, path: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            self.required(path)
        elif not _C_IDENTIFIER.match(value):
            self.invalid(
                path,
                value,
                "a valid environment variable name must consist of alphabetic characters, "
                "digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  "
                "or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
                "'[-._a-zA-Z][-._a-zA-Z0-9]*')",
            )

    def port(self, path: str, value: Any, *, required: bool = True) -> None:
        if value is None:
            if required:
                self.required(path)
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.invalid(path, value, "must be between 1 and 65535, inclusive")

    def non_negative(self, path: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def one_of(
        self, path: str, value: Any, supported: Iterable[str], *, required: bool = False
    ) -> None:
        allowed = set(supported)
        if value in (None, ""):
            if required:
                self.required(path)
            return
        if value not in allowed:
            self.not_supported(path, value, allowed)

    def causes(self) -> list[tuple[str, str, str]]:
        return list(self.errors)
