"""A request described as authorizers see it (upstream's RequestInfo and Attributes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.user import User

_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
#: Subresources of a namespace, as opposed to the resources in it.
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class RequestAttributes:
    user: User
    verb: str
    path: str = ""
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    def for_user(self, user: User) -> RequestAttributes:
        return replace(self, user=user)

    @property
    def resource_with_subresource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(
    user: User, method: str, path: str, query: Mapping[str, str]
) -> RequestAttributes:
    """What a request asks, worked out from its method, path and query alone."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestAttributes(user, method.lower(), path)
    if parts[0] == "api":
        group, rest = "", parts[1:]
    else:
        if len(parts) < 3:
            return RequestAttributes(user, method.lower(), path)
        group, rest = parts[1], parts[2:]
    if len(rest) < 2:  # /api/v1, /apis/group/version: discovery
        return RequestAttributes(user, method.lower(), path)
    version, rest = rest[0], rest[1:]
    verb = _VERBS.get(method.upper(), method.lower())
    if rest[0] == "watch":  # the deprecated /watch/ prefix
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name:
        if verb == "get":
            verb = "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
        elif verb == "delete":
            verb = "deletecollection"
        if verb in ("list", "watch"):
            # A list or watch of one object by name is authorized as that name (upstream).
            name = _named_by_field_selector(query.get("fieldSelector", ""))
    elif verb == "get" and query.get("watch", "").lower() in ("true", "1"):
        verb = "watch"
    return RequestAttributes(
        user, verb, path, True, group, version, namespace, resource, subresource, name
    )


def _named_by_field_selector(selector: str) -> str:
    for requirement in selector.split(","):
        field, _, value = requirement.partition("=")
        if field.strip() == "metadata.name" and not value.startswith("="):
            return value.strip()
        if field.strip() == "metadata.name" and value.startswith("="):
            return value[1:].strip()
    return ""


def forbidden(attrs: RequestAttributes, reason: str = "") -> errors.APIError:
    """A 403 in kube-apiserver's words."""
    who = f'User "{attrs.user.name}"'
    if not attrs.resource_request:
        message = f'forbidden: {who} cannot {attrs.verb} path "{attrs.path}"'
        details: dict[str, str] = {}
    else:
        scope = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        target = attrs.resource if not attrs.api_group else f"{attrs.resource}.{attrs.api_group}"
        if attrs.name:
            target += f' "{attrs.name}"'
        message = (
            f"{target} is forbidden: {who} cannot {attrs.verb} resource "
            f'"{attrs.resource_with_subresource}" in API group "{attrs.api_group}" {scope}'
        )
        details = {"kind": attrs.resource}
        if attrs.name:
            details["name"] = attrs.name
        if attrs.api_group:
            details["group"] = attrs.api_group
    if reason:
        message += f": {reason}"
    return errors.APIError(403, "Forbidden", message, details)
