"""The kubelet's own ``/metrics`` with upstream's names and buckets: pods and containers
running, how long pods took to start, every CRI call counted and timed, and the pod
lifecycle relist (PLEG) timings."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: kubelet_pod_start_duration_seconds' buckets upstream.
POD_START_BUCKETS = (
    0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600,
    900, 1200, 1800, 2700, 3600,
)  # fmt: skip
RUNTIME_BUCKETS = tuple(0.005 * 2.5**i for i in range(14))
PLEG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: CRI's ContainerState values, as kubelet_running_containers labels them.
CONTAINER_STATES = {0: "created", 1: "running", 2: "exited", 3: "unknown"}

#: What the running pods and containers are now: (pods with a ready sandbox, container
#: states by CRI value).
RuntimeCounts = Callable[[], tuple[int, list[int]]]


def operation_type(request_name: str) -> str:
    """The operation_type label upstream gives a CRI call: ``RunPodSandboxRequest`` ->
    ``run_podsandbox``."""
    name = request_name.removesuffix("Request")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return snake.replace("pod_sandbox", "podsandbox")


class KubeletMetrics(Collector):
    def __init__(
        self,
        registry: CollectorRegistry,
        node_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self._clock = clock
        self._runtime_counts: RuntimeCounts = lambda: (0, [])
        #: pod uid -> when the kubelet first saw it, until it first runs.
        self._starting: dict[str, float] = {}
        self._last_relist = 0.0
        self.pod_start = Histogram(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod "
            "starting to run",
            buckets=POD_START_BUCKETS,
            registry=registry,
        )
        labels = ["operation_type"]
        self.operations = Counter(
            "kubelet_runtime_operations_total",
            "Cumulative number of runtime operations by operation type.",
            labels,
            registry=registry,
        )
        self.operation_errors = Counter(
            "kubelet_runtime_operations_errors_total",
            "Cumulative number of runtime operation errors by operation type.",
            labels,
            registry=registry,
        )
        self.operation_duration = Histogram(
            "kubelet_runtime_operations_duration_seconds",
            "Duration in seconds of runtime operations. Broken down by operation type.",
            labels,
            buckets=RUNTIME_BUCKETS,
            registry=registry,
        )
        self.relist_duration = Histogram(
            "kubelet_pleg_relist_duration_seconds",
            "Duration in seconds for relisting pods in PLEG.",
            buckets=PLEG_BUCKETS,
            registry=registry,
        )
        self.relist_interval = Histogram(
            "kubelet_pleg_relist_interval_seconds",
            "Interval in seconds between relisting in PLEG.",
            buckets=PLEG_BUCKETS,
            registry=registry,
        )
        self.last_seen = Gauge(
            "kubelet_pleg_last_seen_seconds",
            "Timestamp in seconds when PLEG was last seen active.",
            registry=registry,
        )
        Gauge(
            "kubelet_node_name",
            "The node's name. The count is always 1.",
            ["node"],
            registry=registry,
        ).labels(node_name).set(1)
        registry.register(self)

    def watch_runtime(self, counts: RuntimeCounts) -> None:
        self._runtime_counts = counts

    # -- what the kubelet tells --

    def runtime_operation(self, request_name: str, seconds: float, failed: bool) -> None:
        operation = operation_type(request_name)
        self.operations.labels(operation).inc()
        self.operation_duration.labels(operation).observe(seconds)
        if failed:
            self.operation_errors.labels(operation).inc()

    def relisted(self, started: float, seconds: float) -> None:
        if self._last_relist:
            self.relist_interval.observe(started - self._last_relist)
        self._last_relist = started
        self.relist_duration.observe(seconds)
        self.last_seen.set(time.time())

    def pod_seen(self, uid: str) -> None:
        self._starting.setdefault(uid, self._clock())

    def pod_phase(self, uid: str, phase: str) -> None:
        if phase == "Running" and uid in self._starting:
            self.pod_start.observe(self._clock() - self._starting.pop(uid))
        elif phase in ("Succeeded", "Failed"):
            self._starting.pop(uid, None)

    def pod_gone(self, uid: str) -> None:
        self._starting.pop(uid, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        running_pods, states = self._runtime_counts()
        pods = GaugeMetricFamily(
            "kubelet_running_pods", "Number of pods that have a running pod sandbox"
        )
        pods.add_metric([], running_pods)
        containers = GaugeMetricFamily(
            "kubelet_running_containers",
            "Number of containers currently running",
            labels=["container_state"],
        )
        for value, state in CONTAINER_STATES.items():
            containers.add_metric([state], sum(1 for s in states if s == value))
        yield pods
        yield containers
