"""Impersonation headers (``kubectl --as``, ``--as-group``): act as someone else when the
caller may ``impersonate`` that user, each group, the uid and each extra value."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from control_plane.apiserver import errors
from control_plane.apiserver.authentication.user import AUTHENTICATED, UNAUTHENTICATED, User
from control_plane.apiserver.authorization.attributes import RequestAttributes, forbidden
from control_plane.apiserver.authorization.rbac import Decision
from control_plane.service_account_tokens import SERVICE_ACCOUNT_PREFIX

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"


def _headers_of(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = headers.get(name)
    return [value] if value is not None else []


def impersonated(
    caller: User,
    headers: Mapping[str, str],
    authorize: Callable[[RequestAttributes], Decision],
) -> User:
    """The user the request acts as: the caller, or whom the headers name if allowed."""
    name = headers.get(USER_HEADER)
    groups = _headers_of(headers, GROUP_HEADER)
    uid = headers.get(UID_HEADER, "")
    extra: dict[str, tuple[str, ...]] = {}
    for header in headers:
        if header.lower().startswith(EXTRA_PREFIX.lower()):
            key = header[len(EXTRA_PREFIX) :].lower()
            extra[key] = tuple(_headers_of(headers, header))
    if name is None:
        if groups or uid or extra:
            raise errors.bad_request(
                "requested impersonation of groups, a uid or extra fields without a user"
            )
        return caller

    def check(resource: str, target: str, group: str = "", namespace: str = "") -> None:
        resource, _, subresource = resource.partition("/")
        attrs = RequestAttributes(
            caller, "impersonate", "", True, group, "", namespace, resource, subresource, target
        )
        decision = authorize(attrs)
        if not decision.allowed:
            raise forbidden(attrs, decision.reason)

    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        namespace, sa = name[len(SERVICE_ACCOUNT_PREFIX) :].split(":", 1)
        check("serviceaccounts", sa, namespace=namespace)
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        check("users", name)
    for group in groups:
        check("groups", group)
    if uid:
        check("uids", uid, "authentication.k8s.io")
    for key, values in extra.items():
        for value in values:
            check(f"userextras/{key}", value, "authentication.k8s.io")
    marker = UNAUTHENTICATED if name == "system:anonymous" else AUTHENTICATED
    if marker not in groups:
        groups.append(marker)
    return User(name, tuple(groups), uid, extra)
