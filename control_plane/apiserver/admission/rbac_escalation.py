"""RBAC's escalation check, as upstream's role and binding storage does it: a user may write
a role only with rules they hold themselves (or with ``escalate`` on it), and a binding only
to a role whose rules they hold (or with ``bind`` on it). system:masters may do anything."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.request_user import REQUEST_USER
from control_plane.apiserver.authentication.user import User
from control_plane.apiserver.authorization.attributes import RequestAttributes
from control_plane.apiserver.authorization.authorizer import MASTERS
from control_plane.apiserver.authorization.rbac import RBACAuthorizer
from control_plane.apiserver.authorization.rules import covers
from control_plane.apiserver.kinds.rbac import GROUP

if TYPE_CHECKING:
    from control_plane.apiserver.kinds.base import Kind
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]
_ROLE_PLURALS = ("roles", "clusterroles")
_BINDING_PLURALS = ("rolebindings", "clusterrolebindings")


def _show(rule: Object) -> str:
    parts = []
    for key, name in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        if rule.get(key):
            parts.append(f"{name}:{json.dumps(rule[key])}")
    return "{" + ", ".join(parts) + "}"


class RBACEscalationCheck:
    def __init__(self, rbac: RBACAuthorizer) -> None:
        self._rbac = rbac

    async def admit(
        self,
        registry: Registry,
        kind: Kind,
        obj: Object,
        old: Object | None,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> None:
        rt = kind.resource
        if rt.group != GROUP:
            return
        user = REQUEST_USER.get()
        if user is None or MASTERS in user.groups:
            return
        namespace = obj["metadata"].get("namespace", "")
        name = obj["metadata"].get("name", "")
        if rt.plural in _ROLE_PLURALS:
            if self._may(user, "escalate", rt.plural, namespace, name):
                return
            rules = [r for r in obj.get("rules") or [] if isinstance(r, dict)]
            self._check_held(user, rules, namespace, rt.plural, name)
        elif rt.plural in _BINDING_PLURALS:
            ref = obj.get("roleRef") or {}
            role_plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            role_name = ref.get("name", "")
            if self._may(user, "bind", role_plural, namespace, role_name):
                return
            role = (
                self._rbac.cluster_role(role_name)
                if role_plural == "clusterroles"
                else self._rbac.role(namespace, role_name)
            )
            if role is None:
                # Upstream resolves the role's rules to compare them, and says it could not.
                singular = role_plural.removesuffix("s")
                raise errors.bad_request(f'{singular}.{GROUP} "{role_name}" not found')
            rules = [r for r in role.get("rules") or [] if isinstance(r, dict)]
            self._check_held(user, rules, namespace, rt.plural, name)

    def _may(self, user: User, verb: str, plural: str, namespace: str, name: str) -> bool:
        attrs = RequestAttributes(user, verb, "", True, GROUP, "v1", namespace, plural, "", name)
        return self._rbac.authorize(attrs).allowed

    def _check_held(
        self, user: User, rules: list[Object], namespace: str, plural: str, name: str
    ) -> None:
        held = list(self._rbac.rules_for(user, namespace))
        missing = [r for r in rules if not covers(held, r)]
        if not missing:
            return
        groups = json.dumps(list(user.groups))
        raise errors.forbidden(
            plural,
            name,
            f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions '
            "not currently held:\n" + "\n".join(_show(r) for r in missing),
            GROUP,
        )
