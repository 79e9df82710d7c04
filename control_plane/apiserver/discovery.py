"""Discovery documents: /api, /apis and each group-version's APIResourceList, in the legacy
form and in the aggregated form (apidiscovery.k8s.io v2 and v2beta1) kubectl ≥ 1.26 asks for.

kubectl builds its REST mapping (kinds, short names such as ``po`` and ``deploy``, the
``all`` category, scope) entirely from these, so every served kind appears with its verbs.
"""

from __future__ import annotations

from typing import Any, Protocol

from control_plane.apiserver.kinds import Kinds
from control_plane.apiserver.resources import ResourceType

Object = dict[str, Any]

_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "binding": ["create"],
    "finalize": ["update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "proxy": ["create", "delete", "get", "patch", "update"],
    "token": ["create"],
    "eviction": ["create"],
    "approval": ["get", "patch", "update"],
}
_SUBRESOURCE_KINDS = {
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "log": ("", "v1", "Pod"),
    "exec": ("", "v1", "PodExecOptions"),
    "attach": ("", "v1", "PodAttachOptions"),
    "portforward": ("", "v1", "PodPortForwardOptions"),
    "proxy": ("", "v1", "ServiceProxyOptions"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "eviction": ("policy", "v1", "Eviction"),
}


class RemoteAPIs(Protocol):
    """Group-versions served elsewhere (aggregated APIs), and what they said they serve."""

    def remote_group_versions(self) -> dict[str, list[str]]: ...

    def discovered(self, group: str, version: str) -> Object | None: ...


#: The media type parameters of aggregated discovery, newest first.
AGGREGATED_VERSIONS = ("v2", "v2beta1")


def _subresource_kind(rt: ResourceType, sub: str) -> tuple[str, str, str]:
    if sub == "proxy" and rt.plural == "nodes":
        return ("", "v1", "NodeProxyOptions")
    return _SUBRESOURCE_KINDS.get(sub, (rt.group, rt.version, rt.kind))


def _resource_entry(rt: ResourceType) -> Object:
    entry: Object = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def _subresource_entry(rt: ResourceType, sub: str) -> Object:
    group, version, kind = _subresource_kind(rt, sub)
    entry: Object = {
        "name": f"{rt.plural}/{sub}",
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": kind,
        "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
    }
    if (group, version) != (rt.group, rt.version):
        entry["group"], entry["version"] = group, version
    return entry


def resource_list(kinds: Kinds, group: str, version: str) -> Object | None:
    served = kinds.in_group_version(group, version)
    if not served:
        return None
    resources = []
    for kind in served:
        rt = kind.resource
        resources.append(_resource_entry(rt))
        resources += [_subresource_entry(rt, sub) for sub in rt.subresources]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def core_versions(server_address: str) -> Object:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> Object:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": dict(entries[0])}


def _group_versions(kinds: Kinds, remote: RemoteAPIs | None) -> dict[str, list[str]]:
    groups = {group: list(versions) for group, versions in kinds.group_versions().items()}
    for group, versions in (remote.remote_group_versions() if remote else {}).items():
        known = groups.setdefault(group, [])
        known += [v for v in versions if v not in known]
    return groups


def group_list(kinds: Kinds, remote: RemoteAPIs | None = None) -> Object:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            _group(name, versions) for name, versions in _group_versions(kinds, remote).items()
        ],
    }


def group(kinds: Kinds, name: str, remote: RemoteAPIs | None = None) -> Object | None:
    versions = _group_versions(kinds, remote).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


# -- aggregated discovery ------------------------------------------------------------------


def wanted_aggregated_version(accept: str) -> str | None:
    """The aggregated discovery version the Accept header asks for first, if any."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "g=apidiscovery.k8s.io" in params and "as=APIGroupDiscoveryList" in params:
            for version in AGGREGATED_VERSIONS:
                if f"v={version}" in params:
                    return version
    return None


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def _aggregated_resource(rt: ResourceType) -> Object:
    entry: Object = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subresources = []
    for sub in rt.subresources:
        group, version, kind = _subresource_kind(rt, sub)
        subresources.append(
            {
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
            }
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def _from_resource_list(document: Object, group: str, version: str) -> list[Object]:
    """Aggregated entries from an aggregated API's APIResourceList."""
    entries: dict[str, Object] = {}
    listed = [r for r in document.get("resources") or [] if isinstance(r, dict)]
    for r in listed:
        name = str(r.get("name", ""))
        if "/" in name:
            continue
        entry: Object = {
            "resource": name,
            "responseKind": {"group": group, "version": version, "kind": r.get("kind", "")},
            "scope": "Namespaced" if r.get("namespaced") else "Cluster",
            "singularResource": r.get("singularName") or name,
            "verbs": list(r.get("verbs") or []),
        }
        for field in ("shortNames", "categories"):
            if r.get(field):
                entry[field] = list(r[field])
        entries[name] = entry
    for r in listed:
        parent, _, sub = str(r.get("name", "")).partition("/")
        if sub and parent in entries:
            entries[parent].setdefault("subresources", []).append({
                "subresource": sub,
                "responseKind": {"group": r.get("group", group),
                                 "version": r.get("version", version), "kind": r.get("kind", "")},
                "verbs": list(r.get("verbs") or []),
            })  # fmt: skip
    return list(entries.values())


def aggregated(
    kinds: Kinds, version: str, *, core: bool, remote: RemoteAPIs | None = None
) -> Object:
    """The APIGroupDiscoveryList for /api (core) or /apis (every named group); a
    group-version served elsewhere shows what its server said (Stale until it answers)."""
    groups = {"": ["v1"]} if core else _group_versions(kinds, remote)
    handed_over = {} if core or remote is None else remote.remote_group_versions()
    items = []
    for name, versions in groups.items():
        entries = []
        for v in versions:
            if v in handed_over.get(name, ()):
                assert remote is not None
                document = remote.discovered(name, v)
                resources = _from_resource_list(document, name, v) if document else []
                freshness = "Current" if document else "Stale"
            else:
                resources = [_aggregated_resource(k.resource)
                             for k in kinds.in_group_version(name, v)]  # fmt: skip
                freshness = "Current"
            entries.append({"version": v, "resources": resources, "freshness": freshness})
        items.append({"metadata": {"name": name, "creationTimestamp": None}, "versions": entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
