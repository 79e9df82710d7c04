"""Parsing what a client asked for: the resource path, the verb, and the response form."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.apiserver import errors
from control_plane.apiserver.kinds import Kind, Kinds


@dataclass(frozen=True)
class ResourcePath:
    """A resolved resource URL such as /api/v1/namespaces/ns/pods/name/status."""

    kind: Kind
    namespace: str | None  # None for cluster-scoped kinds and all-namespace collections
    name: str | None
    subresource: str | None


def parse_resource_path(kinds: Kinds, group: str, version: str, tail: str) -> ResourcePath:
    """Resolve the path after /api/v1/ or /apis/<group>/<version>/."""
    parts = [p for p in tail.split("/") if p]
    if not parts:
        raise errors.route_not_found()
    namespace = None
    if parts[0] == "namespaces" and len(parts) >= 3:
        candidate = kinds.lookup(group, version, parts[2])
        if candidate is not None and candidate.resource.namespaced:
            namespace = parts[1]
            parts = parts[2:]
    kind = kinds.lookup(group, version, parts[0])
    if kind is None or len(parts) > 3:
        raise errors.route_not_found()
    if kind.resource.namespaced and namespace is None and len(parts) > 1:
        # A namespaced object must be addressed through its namespace.
        raise errors.route_not_found()
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if sub is not None and sub not in kind.resource.subresources:
        raise errors.route_not_found()
    return ResourcePath(kind, namespace, name, sub)


def wants_table(accept: str) -> bool:
    """kubectl's human-readable output asks for application/json;as=Table;...;g=meta.k8s.io."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=Table" in params and "g=meta.k8s.io" in params:
            return True
    return False


def accepts_json(accept: str) -> bool:
    """Whether any media type the client accepts is JSON (we answer nothing else)."""
    if not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", "application/json", "application/yaml"):
            return True
    return False


def is_true(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def parse_int(name: str, value: str | None, default: int = 0) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {value!r}") from None
    if number < 0:
        raise errors.bad_request(f"{name} must not be negative")
    return number
