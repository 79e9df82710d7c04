"""Preemption's choices: which node, which victims, and when a pod may not preempt."""

from __future__ import annotations

from control_plane.scheduler.framework import NodeInfo, PodInfo
from control_plane.scheduler.plugins import default_filters
from control_plane.scheduler.preemption import DefaultPreemption
from tests.unit.test_scheduler import node, pod


def _node_with(name: str, *pods: dict[str, object], **kw: object) -> NodeInfo:
    info = NodeInfo(node(name, **kw))  # type: ignore[arg-type]
    for p in pods:
        p["spec"]["nodeName"] = name  # type: ignore[index]
        info.add(PodInfo.of(p))
    return info


def _names(pods: list[dict[str, object]]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)  # type: ignore[index]


def test_the_lowest_priority_pods_go_and_no_more_than_needed():
    full = _node_with(
        "n1",
        pod("low", cpu="500m", priority=1),
        pod("lower", cpu="500m", priority=0),
        pod("mid", cpu="1", priority=5),
    )
    preemption = DefaultPreemption(default_filters())
    high = PodInfo.of(pod("high", cpu="500m", priority=100))
    candidate = preemption.find(high, [full], [])
    assert candidate is not None and candidate.node == "n1"
    assert _names(candidate.victims) == ["lower"]


def test_the_node_with_lower_victims_wins_and_equal_priority_is_never_a_victim():
    a = _node_with("a", pod("a1", cpu="2", priority=50))
    b = _node_with("b", pod("b1", cpu="2", priority=10))
    c = _node_with("c", pod("c1", cpu="2", priority=100))
    preemption = DefaultPreemption(default_filters())
    candidate = preemption.find(PodInfo.of(pod("high", cpu="1", priority=100)), [a, b, c], [])
    assert candidate is not None and candidate.node == "b"


def test_a_budget_steers_preemption_to_the_node_without_violations():
    protected = pod("web-1", cpu="2", priority=0)
    protected["metadata"]["labels"] = {"app": "web"}  # type: ignore[index]
    a = _node_with("a", protected)
    b = _node_with("b", pod("batch-1", cpu="2", priority=5))
    budget = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 0},
    }
    preemption = DefaultPreemption(default_filters())
    candidate = preemption.find(PodInfo.of(pod("high", cpu="1", priority=100)), [a, b], [budget])
    assert candidate is not None and candidate.node == "b" and candidate.violations == 0


def test_no_candidate_when_the_node_cannot_take_the_pod_anyway():
    tainted = _node_with(
        "t",
        pod("low", cpu="2", priority=0),
        taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
    )
    small = _node_with("s", pod("low2", cpu="1", priority=0), cpu="1")
    preemption = DefaultPreemption(default_filters())
    assert (
        preemption.find(PodInfo.of(pod("high", cpu="2", priority=100)), [tainted, small], [])
        is None
    )


def test_never_and_victims_still_leaving_stop_preemption():
    preemption = DefaultPreemption(default_filters())
    assert not preemption.eligible(pod("p", priority=100, preemptionPolicy="Never"), None)
    leaving = pod("old", cpu="1", priority=0)
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"  # type: ignore[index]
    nominated = _node_with("n", leaving)
    assert not preemption.eligible(pod("p", priority=100), nominated)
    assert preemption.eligible(pod("p", priority=100), _node_with("m"))
