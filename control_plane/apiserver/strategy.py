"""Per-type rules applied on create and update, as kube-apiserver's REST strategies do:
defaults filled in, which part of an object a main-resource or a status write may change,
and which names are valid.
"""

from __future__ import annotations

import copy
from typing import Any

from control_plane.apiserver.resources import ResourceType
from ku7s.api.validation import dns1123_label_errors, dns1123_subdomain_errors

Object = dict[str, Any]

#: Types whose names must be DNS labels rather than subdomains.
_LABEL_NAMED = {"namespaces"}


def name_errors(rt: ResourceType, name: str) -> list[str]:
    if rt.plural in _LABEL_NAMED:
        return dns1123_label_errors(name)
    return dns1123_subdomain_errors(name)


def prepare_for_create(rt: ResourceType, obj: Object) -> None:
    """Fill in the defaults kube-apiserver sets when an object of this type is created."""
    if rt.plural == "namespaces":
        obj.setdefault("status", {}).setdefault("phase", "Active")
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    if "status" in rt.subresources and "status" not in obj:
        obj["status"] = {}


def prepare_for_update(
    rt: ResourceType, old: Object, new: Object, subresource: str | None
) -> Object:
    """The object to store when `new` replaces `old` through the main resource or `status`."""
    if subresource == "status":
        result = copy.deepcopy(old)
        result["status"] = new.get("status", {})
        meta = result["metadata"]
        # A status write may still move labels and annotations, as upstream allows.
        for field in ("labels", "annotations"):
            if field in new.get("metadata", {}):
                meta[field] = new["metadata"][field]
        return result
    result = copy.deepcopy(new)
    if "status" in rt.subresources:
        if "status" in old:
            result["status"] = copy.deepcopy(old["status"])
        else:
            result.pop("status", None)
    if rt.plural == "namespaces":
        result["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = result[
            "metadata"
        ]["name"]
    return result


def spec_changed(old: Object, new: Object) -> bool:
    """Whether a write changes anything but metadata and status (bumps metadata.generation)."""
    ignored = {"metadata", "status", "apiVersion", "kind"}
    return {k: v for k, v in old.items() if k not in ignored} != {
        k: v for k, v in new.items() if k not in ignored
    }
