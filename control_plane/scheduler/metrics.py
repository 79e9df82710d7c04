"""kube-scheduler's metrics with upstream's names, labels and buckets: attempts by result
and how long they took, pods waiting in each part of the queue, and each pod's time from
entering the queue to being bound (the scheduling SLI)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    return tuple(start * factor**i for i in range(count))


ATTEMPT_BUCKETS = exponential_buckets(0.001, 2, 15)
SLI_BUCKETS = exponential_buckets(0.01, 2, 20)
ATTEMPTS_BUCKETS = exponential_buckets(1, 2, 5)
QUEUES = ("active", "backoff", "unschedulable", "gated")

#: The pods in each part of the queue, by QUEUES' names.
PendingCounts = Callable[[], dict[str, int]]


class SchedulerMetrics(Collector):
    def __init__(
        self,
        registry: CollectorRegistry,
        profile: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self._pending: PendingCounts = dict
        #: pod uid -> (when it entered the queue, attempts so far)
        self._pods: dict[str, tuple[float, int]] = {}
        self.attempts = Counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod "
            "could not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"],
            registry=registry,
        )
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"],
            buckets=ATTEMPT_BUCKETS,
            registry=registry,
        )
        self.sli_duration = Histogram(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the "
            "scheduling queue and might involve multiple scheduling attempts.",
            ["attempts"],
            buckets=SLI_BUCKETS,
            registry=registry,
        )
        self.pod_attempts = Histogram(
            "scheduler_pod_scheduling_attempts",
            "Number of attempts to successfully schedule a pod.",
            buckets=ATTEMPTS_BUCKETS,
            registry=registry,
        )
        registry.register(self)

    def watch_queue(self, pending: PendingCounts) -> None:
        self._pending = pending

    def queued(self, uid: str) -> None:
        """The pod needs a node; its SLI clock starts the first time."""
        self._pods.setdefault(uid, (self.clock(), 0))

    def attempted(self, uid: str) -> float:
        """An attempt starts; returns its start for ``result``."""
        entered, attempts = self._pods.get(uid, (self.clock(), 0))
        self._pods[uid] = (entered, attempts + 1)
        return self.clock()

    def result(self, result: str, started: float) -> None:
        self.attempts.labels(result, self.profile).inc()
        self.attempt_duration.labels(result, self.profile).observe(self.clock() - started)

    def bound(self, uid: str) -> None:
        entered, attempts = self._pods.pop(uid, (self.clock(), 1))
        self.sli_duration.labels(str(attempts)).observe(self.clock() - entered)
        self.pod_attempts.observe(attempts)

    def gone(self, uid: str) -> None:
        self._pods.pop(uid, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in "
            "activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means "
            "number of pods in unschedulablePods that the scheduler attempted to schedule "
            "and failed; 'gated' is the number of unschedulable pods that the scheduler "
            "never attempted to schedule because they are gated.",
            labels=["queue"],
        )
        counts = self._pending()
        for queue in QUEUES:
            pending.add_metric([queue], counts.get(queue, 0))
        yield pending
