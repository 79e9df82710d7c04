"""Taints repel pods that do not tolerate them: NoSchedule and NoExecute taints filter,
PreferNoSchedule taints lower the node's score."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, Object, PodInfo
from ku7s.api.taints import tolerates


def _taints(node: NodeInfo) -> list[Object]:
    return list((node.node.get("spec") or {}).get("taints") or [])


class TaintToleration:
    name: ClassVar[str] = "TaintToleration"
    weight: ClassVar[int] = 3

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        tolerations = pod.spec.get("tolerations") or []
        for taint in _taints(node):
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(tolerates(t, taint) for t in tolerations):
                key, value = taint.get("key"), taint.get("value", "")
                return [f"node(s) had untolerated taint {{{key}: {value}}}"]
        return []

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = pod.spec.get("tolerations") or []
        counts = [
            sum(
                1
                for taint in _taints(node)
                if taint.get("effect") == "PreferNoSchedule"
                and not any(tolerates(t, taint) for t in tolerations)
            )
            for node in nodes
        ]
        worst = max(counts)
        if not worst:
            return [MAX_SCORE] * len(nodes)
        return [MAX_SCORE - count * MAX_SCORE // worst for count in counts]
