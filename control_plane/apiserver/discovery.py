"""Discovery documents: /api, /apis and each group-version's APIResourceList.

kubectl builds its REST mapping (kinds, short names such as ``no`` and ``ns``, the ``all``
category, scope) entirely from these, so every served type appears here with its verbs.
"""

from __future__ import annotations

from typing import Any

from control_plane.apiserver.resources import ResourceType, ResourceTypes

Object = dict[str, Any]

_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"]}


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
    return {
        "name": f"{rt.plural}/{sub}",
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
    }


def resource_list(types: ResourceTypes, group: str, version: str) -> Object | None:
    served = types.in_group_version(group, version)
    if not served:
        return None
    resources = []
    for rt in served:
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


def group_list(types: ResourceTypes) -> Object:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in types.group_versions().items()],
    }


def group(types: ResourceTypes, name: str) -> Object | None:
    versions = types.group_versions().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
