"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
(admissionregistration.k8s.io/v1, as in 1.30+): CEL checks of writes, declared in the
cluster rather than served by a webhook. Defaulted and checked as upstream (every CEL
expression must compile); admission/policies/ evaluates them."""

from __future__ import annotations

from typing import Any, ClassVar

import cel

from control_plane.apiserver.kinds.admission_registration import GROUP, validate_rule
from control_plane.apiserver.kinds.base import NAME, Kind, Object
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, age
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

REASONS = ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge")
ACTIONS = ("Deny", "Warn", "Audit")


def compile_error(expression: str) -> str | None:
    """Why a CEL expression does not compile, or None."""
    try:
        cel.compile(expression)
    except ValueError as e:
        return str(e).split("\n")[0]
    return None


def _check_expression(item: Any, path: str, errors: FieldErrors, field: str = "expression") -> None:
    expression = item.get(field) if isinstance(item, dict) else None
    if not isinstance(expression, str) or not expression.strip():
        if field == "expression":
            errors.required(f"{path}.{field}")
        return
    problem = compile_error(expression)
    if problem:
        errors.invalid(f"{path}.{field}", expression, f"compilation failed: {problem}")


def _check_named(items: Any, path: str, errors: FieldErrors) -> None:
    """matchConditions and variables: a unique name and an expression each."""
    seen: set[str] = set()
    for i, item in enumerate(items or []):
        name = item.get("name") if isinstance(item, dict) else None
        if not name:
            errors.required(f"{path}[{i}].name")
        elif name in seen:
            errors.duplicate(f"{path}[{i}].name", name)
        seen.add(str(name))
        _check_expression(item, f"{path}[{i}]", errors)


def _default_resources(match: Any) -> None:
    if not isinstance(match, dict):
        return
    match.setdefault("matchPolicy", "Equivalent")
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in match.get(key) or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def _check_resources(match: Any, path: str, errors: FieldErrors, *, rules_required: bool) -> None:
    if not isinstance(match, dict):
        if rules_required:
            errors.required(path)
        return
    if rules_required and not match.get("resourceRules"):
        errors.required(f"{path}.resourceRules")
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(match.get(key) or []):
            validate_rule(rule, f"{path}.{key}[{i}]", errors)
    errors.one_of(f"{path}.matchPolicy", match.get("matchPolicy"), ("Equivalent", "Exact"))


class ValidatingAdmissionPolicyKind(Kind):
    resource = ResourceType(
        GROUP, "v1", "validatingadmissionpolicies", "validatingadmissionpolicy",
        "ValidatingAdmissionPolicy", namespaced=False, categories=("api-extensions",),
        subresources=("status",),
    )  # fmt: skip
    tracks_generation = True
    columns: ClassVar[list[Column]] = [
        NAME, ("Validations", "integer", "", 0), ("ParamKind", "string", "", 0),
        ("Age", "string", "", 0),
    ]  # fmt: skip

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("failurePolicy", "Fail")
            _default_resources(spec.get("matchConstraints"))

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        errors.one_of("spec.failurePolicy", spec.get("failurePolicy"), ("Fail", "Ignore"))
        _check_resources(spec.get("matchConstraints"), "spec.matchConstraints", errors,
                         rules_required=True)  # fmt: skip
        param_kind = spec.get("paramKind")
        if isinstance(param_kind, dict):
            for field in ("apiVersion", "kind"):
                if not param_kind.get(field):
                    errors.required(f"spec.paramKind.{field}")
        validations = spec.get("validations") or []
        if not validations and not spec.get("auditAnnotations"):
            errors.required(
                "spec.validations", "validations or auditAnnotations must contain at least one item"
            )
        for i, validation in enumerate(validations):
            path = f"spec.validations[{i}]"
            _check_expression(validation, path, errors)
            _check_expression(validation, path, errors, "messageExpression")
            if isinstance(validation, dict):
                errors.one_of(f"{path}.reason", validation.get("reason"), REASONS)
                if "\n" in str(validation.get("message") or ""):
                    errors.invalid(f"{path}.message", validation["message"],
                                   "message must not contain line breaks")  # fmt: skip
        for i, annotation in enumerate(spec.get("auditAnnotations") or []):
            path = f"spec.auditAnnotations[{i}]"
            if not isinstance(annotation, dict) or not annotation.get("key"):
                errors.required(f"{path}.key")
            _check_expression(annotation, path, errors, "valueExpression")
        _check_named(spec.get("matchConditions"), "spec.matchConditions", errors)
        _check_named(spec.get("variables"), "spec.variables", errors)

    def row(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        param_kind = spec.get("paramKind") or {}
        shown = (
            f"{param_kind.get('apiVersion')}/{param_kind.get('kind')}" if param_kind else "<unset>"
        )
        return [meta.name_of(obj), len(spec.get("validations") or []), shown, age(obj)]


class ValidatingAdmissionPolicyBindingKind(Kind):
    resource = ResourceType(
        GROUP, "v1", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding",
        "ValidatingAdmissionPolicyBinding", namespaced=False, categories=("api-extensions",),
    )  # fmt: skip
    tracks_generation = True
    columns: ClassVar[list[Column]] = [
        NAME, ("PolicyName", "string", "", 0), ("ParamRef", "string", "", 0),
        ("Age", "string", "", 0),
    ]  # fmt: skip

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            _default_resources(spec.get("matchResources"))

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        if not spec.get("policyName"):
            errors.required("spec.policyName")
        actions = spec.get("validationActions")
        if not actions:
            errors.required("spec.validationActions")
        else:
            seen: set[str] = set()
            for i, action in enumerate(actions):
                errors.one_of(f"spec.validationActions[{i}]", action, ACTIONS, required=True)
                if action in seen:
                    errors.duplicate(f"spec.validationActions[{i}]", action)
                seen.add(str(action))
            if {"Deny", "Warn"} <= seen:
                errors.invalid("spec.validationActions", actions,
                               "must not contain both Deny and Warn (repeating the same "
                               "validation failure information in the API response and "
                               "headers serves no purpose)")  # fmt: skip
        _check_resources(spec.get("matchResources"), "spec.matchResources", errors,
                         rules_required=False)  # fmt: skip
        ref = spec.get("paramRef")
        if isinstance(ref, dict):
            if ref.get("name") and ref.get("selector") is not None:
                errors.forbidden("spec.paramRef.name", "name and selector are mutually exclusive")
            elif not ref.get("name") and ref.get("selector") is None:
                errors.required("spec.paramRef", "one of name or selector must be set")
            errors.one_of("spec.paramRef.parameterNotFoundAction",
                          ref.get("parameterNotFoundAction"), ("Allow", "Deny"),
                          required=True)  # fmt: skip

    def row(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        ref = spec.get("paramRef") or {}
        shown = "<unset>"
        if ref.get("name"):
            shown = f"{ref.get('namespace')}/{ref['name']}" if ref.get("namespace") else ref["name"]
        elif ref:
            shown = "*/*"
        return [meta.name_of(obj), spec.get("policyName", ""), shown, age(obj)]
