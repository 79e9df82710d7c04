"""The ``workqueue_*`` series every controller's queue has upstream, labelled by the queue's
name, with upstream's buckets (1 µs to 1000 s, ten steps of ten)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

BUCKETS = tuple(10.0**power for power in range(-6, 4))


class QueueState:
    """What one queue tells its metrics: when keys were added, and which are being worked on."""

    def __init__(self, name: str, metrics: WorkqueueMetrics) -> None:
        self.name = name
        self._metrics = metrics
        self._clock = metrics.clock
        self._added: dict[Any, float] = {}
        self._started: dict[Any, float] = {}

    @property
    def depth(self) -> int:
        return len(self._added)

    def added(self, key: Any) -> None:
        self._metrics.adds.labels(self.name).inc()
        self._added.setdefault(key, self._clock())

    def taken(self, key: Any) -> None:
        now = self._clock()
        queued = self._added.pop(key, None)
        if queued is not None:
            self._metrics.queue_duration.labels(self.name).observe(now - queued)
        self._started[key] = now

    def done(self, key: Any) -> None:
        started = self._started.pop(key, None)
        if started is not None:
            self._metrics.work_duration.labels(self.name).observe(self._clock() - started)

    def retried(self) -> None:
        self._metrics.retries.labels(self.name).inc()

    def running_for(self) -> list[float]:
        now = self._clock()
        return [now - started for started in self._started.values()]


class WorkqueueMetrics(Collector):
    """The series of every queue made with ``queue(name)``, on one registry."""

    def __init__(
        self, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self._queues: list[QueueState] = []
        label = ["name"]
        self.adds = Counter(
            "workqueue_adds_total",
            "Total number of adds handled by workqueue",
            label,
            registry=registry,
        )
        self.retries = Counter(
            "workqueue_retries_total",
            "Total number of retries handled by workqueue",
            label,
            registry=registry,
        )
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            label,
            buckets=BUCKETS,
            registry=registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            label,
            buckets=BUCKETS,
            registry=registry,
        )
        registry.register(self)

    def queue(self, name: str) -> QueueState:
        state = QueueState(name, self)
        self._queues.append(state)
        return state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been "
            "observed by work_duration. Large values indicate stuck threads.",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels=["name"],
        )
        for state in self._queues:
            running = state.running_for()
            depth.add_metric([state.name], state.depth)
            unfinished.add_metric([state.name], sum(running))
            longest.add_metric([state.name], max(running, default=0.0))
        yield depth
        yield unfinished
        yield longest
