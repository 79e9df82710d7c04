"""Requests against allocatable: a pod fits when every resource it requests (and one more
pod) is left on the node; among nodes that fit, the least allocated scores best."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, PodInfo


class NodeResourcesFit:
    name: ClassVar[str] = "NodeResourcesFit"
    #: Evicting lower-priority pods can make room.
    resolvable_by_preemption: ClassVar[bool] = True

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        allocatable = node.allocatable
        reasons = []
        if "pods" in allocatable and len(node.pods) + 1 > allocatable["pods"]:
            reasons.append("Too many pods")
        for name, wanted in sorted(pod.requests.items()):
            if not wanted:
                continue
            free = allocatable.get(name, Decimal(0)) - node.requested.get(name, Decimal(0))
            if wanted > free:
                reasons.append(f"Insufficient {name}")
        return reasons


class NodeResourcesLeastAllocated:
    name: ClassVar[str] = "NodeResourcesFit/LeastAllocated"
    weight: ClassVar[int] = 1

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        wanted = pod.scoring_requests
        scores = []
        for node in nodes:
            allocatable = node.allocatable
            parts = []
            for name in ("cpu", "memory"):
                capacity = allocatable.get(name, Decimal(0))
                if capacity <= 0:
                    parts.append(0)
                    continue
                used = node.scoring_requested.get(name, Decimal(0)) + wanted.get(name, Decimal(0))
                parts.append(max(0, int((capacity - used) * MAX_SCORE / capacity)))
            scores.append(sum(parts) // len(parts))
        return scores
