"""Preemption (upstream's DefaultPreemption PostFilter): when a pod fits no node, find the
node where evicting pods of lower priority makes room, choosing victims as upstream does
(as few and as low as possible: every lower pod out, then each put back, highest first,
while the pod still fits), and the node by fewest PodDisruptionBudget violations, then the
lowest top victim priority, the smallest sum of priorities, and the fewest victims."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from control_plane.scheduler.framework import FilterPlugin, NodeInfo, PodInfo
from ku7s.api import meta
from ku7s.api.disruption_budgets import budget_selects

Object = dict[str, Any]


def priority_of(pod: Object) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: list[Object]
    violations: int

    def rank(self) -> tuple[int, int, int, int]:
        priorities = [priority_of(v) for v in self.victims]
        return (
            self.violations,
            max(priorities, default=-(2**31)),
            sum(priorities),
            len(priorities),
        )


class DefaultPreemption:
    name: ClassVar[str] = "DefaultPreemption"

    def __init__(self, filters: list[FilterPlugin]) -> None:
        self._filters = filters
        #: Failures no eviction can cure (taints, affinity, cordon, another node named).
        self._hard = [f for f in filters if not getattr(f, "resolvable_by_preemption", False)]

    def eligible(self, pod: Object, nominated: NodeInfo | None) -> bool:
        """A pod may preempt unless told never to, or while the victims of its last
        preemption are still leaving."""
        spec = pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return False
        if nominated is None:
            return True
        mine = priority_of(pod)
        return not any(
            info.pod["metadata"].get("deletionTimestamp") and priority_of(info.pod) < mine
            for info in nominated.pods.values()
        )

    def find(self, pod: PodInfo, nodes: list[NodeInfo], budgets: list[Object]) -> Candidate | None:
        """The best node to make room on, and the pods to evict there; None if none."""
        candidates = []
        for node in nodes:
            if any(f.filter(pod, node) for f in self._hard):
                continue
            found = self._victims(pod, node, budgets)
            if found is not None:
                candidates.append(found)
        return min(candidates, key=Candidate.rank, default=None)

    def _fits(self, pod: PodInfo, node: NodeInfo) -> bool:
        return not any(f.filter(pod, node) for f in self._filters)

    def _victims(self, pod: PodInfo, node: NodeInfo, budgets: list[Object]) -> Candidate | None:
        mine = priority_of(pod.pod)
        if not any(priority_of(info.pod) < mine for info in node.pods.values()):
            return None  # nothing here may make room (the common case: priority 0)
        trial = NodeInfo(node.node)
        lower: list[PodInfo] = []
        for info in node.pods.values():
            if priority_of(info.pod) < mine:
                if not info.pod["metadata"].get("deletionTimestamp"):
                    lower.append(info)  # a pod already leaving frees its room anyway
            else:
                trial.add(info)
        if not self._fits(pod, trial):
            return None
        # Put back as many as still leave room: those a budget protects first, each group
        # highest priority first (then oldest).
        lower.sort(
            key=lambda i: (-priority_of(i.pod), i.pod["metadata"].get("creationTimestamp", ""))
        )
        protected, others = self._split_by_budget(lower, budgets)
        victims: list[Object] = []
        violations = 0
        for group, counts in ((protected, True), (others, False)):
            for info in group:
                trial.add(info)
                if not self._fits(pod, trial):
                    trial.remove(meta.uid_of(info.pod))
                    victims.append(info.pod)
                    violations += counts
        return Candidate(node.name, victims, violations)

    @staticmethod
    def _split_by_budget(
        pods: list[PodInfo], budgets: list[Object]
    ) -> tuple[list[PodInfo], list[PodInfo]]:
        """The pods whose eviction, in this order, would break a budget, and the rest."""
        allowed = {
            id(b): int((b.get("status") or {}).get("disruptionsAllowed", 0)) for b in budgets
        }
        protected: list[PodInfo] = []
        others: list[PodInfo] = []
        for info in pods:
            breaks = False
            for budget in budgets:
                if meta.namespace_of(budget) == meta.namespace_of(info.pod) and budget_selects(
                    budget, info.pod
                ):
                    allowed[id(budget)] -= 1
                    breaks = breaks or allowed[id(budget)] < 0
            (protected if breaks else others).append(info)
        return protected, others
