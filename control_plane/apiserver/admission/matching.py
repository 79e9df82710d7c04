"""Whether a write goes to a webhook or a policy: rules (operations, groups, versions,
resources with subresources, scope, names), namespace and object selectors, and match
conditions (CEL over ``object``, ``oldObject`` and ``request``), as upstream decides."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cel

from ku7s.api import meta
from ku7s.api.selectors import SelectorError, from_label_selector

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

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
    name: str = ""


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
    names = rule.get("resourceNames")
    if names and attrs.name not in names:
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


async def selectors_match(
    registry: Registry, spec: Object, kind: Kind, obj: Object, old: Object | None
) -> bool:
    """The spec's objectSelector (new or old labels) and namespaceSelector (the object's
    namespace's labels; a namespace's own; cluster-scoped objects always match)."""
    object_selector = spec.get("objectSelector")
    if not selector_matches(object_selector, meta.labels_of(obj)) and not (
        old is not None and selector_matches(object_selector, meta.labels_of(old))
    ):
        return False
    selector = spec.get("namespaceSelector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True
    if kind.resource.plural == "namespaces" and not kind.resource.group:
        return selector_matches(selector, meta.labels_of(obj))
    if not kind.resource.namespaced:
        return True
    namespace = await registry.find(registry.kinds.get("namespaces"), "", meta.namespace_of(obj))
    return selector_matches(selector, meta.labels_of(namespace or {}))


class MatchConditionError(Exception):
    """A match condition that could not be evaluated (the failure policy decides)."""


@functools.lru_cache(maxsize=1024)
def _program(expression: str) -> Any:
    """A match condition compiled once, not on every request it is asked about."""
    return cel.compile(expression)


def conditions_match(webhook: Object, variables: Object) -> bool:
    for condition in webhook.get("matchConditions") or []:
        expression = condition.get("expression", "") if isinstance(condition, dict) else ""
        try:
            result = _program(expression).execute(variables)
        except Exception as e:  # the library raises several kinds
            name = condition.get("name", "") if isinstance(condition, dict) else ""
            raise MatchConditionError(f"match condition {name!r} failed: {e}") from e
        if result is not True:
            return False
    return True
