"""``x-kubernetes-validations``: CEL rules on a custom resource's schema, compiled once per
definition (``common-expression-language``) and checked on every write with ``self`` the
value at the rule's place (and ``oldSelf`` its value before, for transition rules, which
are checked only on updates where it had one), failing with upstream's words:
``spec: Invalid value: "object": <message>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cel

from ku7s.api.field_errors import FieldErrors

Object = dict[str, Any]
RULES = "x-kubernetes-validations"
_MISSING = object()


@dataclass(frozen=True)
class Rule:
    source: str
    program: Any
    message: str
    message_expression: Any | None
    field_path: str
    transition: bool
    #: The schema node's type, as the error shows it ("object", "string", ...).
    type: str


def compile_rules(schema: Any, path: str, errors: FieldErrors | None = None) -> list[RulesAt]:
    """Every rule in the schema, with where it applies; compile errors go to `errors`
    (at the rule's place in the definition) when given."""
    found: list[RulesAt] = []
    _compile(schema, path, (), found, errors)
    return found


@dataclass(frozen=True)
class RulesAt:
    """The rules of one schema node, and how to reach its values from the object's root:
    field names, "*" for every item of a list or every value of a map."""

    steps: tuple[str, ...]
    rules: tuple[Rule, ...]


def _compile(
    schema: Any,
    where: str,
    steps: tuple[str, ...],
    found: list[RulesAt],
    errors: FieldErrors | None,
) -> None:
    if not isinstance(schema, dict):
        return
    rules = []
    for i, raw in enumerate(schema.get(RULES) or []):
        place = f"{where}.{RULES}[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("rule"), str):
            if errors is not None:
                errors.required(f"{place}.rule")
            continue
        try:
            program = cel.compile(raw["rule"])
            expression = raw.get("messageExpression")
            message_program = cel.compile(expression) if expression else None
        except ValueError as e:
            if errors is not None:
                detail = str(e).split("\n")[0]
                errors.invalid(f"{place}.rule", raw["rule"], f"compilation failed: {detail}")
            continue
        rules.append(Rule(
            raw["rule"], program, str(raw.get("message") or ""), message_program,
            str(raw.get("fieldPath") or ""), "oldSelf" in program.variables(),
            str(schema.get("type") or "object"),
        ))  # fmt: skip
    if rules:
        found.append(RulesAt(steps, tuple(rules)))
    for name, child in (schema.get("properties") or {}).items():
        _compile(child, f"{where}.properties[{name}]", (*steps, name), found, errors)
    for key in ("items", "additionalProperties"):
        child = schema.get(key)
        if isinstance(child, dict):
            _compile(child, f"{where}.{key}", (*steps, "*"), found, errors)


def _values(value: Any, steps: tuple[str, ...], path: str) -> Iterator[tuple[str, Any]]:
    """(field path, value) of every place the steps reach in value."""
    if not steps:
        yield path, value
        return
    step, rest = steps[0], steps[1:]
    if step == "*":
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _values(item, rest, f"{path}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from _values(item, rest, f"{path}[{key}]")
    elif isinstance(value, dict) and step in value:
        yield from _values(value[step], rest, f"{path}.{step}" if path else step)


def _old_value(old: Any, path: str) -> Any:
    """The value at the same field path in the old object, or _MISSING."""
    value = old
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            key = part[1:-1]
            if isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            elif isinstance(value, dict) and key in value:
                value = value[key]
            else:
                return _MISSING
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def check(rules: list[RulesAt], obj: Object, old: Object | None, errors: FieldErrors) -> None:
    """Check the rules: plain ones always, transition ones only with an old value."""
    for place in rules:
        for path, value in _values(obj, place.steps, ""):
            previous = _old_value(old, path) if old is not None else _MISSING
            for rule in place.rules:
                if rule.transition and previous is _MISSING:
                    continue
                if not rule.transition and old is not None:
                    continue  # checked already by the object's own validation
                _check_one(rule, path, value, previous, errors)


def _check_one(rule: Rule, path: str, value: Any, previous: Any, errors: FieldErrors) -> None:
    context = {"self": value}
    if rule.transition:
        context["oldSelf"] = previous
    where = (path or "<root>") + rule.field_path
    try:
        passed = rule.program.execute(context)
    except Exception as e:  # the library raises KeyError, ValueError, TypeError and more
        errors.invalid(where, rule.type, f"{e} evaluating rule: {rule.source}")
        return
    if passed is True:
        return
    message = rule.message or f"failed rule: {rule.source}"
    if rule.message_expression is not None:
        try:
            computed = rule.message_expression.execute(context)
            if isinstance(computed, str) and computed.strip():
                message = computed
        except Exception:  # upstream falls back to the message when the expression fails
            pass
    errors.invalid(where, rule.type, message)
