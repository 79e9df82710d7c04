"""Taints repel pods that do not tolerate them: NoSchedule and NoExecute taints filter,
PreferNoSchedule taints lower the node's score."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, PodInfo
from ku7s.api.taints import tolerates


class TaintToleration:
    name: ClassVar[str] = "TaintToleration"
    weight: ClassVar[int] = 3

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        for taint in node.hard_taints:
            if not any(tolerates(t, taint) for t in pod.tolerations):
                key, value = taint.get("key"), taint.get("value", "")
                return [f"node(s) had untolerated taint {{{key}: {value}}}"]
        return []

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        if not any(node.soft_taints for node in nodes):
            return [MAX_SCORE] * len(nodes)
        counts = [
            sum(
                1
                for taint in node.soft_taints
                if not any(tolerates(t, taint) for t in pod.tolerations)
            )
            for node in nodes
        ]
        worst = max(counts)
        if not worst:
            return [MAX_SCORE] * len(nodes)
        return [MAX_SCORE - count * MAX_SCORE // worst for count in counts]
