"""The scheduler's plugins, framework, queue and cache, without a cluster."""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import CollectorRegistry

from control_plane.scheduler.cache import SchedulerCache
from control_plane.scheduler.framework import Framework, NodeInfo, PodInfo
from control_plane.scheduler.metrics import SchedulerMetrics
from control_plane.scheduler.plugins import default_filters, default_scores
from control_plane.scheduler.queue import SchedulingQueue
from control_plane.scheduler.scheduler import Scheduler


def node(name, cpu="2", memory="4Gi", pods="110", labels=None, taints=None, unschedulable=False):
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}},
    }


def pod(name, cpu=None, memory=None, owner=None, **spec):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    metadata = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if owner:
        metadata["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet"}]
    return {
        "metadata": metadata,
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": requests}}],
            **spec,
        },
    }


def schedule(p, nodes, placed=()):
    infos = [NodeInfo(n) for n in nodes]
    by_name = {i.name: i for i in infos}
    for other, where in placed:
        by_name[where].add(PodInfo.of(other))
    framework = Framework(default_filters(), default_scores(), random.Random(0))
    return framework.schedule(PodInfo.of(p), infos)


def test_insufficient_cpu_names_the_reason_per_node():
    verdict = schedule(pod("big", cpu="3"), [node("a"), node("b"), node("c")])
    assert verdict.node is None
    assert verdict.message() == "0/3 nodes are available: 3 Insufficient cpu."


def test_requests_of_pods_already_bound_count():
    placed = [(pod("x", cpu="1500m"), "a")]
    verdict = schedule(pod("p", cpu="1"), [node("a"), node("b")], placed)
    assert verdict.node == "b"


def test_pod_count_limit():
    placed = [(pod("x"), "a")]
    verdict = schedule(pod("p"), [node("a", pods="1")], placed)
    assert verdict.message() == "0/1 nodes are available: 1 Too many pods."


def test_node_selector_affinity_taints_and_cordon():
    nodes = [
        node("a", labels={"disk": "ssd"}),
        node("b", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
        node("c", unschedulable=True),
        node("d"),
    ]
    verdict = schedule(pod("p", nodeSelector={"disk": "ssd"}), nodes)
    assert verdict.node == "a"
    assert verdict.reasons == {
        "node(s) didn't match Pod's node affinity/selector": 1,
        "node(s) had untolerated taint {gpu: yes}": 1,
        "node(s) were unschedulable": 1,
    }
    tolerant = pod("t", tolerations=[{"key": "gpu", "operator": "Exists"}])
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}
                        ]
                    },
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]},
                ]
            }
        }
    }
    tolerant["spec"]["affinity"] = affinity
    assert schedule(tolerant, nodes).node == "b"


def test_node_name_pins_a_pod():
    verdict = schedule(pod("p", nodeName="b"), [node("a"), node("b")])
    assert verdict.node == "b"


def test_replicas_of_one_owner_spread_over_nodes():
    nodes = [node("a"), node("b"), node("c")]
    placed = []
    for i in range(6):
        p = pod(f"r{i}", owner="rs-1")
        verdict = schedule(p, nodes, placed)
        placed.append((p, verdict.node))
    counts = {n: sum(1 for _, where in placed if where == n) for n in "abc"}
    assert counts == {"a": 2, "b": 2, "c": 2}


def test_least_allocated_prefers_the_emptier_node():
    placed = [(pod("x", cpu="1", memory="2Gi"), "a")]
    assert schedule(pod("p", cpu="100m"), [node("a"), node("b")], placed).node == "b"


def test_cache_counts_assumed_pods_until_confirmed_or_forgotten():
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="1"))
    p = pod("p", cpu="800m")
    cache.assume(PodInfo.of(p), "a")
    [info] = cache.nodes()
    assert str(info.requested["cpu"]) == "0.800"
    cache.forget("uid-p")
    assert info.requested["cpu"] == 0
    bound = {**p, "spec": {**p["spec"], "nodeName": "a"}}
    cache.assume(PodInfo.of(p), "a")
    cache.set_pod(bound)  # the informer confirms: counted once
    assert str(info.requested["cpu"]) == "0.800"
    cache.set_pod({**bound, "status": {"phase": "Succeeded"}})
    assert info.requested["cpu"] == 0


def test_cache_keeps_pods_of_a_node_that_arrives_later():
    cache = SchedulerCache()
    cache.set_pod({**pod("p", cpu="1"), "spec": {**pod("p", cpu="1")["spec"], "nodeName": "late"}})
    cache.set_node(node("late"))
    [info] = cache.nodes()
    assert "uid-p" in info.pods


async def test_queue_orders_by_priority_and_parks_unschedulable_pods():
    queue = SchedulingQueue()
    low, high = pod("low"), pod("high", priority=10)
    queue.add(low)
    queue.add(high)
    assert (await queue.pop())["metadata"]["name"] == "high"
    assert (await queue.pop())["metadata"]["name"] == "low"
    queue.unschedulable(low, 0.0)
    status_only = {**low, "status": {"conditions": [{"type": "PodScheduled"}]}}
    queue.update(status_only)  # a status write does not bring it back
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.pop(), 0.05)
    queue.move_all_unschedulable()
    assert (await asyncio.wait_for(queue.pop(), 1))["metadata"]["name"] == "low"
    queue.unschedulable(low, 0.0)
    queue.flush_stale(1000.0)
    assert (await asyncio.wait_for(queue.pop(), 1))["metadata"]["name"] == "low"


class BindingClient:
    """Accepts bindings, events and status patches; the scheduler's metrics are the point."""

    async def create(self, path, body, **kw):
        return body

    async def patch(self, path, body, **kw):
        return body

    async def post(self, path, body, **kw):
        return body


async def test_metrics_count_attempts_pending_pods_and_time_to_bind():
    registry, now = CollectorRegistry(), [100.0]
    metrics = SchedulerMetrics(registry, "default-scheduler", clock=lambda: now[0])
    scheduler = Scheduler(BindingClient(), metrics=metrics)  # type: ignore[arg-type]
    scheduler._on_node("ADDED", node("n1", cpu="1"))
    small, big = pod("small", cpu="500m"), pod("big", cpu="4")
    for p in (small, big):
        p["spec"]["schedulerName"] = "default-scheduler"
        scheduler._on_pod("ADDED", p)

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("scheduler_pending_pods", queue="active") == 2
    now[0] += 2.0
    scheduler.schedule_one(await scheduler.queue.pop())
    scheduler.schedule_one(await scheduler.queue.pop())
    await asyncio.gather(*scheduler._tasks)
    profile = "default-scheduler"
    assert value("scheduler_schedule_attempts_total", result="scheduled", profile=profile) == 1
    assert value("scheduler_schedule_attempts_total", result="unschedulable", profile=profile) == 1
    assert value("scheduler_pending_pods", queue="unschedulable") == 1
    assert value("scheduler_pending_pods", queue="active") == 0
    # From entering the queue to bound: 2 s, in one attempt.
    assert value("scheduler_pod_scheduling_sli_duration_seconds_sum", attempts="1") == 2.0
    assert (
        value("scheduler_pod_scheduling_sli_duration_seconds_bucket", attempts="1", le="0.01") == 0
    )
