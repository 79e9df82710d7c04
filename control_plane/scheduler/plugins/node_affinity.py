"""spec.nodeSelector and node affinity: required terms filter, preferred terms score."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, PodInfo
from ku7s.api.node_selection import node_affinity, selects_node, term_matches


class NodeAffinity:
    name: ClassVar[str] = "NodeAffinity"
    weight: ClassVar[int] = 2

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        if selects_node(pod.spec, node.node):
            return []
        return ["node(s) didn't match Pod's node affinity/selector"]

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        preferred = (
            node_affinity(pod.spec).get("preferredDuringSchedulingIgnoredDuringExecution") or []
        )
        if not preferred:
            return [0] * len(nodes)
        raw = [
            sum(
                int(p.get("weight", 0))
                for p in preferred
                if term_matches(p.get("preference") or {}, node.node)
            )
            for node in nodes
        ]
        top = max(raw) if raw else 0
        if not top:
            return [0] * len(nodes)
        return [value * MAX_SCORE // top for value in raw]
