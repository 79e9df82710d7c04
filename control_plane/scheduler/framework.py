"""The scheduling framework: what a plugin sees (a node with the pods on it) and the two
kinds of plugin (filters say whether a pod fits a node and why not; scores rank the nodes
that passed, 0 to 100)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import chain, islice
from typing import Any, ClassVar, Protocol

from ku7s.api import meta
from ku7s.api.pod_resources import pod_resources
from ku7s.api.quantity import parse_quantity

Object = dict[str, Any]

MAX_SCORE = 100
#: Below this many nodes every node is tried for every pod (upstream's minFeasibleNodesToFind).
MIN_FEASIBLE_NODES_TO_FIND = 100


def feasible_nodes_to_find(nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes the search stops at, as upstream's percentageOfNodesToScore:
    all of a small cluster; of a big one a share that shrinks with its size (0 = adaptive:
    50 % less 1 % per 125 nodes, at least 5 %), never fewer than 100."""
    if nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return nodes
    if not percentage:
        percentage = max(5, 50 - nodes // 125)
    return max(MIN_FEASIBLE_NODES_TO_FIND, nodes * min(percentage, 100) // 100)


#: What a container without requests counts as when nodes are scored (not when they are
#: filtered), as upstream, so that spreading works for pods that request nothing.
DEFAULT_SCORING_REQUEST = {"cpu": Decimal("0.1"), "memory": Decimal(200 * 1024 * 1024)}


def pod_requests(pod: Object) -> dict[str, Decimal]:
    """The resources a pod holds on its node."""
    return pod_resources(pod, "requests")


def scoring_requests(pod: Object) -> dict[str, Decimal]:
    requests = pod_requests(pod)
    for name, default in DEFAULT_SCORING_REQUEST.items():
        if not requests.get(name):
            requests[name] = default
    return requests


def owner_uid(pod: Object) -> str:
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


@dataclass(frozen=True)
class PodInfo:
    """A pod with what the plugins ask of it worked out once per scheduling attempt."""

    pod: Object
    spec: Object
    requests: dict[str, Decimal]
    scoring_requests: dict[str, Decimal]
    owner: str
    tolerations: list[Object] = field(default_factory=list)

    @classmethod
    def of(cls, pod: Object) -> PodInfo:
        spec = pod.get("spec") or {}
        tolerations = list(spec.get("tolerations") or [])
        return cls(pod, spec, pod_requests(pod), scoring_requests(pod), owner_uid(pod), tolerations)

    @cached_property
    def nonzero_requests(self) -> list[tuple[str, Decimal]]:
        return sorted((name, value) for name, value in self.requests.items() if value)


@dataclass
class NodeInfo:
    """A node and the pods bound (or about to be bound) to it."""

    node: Object
    pods: dict[str, PodInfo] = field(default_factory=dict)  # uid -> pod
    requested: dict[str, Decimal] = field(default_factory=dict)
    scoring_requested: dict[str, Decimal] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)  # controller uid -> pods on node

    @property
    def name(self) -> str:
        return meta.name_of(self.node)

    allocatable: dict[str, Decimal] = field(default_factory=dict)
    #: The node's NoSchedule and NoExecute taints, which filter.
    hard_taints: list[Object] = field(default_factory=list)
    #: Its PreferNoSchedule taints, which lower its score.
    soft_taints: list[Object] = field(default_factory=list)
    #: cpu and memory allocatable and requested for scoring, as floats (scores are ranks).
    scoring_capacity: tuple[float, float] = (0.0, 0.0)
    scoring_used: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        self.set_node(self.node)

    def set_node(self, node: Object) -> None:
        self.node = node
        raw = (node.get("status") or {}).get("allocatable") or {}
        self.allocatable = {name: parse_quantity(value) for name, value in raw.items()}
        taints = (node.get("spec") or {}).get("taints") or []
        self.hard_taints = [t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.soft_taints = [t for t in taints if t.get("effect") == "PreferNoSchedule"]
        self.scoring_capacity = _cpu_and_memory(self.allocatable)

    def add(self, info: PodInfo) -> None:
        uid = meta.uid_of(info.pod)
        if uid in self.pods:
            self.remove(uid)
        self.pods[uid] = info
        for name, value in info.requests.items():
            self.requested[name] = self.requested.get(name, Decimal(0)) + value
        for name, value in info.scoring_requests.items():
            self.scoring_requested[name] = self.scoring_requested.get(name, Decimal(0)) + value
        if info.owner:
            self.owners[info.owner] = self.owners.get(info.owner, 0) + 1
        self.scoring_used = _cpu_and_memory(self.scoring_requested)

    def remove(self, uid: str) -> None:
        info = self.pods.pop(uid, None)
        if info is None:
            return
        for name, value in info.requests.items():
            self.requested[name] -= value
        for name, value in info.scoring_requests.items():
            self.scoring_requested[name] -= value
        if info.owner:
            self.owners[info.owner] -= 1
            if not self.owners[info.owner]:
                del self.owners[info.owner]
        self.scoring_used = _cpu_and_memory(self.scoring_requested)


def _cpu_and_memory(amounts: dict[str, Decimal]) -> tuple[float, float]:
    return float(amounts.get("cpu", 0)), float(amounts.get("memory", 0))


class FilterPlugin(Protocol):
    name: ClassVar[str]

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        """Why the pod does not fit the node (upstream's wording), or [] when it does."""
        ...


class ScorePlugin(Protocol):
    name: ClassVar[str]
    weight: ClassVar[int]

    def score(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """One score per node, 0 to MAX_SCORE, higher is better."""
        ...


@dataclass(frozen=True)
class Verdict:
    node: str | None
    #: Per reason, how many nodes failed for it.
    reasons: dict[str, int]
    nodes: int

    def message(self) -> str:
        """upstream's FailedScheduling text: "0/3 nodes are available: 3 Insufficient cpu." """
        if not self.nodes:
            return "no nodes available to schedule pods"
        parts = sorted(f"{count} {reason}" for reason, count in self.reasons.items())
        return f"0/{self.nodes} nodes are available: {', '.join(parts)}."


class Framework:
    def __init__(
        self,
        filters: list[FilterPlugin],
        scores: list[ScorePlugin],
        rng: random.Random | None = None,
        *,
        percentage_of_nodes_to_score: int = 0,
    ) -> None:
        self.filters = filters
        self.scores = scores
        self._rng = rng or random.Random()
        self._percentage = percentage_of_nodes_to_score
        #: Where the next search starts, so that a big cluster's nodes take turns.
        self._next_start = 0

    def schedule(self, pod: PodInfo, nodes: list[NodeInfo]) -> Verdict:
        feasible: list[NodeInfo] = []
        reasons: dict[str, int] = {}
        wanted = feasible_nodes_to_find(len(nodes), self._percentage)
        start = self._next_start % len(nodes) if wanted < len(nodes) else 0
        checked = 0
        for node in chain(islice(nodes, start, None), islice(nodes, start)):
            checked += 1
            why: list[str] = []
            for plugin in self.filters:
                why = plugin.filter(pod, node)
                if why:
                    break
            if why:
                for reason in why:
                    reasons[reason] = reasons.get(reason, 0) + 1
            else:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
        self._next_start = start + checked
        if not feasible:
            return Verdict(None, reasons, len(nodes))
        if len(feasible) == 1:
            return Verdict(feasible[0].name, reasons, len(nodes))
        totals = [0] * len(feasible)
        for scorer in self.scores:
            for i, value in enumerate(scorer.score(pod, feasible)):
                totals[i] += value * scorer.weight
        top = max(totals)
        best = self._rng.choice([i for i, total in enumerate(totals) if total == top])
        return Verdict(feasible[best].name, reasons, len(nodes))
