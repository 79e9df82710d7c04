"""Nodes: registered by the node service, cordoned and labelled by users."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def node_status(node: Object) -> str:
    ready = meta.condition(node, "Ready")
    status = "Unknown" if not ready else "Ready" if ready.get("status") == "True" else "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _roles(node: Object) -> str:
    roles = sorted(
        key.split("/", 1)[1]
        for key in meta.labels_of(node)
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]
    )
    return ",".join(roles) or "<none>"


def _address(node: Object, kind: str) -> str:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address"))
    return "<none>"


class NodeKind(Kind):
    resource = ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        short_names=("no",),
        subresources=("status",),
    )
    field_paths: ClassVar[tuple[str, ...]] = ("spec.unschedulable",)
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Status", "string", "", 0),
        ("Roles", "string", "", 0),
        AGE,
        ("Version", "string", "", 0),
        ("Internal-IP", "string", "", 1),
        ("External-IP", "string", "", 1),
        ("OS-Image", "string", "", 1),
        ("Kernel-Version", "string", "", 1),
        ("Container-Runtime", "string", "", 1),
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
            if not isinstance(taint, dict):
                continue
            errors.qualified_name(f"spec.taints[{i}].key", taint.get("key"))
            errors.one_of(
                f"spec.taints[{i}].effect", taint.get("effect"), _TAINT_EFFECTS, required=True
            )

    def row(self, obj: Object) -> list[Any]:
        info = obj.get("status", {}).get("nodeInfo") or {}
        return [
            meta.name_of(obj),
            node_status(obj),
            _roles(obj),
            age(obj),
            info.get("kubeletVersion", ""),
            _address(obj, "InternalIP"),
            _address(obj, "ExternalIP"),
            info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>"),
        ]
