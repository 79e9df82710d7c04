"""``/metrics/resource`` (what metrics-server and ``kubectl top`` read) and
``/metrics/cadvisor`` (cAdvisor's names), both read from the cgroups at each scrape: the
node as a whole, each running pod, and each running container in it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node_image.kubelet.cgroups import PodCgroups
from node_image.kubelet.resource_usage import CgroupReader, Usage, machine_memory_bytes


@dataclass(frozen=True)
class ContainerRef:
    name: str
    id: str
    image: str
    #: When it started, in seconds since the epoch.
    started: float


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str
    qos_class: str
    containers: list[ContainerRef] = field(default_factory=list)


#: The pods running on the node now.
PodRefs = Callable[[], list[PodRef]]


@dataclass
class Readings:
    """One scrape's reading of the node, its pods and their containers."""

    node: Usage | None
    pods: list[tuple[PodRef, Usage, list[tuple[ContainerRef, Usage, str]]]]


class UsageSource:
    """Where each cgroup is, and reading them all at once."""

    def __init__(self, reader: CgroupReader, cgroups: PodCgroups, node_cgroup: str) -> None:
        self._reader = reader
        self._cgroups = cgroups
        self._node = node_cgroup

    def read(self, pods: list[PodRef]) -> Readings:
        readings = Readings(self._reader.read(self._node), [])
        for pod in pods:
            parent = self._cgroups.parent(pod.uid, pod.qos_class)
            usage = self._reader.read(parent)
            if usage is None:
                continue
            containers = []
            for container in pod.containers:
                path = f"{parent}/{container.id}"
                found = self._reader.read(path)
                if found is not None:
                    containers.append((container, found, path))
            readings.pods.append((pod, usage, containers))
        return readings


class ResourceMetrics(Collector):
    """The kubelet's resource metrics endpoint, with upstream's names and timestamps."""

    def __init__(self, source: UsageSource, pods: PodRefs) -> None:
        self._source = source
        self._pods = pods

    def collect(self) -> Iterator[Metric]:
        readings = self._source.read(self._pods())
        node_cpu = CounterMetricFamily(
            "node_cpu_usage_seconds", "Cumulative cpu time consumed by the node in core-seconds"
        )
        node_memory = GaugeMetricFamily(
            "node_memory_working_set_bytes", "Current working set of the node in bytes"
        )
        pod_labels = ["pod", "namespace"]
        pod_cpu = CounterMetricFamily(
            "pod_cpu_usage_seconds",
            "Cumulative cpu time consumed by the pod in core-seconds",
            labels=pod_labels,
        )
        pod_memory = GaugeMetricFamily(
            "pod_memory_working_set_bytes",
            "Current working set of the pod in bytes",
            labels=pod_labels,
        )
        labels = ["container", "pod", "namespace"]
        container_cpu = CounterMetricFamily(
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed by the container in core-seconds",
            labels=labels,
        )
        container_memory = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set of the container in bytes",
            labels=labels,
        )
        container_start = GaugeMetricFamily(
            "container_start_time_seconds",
            "Start time of the container since unix epoch in seconds",
            labels=labels,
        )
        scrape_error = GaugeMetricFamily(
            "resource_scrape_error",
            "1 if there was an error while getting container metrics, 0 otherwise",
        )
        if readings.node is not None:
            node = readings.node
            node_cpu.add_metric([], node.cpu_seconds, timestamp=node.timestamp)
            node_memory.add_metric([], node.working_set_bytes, timestamp=node.timestamp)
        for pod, usage, containers in readings.pods:
            names = [pod.name, pod.namespace]
            pod_cpu.add_metric(names, usage.cpu_seconds, timestamp=usage.timestamp)
            pod_memory.add_metric(names, usage.working_set_bytes, timestamp=usage.timestamp)
            for container, found, _ in containers:
                row = [container.name, *names]
                container_cpu.add_metric(row, found.cpu_seconds, timestamp=found.timestamp)
                container_memory.add_metric(row, found.working_set_bytes, timestamp=found.timestamp)
                container_start.add_metric(row, container.started, timestamp=found.timestamp)
        scrape_error.add_metric([], 0 if readings.node is not None else 1)
        yield from (node_cpu, node_memory, pod_cpu, pod_memory)
        yield from (container_cpu, container_memory, container_start, scrape_error)


class CadvisorMetrics(Collector):
    """cAdvisor's series as the kubelet serves them: one row per cgroup (the node's root
    as ``id="/"``, each pod, each container), and the machine's size."""

    def __init__(self, source: UsageSource, pods: PodRefs) -> None:
        self._source = source
        self._pods = pods

    def collect(self) -> Iterator[Metric]:
        readings = self._source.read(self._pods())
        labels = ["container", "cpu", "id", "image", "name", "namespace", "pod"]
        cpu = CounterMetricFamily(
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed in seconds.",
            labels=labels,
        )
        memory_labels = [label for label in labels if label != "cpu"]
        working_set = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set in bytes.",
            labels=memory_labels,
        )
        usage_bytes = GaugeMetricFamily(
            "container_memory_usage_bytes",
            "Current memory usage in bytes, including all memory regardless of when it was "
            "accessed",
            labels=memory_labels,
        )

        def row(
            container: str, cgroup: str, image: str, name: str, ns: str, pod: str, usage: Usage
        ) -> None:
            cpu.add_metric(
                [container, "total", cgroup, image, name, ns, pod],
                usage.cpu_seconds,
                timestamp=usage.timestamp,
            )
            values = [container, cgroup, image, name, ns, pod]
            working_set.add_metric(values, usage.working_set_bytes, timestamp=usage.timestamp)
            usage_bytes.add_metric(values, usage.usage_bytes, timestamp=usage.timestamp)

        if readings.node is not None:
            row("", "/", "", "", "", "", readings.node)
        for pod, usage, containers in readings.pods:
            pod_cgroup = f"/kubepods/{pod.qos_class.lower()}/pod{pod.uid}"
            row("", pod_cgroup, "", "", pod.namespace, pod.name, usage)
            for container, found, _ in containers:
                row(
                    container.name,
                    f"{pod_cgroup}/{container.id}",
                    container.image,
                    container.id,
                    pod.namespace,
                    pod.name,
                    found,
                )
        cores = GaugeMetricFamily("machine_cpu_cores", "Number of logical CPU cores.")
        cores.add_metric([], os.cpu_count() or 1)
        machine_memory = GaugeMetricFamily("machine_memory_bytes", "Amount of memory installed.")
        machine_memory.add_metric([], machine_memory_bytes())
        yield from (cpu, working_set, usage_bytes, cores, machine_memory)
