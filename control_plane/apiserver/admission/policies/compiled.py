"""A ValidatingAdmissionPolicy's CEL, compiled once per version of the policy, and its
evaluation against one write: variables in order, match conditions, then validations with
their messages, as upstream words them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cel

Object = dict[str, Any]


class EvaluationError(Exception):
    """An expression failed to evaluate (the policy's failurePolicy decides)."""


@dataclass(frozen=True)
class Failure:
    """A validation that said no: its message and the Status reason it asks for."""

    message: str
    reason: str


@dataclass(frozen=True)
class _Validation:
    expression: str
    program: Any
    message: str
    message_program: Any | None
    reason: str


def _compile(expression: str) -> Any:
    return cel.compile(expression)  # the kind checked that it compiles


class CompiledPolicy:
    def __init__(self, policy: Object) -> None:
        spec = policy.get("spec") or {}
        self.fails_closed = spec.get("failurePolicy", "Fail") == "Fail"
        self.param_kind: Object | None = spec.get("paramKind") or None
        self.match_constraints: Object = spec.get("matchConstraints") or {}
        self._variables = [(v["name"], _compile(v["expression"]))
                           for v in spec.get("variables") or []]  # fmt: skip
        self._conditions = [(c["name"], c["expression"], _compile(c["expression"]))
                            for c in spec.get("matchConditions") or []]  # fmt: skip
        self._validations = [
            _Validation(v["expression"], _compile(v["expression"]), str(v.get("message") or ""),
                        _compile(v["messageExpression"]) if v.get("messageExpression") else None,
                        str(v.get("reason") or "Invalid"))
            for v in spec.get("validations") or []
        ]  # fmt: skip
        programs = [p for _, p in self._variables] + [p for *_, p in self._conditions]
        programs += [v.program for v in self._validations]
        programs += [v.message_program for v in self._validations if v.message_program]
        #: The top-level names the expressions use (namespaceObject is read only if asked).
        self.uses: frozenset[str] = frozenset(n for p in programs for n in p.variables())

    def with_variables(self, context: Object) -> Object:
        """The context with ``variables`` computed in order; one that fails stays missing
        (an expression that uses it then fails)."""
        variables: Object = {}
        context = {**context, "variables": variables}
        for name, program in self._variables:
            try:
                variables[name] = program.execute(context)
            except Exception:  # the library raises several kinds
                continue
        return context

    def conditions_match(self, context: Object) -> bool:
        for name, expression, program in self._conditions:
            result = _run(program, expression, context)
            if result is not True:
                if result is False:
                    return False
                raise EvaluationError(f"matchCondition '{name}' must evaluate to bool")
        return True

    def failures(self, context: Object) -> list[Failure]:
        """The validations that fail, with their messages. An expression that errors is a
        failure when the policy fails closed, and ignored otherwise."""
        found = []
        for validation in self._validations:
            try:
                result = _run(validation.program, validation.expression, context)
                if not isinstance(result, bool):
                    raise EvaluationError(
                        f"expression '{validation.expression}' resulted in error: "
                        "must evaluate to bool"
                    )
            except EvaluationError as e:
                if self.fails_closed:
                    found.append(Failure(str(e), validation.reason))
                continue
            if not result:
                found.append(Failure(_message(validation, context), validation.reason))
        return found


def _run(program: Any, expression: str, context: Object) -> Any:
    try:
        return program.execute(context)
    except Exception as e:  # the library raises KeyError, TypeError, RuntimeError and more
        raise EvaluationError(f"expression '{expression}' resulted in error: {e}") from e


def _message(validation: _Validation, context: Object) -> str:
    if validation.message_program is not None:
        try:
            computed = validation.message_program.execute(context)
            if isinstance(computed, str) and computed.strip() and "\n" not in computed:
                return computed
        except Exception:  # upstream falls back to the message
            pass
    return validation.message or f"failed expression: {validation.expression}"
