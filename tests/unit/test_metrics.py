"""Component metrics without a cluster: the work queues' series as upstream names them, the
chaos fault counters, and the endpoint that serves a registry."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from control_plane.controllers.node_lifecycle_metrics import NodeCollectorMetrics
from control_plane.state_metrics.chaos_faults import ChaosFaultMetrics
from ku7s.client.informer import Informer
from ku7s.client.workqueue import WorkQueue
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.workqueue import WorkqueueMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def sample(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_work_queue_reports_adds_waits_work_and_retries():
    registry, clock = CollectorRegistry(), Clock()
    metrics = WorkqueueMetrics(registry, clock=clock)

    async def scenario() -> None:
        queue: WorkQueue[str] = WorkQueue()
        queue.observe(metrics.queue("deployment"))
        queue.add("a")
        queue.add("a")  # already queued: one add
        queue.add("b")
        assert sample(registry, "workqueue_depth", name="deployment") == 2
        clock.now += 0.5
        key = await queue.get()
        clock.now += 2
        assert (
            sample(registry, "workqueue_longest_running_processor_seconds", name="deployment") == 2
        )
        queue.add_rate_limited(key)
        queue.done(key)
        queue.shut_down()

    asyncio.run(scenario())
    assert sample(registry, "workqueue_adds_total", name="deployment") == 2
    assert sample(registry, "workqueue_retries_total", name="deployment") == 1
    assert sample(registry, "workqueue_depth", name="deployment") == 1
    assert sample(registry, "workqueue_queue_duration_seconds_sum", name="deployment") == 0.5
    assert sample(registry, "workqueue_work_duration_seconds_sum", name="deployment") == 2
    # Upstream's buckets: ten powers of ten from a microsecond.
    assert (
        sample(registry, "workqueue_work_duration_seconds_bucket", name="deployment", le="1e-06")
        == 0
    )
    assert (
        sample(registry, "workqueue_work_duration_seconds_bucket", name="deployment", le="1000.0")
        == 1
    )


def record(kind: str, name: str) -> dict:
    labels = {"ku7s.dev/chaos": "fault", "ku7s.dev/chaos-kind": kind}
    return {"metadata": {"name": name, "namespace": "kube-system", "labels": labels}}


def test_chaos_faults_are_counted_from_their_records():
    registry = CollectorRegistry()
    faults = ChaosFaultMetrics(None, registry)  # type: ignore[arg-type]
    for event, obj in [
        ("ADDED", record("pause", "ku7s-chaos-1")),
        ("ADDED", record("latency", "ku7s-chaos-2")),
        ("DELETED", record("pause", "ku7s-chaos-1")),
    ]:
        faults.records._apply(event, obj)
    assert sample(registry, "ku7s_chaos_faults_total", kind="pause") == 1
    assert sample(registry, "ku7s_chaos_faults_total", kind="latency") == 1
    assert sample(registry, "ku7s_chaos_faults_reverted_total", kind="pause") == 1
    assert sample(registry, "ku7s_chaos_faults_active", kind="latency") == 1
    assert sample(registry, "ku7s_chaos_faults_active", kind="pause") is None


def test_the_endpoint_serves_the_registry_as_prometheus_text():
    registry = CollectorRegistry()
    WorkqueueMetrics(registry).queue("job").added("k")

    async def scrape() -> tuple[int, str, str]:
        app = MetricsEndpoint({"/metrics": registry}, port=0).app()
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/metrics")
            return response.status, response.headers["Content-Type"], await response.text()

    status, content_type, text = asyncio.run(scrape())
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert 'workqueue_adds_total{name="job"} 1.0' in text


def zoned_node(name: str, zone: str, ready: str) -> dict:
    labels = {"topology.kubernetes.io/region": "local", "topology.kubernetes.io/zone": zone}
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def test_node_collector_reports_zone_sizes_health_and_evictions():
    registry = CollectorRegistry()
    metrics = NodeCollectorMetrics(registry)
    nodes = Informer(None, "/api/v1/nodes")  # type: ignore[arg-type]
    for node in (zoned_node("a1", "a", "True"), zoned_node("a2", "a", "Unknown")):
        nodes._apply("ADDED", node)
    nodes._apply("ADDED", zoned_node("b1", "b", "True"))
    metrics.watch(nodes)
    zone_a = {"zone": "local:\x00:a"}
    assert sample(registry, "node_collector_zone_size", **zone_a) == 2
    assert sample(registry, "node_collector_unhealthy_nodes_in_zone", **zone_a) == 1
    assert sample(registry, "node_collector_zone_health", **zone_a) == 50.0
    assert sample(registry, "node_collector_zone_health", zone="local:\x00:b") == 100.0
    metrics.evicted(nodes.get("a2"))
    assert sample(registry, "node_collector_evictions_total", **zone_a) == 1
