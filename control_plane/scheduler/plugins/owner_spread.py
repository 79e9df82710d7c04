"""Replicas of one owner (a ReplicaSet, a StatefulSet, a Job) spread over the nodes: a
node already running fewer of them scores higher, as upstream's default topology spread
over hostnames does."""

from __future__ import annotations

from typing import ClassVar

from control_plane.scheduler.framework import MAX_SCORE, NodeInfo, PodInfo


class OwnerSpread:
    name: ClassVar[str] = "OwnerSpread"
    weight: ClassVar[int] = 2

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        owner = pod.owner
        if not owner:
            return [MAX_SCORE] * len(nodes)
        counts = [node.owners.get(owner, 0) for node in nodes]
        most = max(counts)
        if not most:
            return [MAX_SCORE] * len(nodes)
        return [(most - count) * MAX_SCORE // most for count in counts]
