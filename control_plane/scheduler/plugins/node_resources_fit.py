"""Requests against allocatable: a pod fits when every resource it requests (and one more
pod) is left on the node; among nodes that fit, the least allocated scores best."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, PodInfo

_ZERO = Decimal(0)


class NodeResourcesFit:
    name: ClassVar[str] = "NodeResourcesFit"
    #: Evicting lower-priority pods can make room.
    resolvable_by_preemption: ClassVar[bool] = True

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        allocatable = node.allocatable
        reasons = []
        if "pods" in allocatable and len(node.pods) + 1 > allocatable["pods"]:
            reasons.append("Too many pods")
        for name, wanted in pod.nonzero_requests:
            free = allocatable.get(name, _ZERO) - node.requested.get(name, _ZERO)
            if wanted > free:
                reasons.append(f"Insufficient {name}")
        return reasons


class NodeResourcesLeastAllocated:
    name: ClassVar[str] = "NodeResourcesFit/LeastAllocated"
    weight: ClassVar[int] = 1

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        # In floats: a score is a rank from 0 to 100, not an account that must add up.
        wanted = pod.scoring_requests
        wanted_cpu = float(wanted.get("cpu", _ZERO))
        wanted_memory = float(wanted.get("memory", _ZERO))
        scores = []
        for node in nodes:
            cpu, memory = node.scoring_capacity
            used_cpu, used_memory = node.scoring_used
            scores.append(
                (
                    _free_share(cpu, used_cpu + wanted_cpu)
                    + _free_share(memory, used_memory + wanted_memory)
                )
                // 2
            )
        return scores


def _free_share(capacity: float, used: float) -> int:
    if capacity <= 0:
        return 0
    return max(0, int((capacity - used) * MAX_SCORE / capacity))
