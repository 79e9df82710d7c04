"""Nodes cordoned with spec.unschedulable take no pods, unless the pod tolerates the
node.kubernetes.io/unschedulable taint."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import NodeInfo, PodInfo
from ku7s.api.taints import tolerates

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name: ClassVar[str] = "NodeUnschedulable"

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        if not (node.node.get("spec") or {}).get("unschedulable"):
            return []
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return []
        return ["node(s) were unschedulable"]
