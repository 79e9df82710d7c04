"""Whether a write goes to a webhook: its rules (operations, groups, versions, resources
with subresources, scope), its namespace and object selectors, and its match conditions
(CEL over ``object``, ``oldObject`` and ``request``), as upstream decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cel

from ku7s.api.selectors import SelectorError, from_label_selector

Object = dict[str, Any]


@dataclass(frozen=True)
class Attributes:
    """What a write is, as webhooks' rules see it."""

    operation: str  # CREATE, UPDATE, DELETE
    group: str
    version: str
    resource: str
    subresource: str
    namespaced: bool


def _resource_matches(pattern: str, resource: str, subresource: str) -> bool:
    wanted_resource, _, wanted_sub = pattern.partition("/")
    if wanted_resource not in ("*", resource):
        return False
    if not pattern.count("/"):
        return not subresource
    return wanted_sub in ("*", subresource)


def rule_matches(rule: Object, attrs: Attributes) -> bool:
    operations = rule.get("operations") or []
    if "*" not in operations and attrs.operation not in operations:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    if "*" not in versions and attrs.version not in versions:
        return False
    scope = rule.get("scope", "*")
    if (scope == "Cluster" and attrs.namespaced) or (
        scope == "Namespaced" and not attrs.namespaced
    ):
        return False
    return any(_resource_matches(p, attrs.resource, attrs.subresource)
               for p in rule.get("resources") or [])  # fmt: skip


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    try:
        return from_label_selector(selector or {}).matches(labels)
    except SelectorError:
        return False


class MatchConditionError(Exception):
    """A match condition that could not be evaluated (the failure policy decides)."""


def conditions_match(webhook: Object, variables: Object) -> bool:
    for condition in webhook.get("matchConditions") or []:
        expression = condition.get("expression", "") if isinstance(condition, dict) else ""
        try:
            result = cel.evaluate(expression, variables)
        except Exception as e:  # the library raises several kinds
            name = condition.get("name", "") if isinstance(condition, dict) else ""
            raise MatchConditionError(f"match condition {name!r} failed: {e}") from e
        if result is not True:
            return False
    return True
