"""The RBAC authorizer: roles and bindings kept in memory by watch, decisions cached.

The four kinds are listed once and then followed by watch, so a decision reads no etcd.
Decisions are remembered per user and request shape; any change to a role or binding
forgets them all, so a grant or a revocation counts from the next request on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from control_plane.apiserver.authentication.user import User
from control_plane.apiserver.authorization.attributes import RequestAttributes
from control_plane.apiserver.authorization.rules import Rule, rule_allows
from control_plane.apiserver.following import Mirror
from control_plane.apiserver.kinds.rbac import GROUP
from control_plane.apiserver.registry import Registry
from control_plane.service_account_tokens import service_account_user

Object = dict[str, Any]
_PLURALS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def subject_matches(subject: Object, user: User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == service_account_user(namespace, name)
    return False


class RBACAuthorizer:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._mirror = Mirror(
            registry,
            [registry.kinds.get(plural, GROUP) for plural in _PLURALS],
            why="RBAC",
            on_change=self._changed,
        )
        #: plural -> (namespace, name) -> object
        self._objects = self._mirror.objects

    # -- keeping the copy --------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """List and watch the RBAC kinds until stop is set."""
        await self._mirror.run(stop)

    async def wait_synced(self) -> None:
        await self._mirror.wait_synced()

    def _changed(self) -> None:
        self._decisions.clear()

    # -- deciding ------------------------------------------------------------------------

    def authorize(self, attrs: RequestAttributes) -> Decision:
        user = attrs.user
        key = (
            user.name, user.groups, attrs.verb, attrs.resource_request, attrs.api_group,
            attrs.resource, attrs.subresource, attrs.namespace,
            "" if attrs.resource_request else attrs.path,
        )  # fmt: skip
        # Most rules name no objects, so what they allow holds for every name: one decision
        # serves all the objects of a kind. Only when those rules refuse do the rules that
        # list resourceNames get asked, per name.
        general = self._cached(key, attrs, by_name=False)
        if general.allowed or not attrs.name:
            return general
        return self._cached((*key, attrs.name), attrs, by_name=True)

    def _cached(self, key: tuple[Any, ...], attrs: RequestAttributes, *, by_name: bool) -> Decision:
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(attrs, by_name)
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _decide(self, attrs: RequestAttributes, by_name: bool) -> Decision:
        missing: list[str] = []
        for rule in self.rules_for(attrs.user, attrs.namespace, missing):
            if (by_name or not rule.get("resourceNames")) and rule_allows(rule, attrs):
                return Decision(True)
        if not missing:
            return Decision(False)
        text = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
        return Decision(False, f"RBAC: {text}")

    def rules_for(
        self, user: User, namespace: str, missing: list[str] | None = None
    ) -> Iterator[Rule]:
        """Every rule granted to the user in the namespace ("" for cluster-wide only)."""
        for binding in self._objects["clusterrolebindings"].values():
            if any(subject_matches(s, user, "") for s in binding.get("subjects") or []):
                yield from self._role_rules(binding, "", missing)
        if not namespace:
            return
        for (ns, _), binding in self._objects["rolebindings"].items():
            if ns != namespace:
                continue
            if any(subject_matches(s, user, ns) for s in binding.get("subjects") or []):
                yield from self._role_rules(binding, ns, missing)

    def _role_rules(self, binding: Object, namespace: str, missing: list[str] | None) -> list[Rule]:
        ref = binding.get("roleRef") or {}
        name = ref.get("name", "")
        if ref.get("kind") == "ClusterRole":
            role = self._objects["clusterroles"].get(("", name))
            what = "clusterrole"
        else:
            role = self._objects["roles"].get((namespace, name))
            what = "role"
        if role is None:
            if missing is not None:
                missing.append(f'{what}.{GROUP} "{name}" not found')
            return []
        return [r for r in role.get("rules") or [] if isinstance(r, dict)]

    def cluster_role(self, name: str) -> Object | None:
        return self._objects["clusterroles"].get(("", name))

    def role(self, namespace: str, name: str) -> Object | None:
        return self._objects["roles"].get((namespace, name))
