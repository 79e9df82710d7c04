"""Label and field selectors as the Kubernetes API accepts them in query strings.

Label selectors support equality (``a=b``, ``a==b``, ``a!=b``) and set-based requirements
(``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``). Field selectors support ``=``, ``==``
and ``!=`` on dotted paths; which paths are allowed is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


class SelectorError(ValueError):
    """A selector string that cannot be parsed."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case "!":
                return not present
        raise AssertionError(self.operator)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parentheses in {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise SelectorError(f"unbalanced parentheses in {text!r}")
    parts.append("".join(current))
    return parts


def _check_key(key: str, text: str) -> str:
    if not _KEY_RE.match(key):
        raise SelectorError(f"invalid label key {key!r} in selector {text!r}")
    return key


def _check_value(value: str, text: str) -> str:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise SelectorError(f"invalid label value {value!r} in selector {text!r}")
    return value


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")


def _parse_requirement(part: str, text: str) -> Requirement:
    part = part.strip()
    if not part:
        raise SelectorError(f"empty requirement in selector {text!r}")
    if m := _SET_RE.match(part):
        key, op, values = m.group(1), m.group(2), m.group(3)
        vals = tuple(_check_value(v.strip(), text) for v in values.split(","))
        return Requirement(_check_key(key, text), op, vals)
    for op in ("==", "!=", "="):
        if op in part:
            key, value = part.split(op, 1)
            norm = "=" if op == "==" else op
            return Requirement(
                _check_key(key.strip(), text), norm, (_check_value(value.strip(), text),)
            )
    if part.startswith("!"):
        return Requirement(_check_key(part[1:].strip(), text), "!")
    return Requirement(_check_key(part, text), "exists")


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls()
        return cls(tuple(_parse_requirement(p, text) for p in _split_top_level(text)))

    def matches(self, labels: dict[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True)
class FieldSelector:
    """Requirements on object fields, each ``(path, operator, value)``."""

    requirements: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        reqs = []
        for part in text.split(","):
            for op in ("==", "!=", "="):
                if op in part:
                    path, value = part.split(op, 1)
                    reqs.append((path.strip(), "!=" if op == "!=" else "=", value.strip()))
                    break
            else:
                raise SelectorError(f"invalid field selector requirement {part!r}")
        return cls(tuple(reqs))

    @property
    def paths(self) -> set[str]:
        return {path for path, _, _ in self.requirements}

    def matches(self, obj: dict[str, Any], getter: Callable[[dict[str, Any], str], str]) -> bool:
        for path, op, value in self.requirements:
            actual = getter(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True


def field_value(obj: dict[str, Any], path: str) -> str:
    """Read a dotted path such as ``spec.nodeName``; absent fields read as ''."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def from_label_selector(selector: dict[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector object (matchLabels, matchExpressions) as a LabelSelector."""
    if not selector:
        return LabelSelector()
    requirements = [
        Requirement(str(k), "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        operator = operators.get(str(expression.get("operator")))
        if operator is None:
            raise SelectorError(f"{expression.get('operator')!r} is not a valid selector operator")
        values = tuple(str(v) for v in expression.get("values") or ())
        requirements.append(Requirement(str(expression.get("key")), operator, values))
    return LabelSelector(tuple(requirements))


def label_selector_string(selector: dict[str, Any] | None) -> str:
    """The selector as kubectl prints it: 'app=web,tier in (a,b),!debug'."""
    parts = []
    for r in from_label_selector(selector).requirements:
        if r.operator == "=":
            parts.append(f"{r.key}={r.values[0]}")
        elif r.operator in ("in", "notin"):
            parts.append(f"{r.key} {r.operator} ({','.join(r.values)})")
        elif r.operator == "exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(parts)
