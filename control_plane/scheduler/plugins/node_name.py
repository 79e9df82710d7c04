"""A pod that names its node (spec.nodeName set before scheduling) fits only that node."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import NodeInfo, PodInfo


class NodeName:
    name: ClassVar[str] = "NodeName"

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        wanted = pod.spec.get("nodeName")
        if wanted and wanted != node.name:
            return ["node(s) didn't match the requested node name"]
        return []
