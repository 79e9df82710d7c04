"""metrics.k8s.io/v1beta1, served in the API server itself (there is one apiserver, so no
aggregation layer is needed): NodeMetrics and PodMetrics computed, when asked, from the
kubelets' ``/metrics/resource``.

CPU is a rate, so it takes two readings: each answer pairs a fresh reading of each node
with the one kept from the last answer, when that is recent; otherwise it reads again after
a short pause. ``window`` says over how long the rate was taken. Memory is the working set
at the newer reading, as metrics-server reports it.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from control_plane.apiserver import errors
from control_plane.apiserver.handlers import json_response
from control_plane.apiserver.kinds.metrics import GROUP, VERSION
from control_plane.apiserver.registry import ListOptions, Registry
from ku7s.api import meta
from ku7s.api.meta import runs_on_paper
from ku7s.names import HOLLOW_NODE_LABEL

Object = dict[str, Any]
log = logging.getLogger("kube-apiserver")

API_VERSION = f"{GROUP}/{VERSION}"
#: Readings closer than this make no rate; older than the limit are not paired.
MIN_WINDOW, MAX_WINDOW = 0.5, 120.0
#: How long to wait for a second reading when there is no usable first one.
SECOND_READING_AFTER = 1.0
#: A node's pair of readings answers every request within this long of being taken (the
#: autoscaler's many requests at once, kubectl top's repeats), as metrics-server answers
#: from memory between its scrapes.
FRESH_FOR = 1.0

#: Reads a node's resource metrics text.
Fetch = Callable[[str], Awaitable[str]]
Usage = tuple[float, float, float]  # (cpu core-seconds, working set bytes, timestamp)


@dataclass
class Reading:
    """One scrape of a node's resource metrics."""

    node: Usage | None = None
    #: (namespace, pod, container) -> usage
    containers: dict[tuple[str, str, str], Usage] = field(default_factory=dict)

    @property
    def timestamp(self) -> float:
        return self.node[2] if self.node else 0.0


def parse_reading(text: str, now: float) -> Reading:
    cpu: dict[tuple[str, ...], tuple[float, float]] = {}
    memory: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            stamp = float(sample.timestamp) if sample.timestamp is not None else now
            if sample.name in ("node_cpu_usage_seconds_total", "container_cpu_usage_seconds_total"):
                cpu[(sample.name[:4], *key)] = (sample.value, stamp)
            elif sample.name in (
                "node_memory_working_set_bytes",
                "container_memory_working_set_bytes",
            ):
                memory[(sample.name[:4], *key)] = sample.value
    reading = Reading()
    for (scope, *where), (seconds, stamp) in cpu.items():
        usage = (seconds, memory.get((scope, *where), 0.0), stamp)
        if scope == "node":
            reading.node = usage
        else:
            namespace, pod, container = where
            reading.containers[(namespace, pod, container)] = usage
    return reading


def rate(older: Usage, newer: Usage) -> float | None:
    elapsed = newer[2] - older[2]
    if elapsed <= 0 or newer[0] < older[0]:
        return None  # restarted between the readings: no rate yet
    return (newer[0] - older[0]) / elapsed


def cpu_quantity(cores: float) -> str:
    return f"{max(0, round(cores * 1e9))}n"


def memory_quantity(size: float) -> str:
    return f"{max(0, int(size // 1024))}Ki"


def rfc3339(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found(resource: str, name: str) -> errors.APIError:
    details = {"name": name, "group": GROUP, "kind": resource.removesuffix("metrics")}
    return errors.APIError(404, "NotFound", f'{resource}.{GROUP} "{name}" not found', details)


def window(seconds: float) -> str:
    return f"{seconds:.3f}s"


class MetricsAPI:
    def __init__(
        self,
        registry: Registry,
        fetch: Fetch,
        clock: Callable[[], float] = time.time,
        second_reading_after: float = SECOND_READING_AFTER,
    ) -> None:
        self._registry = registry
        self._fetch = fetch
        self._clock = clock
        self._pause = second_reading_after
        self._last: dict[str, Reading] = {}
        #: node -> (when taken, the pair), and the pair being taken now
        self._recent: dict[str, tuple[float, tuple[Reading, Reading] | None]] = {}
        self._taking: dict[str, asyncio.Task[tuple[Reading, Reading] | None]] = {}

    # -- readings --

    async def _read(self, node: str) -> Reading | None:
        try:
            reading = parse_reading(await self._fetch(node), self._clock())
        except Exception as e:  # a node that does not answer has no metrics, as upstream
            log.info("no resource metrics from %s: %s", node, e)
            return None
        return reading if reading.node is not None else None

    async def _pair(self, node: str) -> tuple[Reading, Reading] | None:
        """A fresh pair of readings of the node, shared by the requests that want one now."""
        recent = self._recent.get(node)
        if recent is not None and self._clock() - recent[0] <= FRESH_FOR:
            return recent[1]
        task = self._taking.get(node)
        if task is None:
            task = self._taking[node] = asyncio.ensure_future(self._take_pair(node))
            task.add_done_callback(lambda _: self._taking.pop(node, None))
        return await asyncio.shield(task)

    async def _take_pair(self, node: str) -> tuple[Reading, Reading] | None:
        pair = await self._read_pair(node)
        self._recent[node] = (self._clock(), pair)
        return pair

    async def _read_pair(self, node: str) -> tuple[Reading, Reading] | None:
        newer = await self._read(node)
        if newer is None:
            return None
        older = self._last.get(node)
        if older is None or not MIN_WINDOW <= newer.timestamp - older.timestamp <= MAX_WINDOW:
            await asyncio.sleep(self._pause)
            older, newer = newer, await self._read(node)
            if newer is None:
                return None
        self._last[node] = newer
        return older, newer

    async def _pairs(self, nodes: list[str]) -> dict[str, tuple[Reading, Reading]]:
        found = await asyncio.gather(*(self._pair(node) for node in nodes))
        return {node: pair for node, pair in zip(nodes, found, strict=True) if pair is not None}

    # -- objects --

    def _options(self, request: web.Request) -> ListOptions:
        return ListOptions(
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
        )

    def _node_metrics(self, node: Object, pair: tuple[Reading, Reading]) -> Object | None:
        older, newer = pair
        assert older.node is not None and newer.node is not None
        cores = rate(older.node, newer.node)
        if cores is None:
            return None
        return {
            "kind": "NodeMetrics",
            "apiVersion": API_VERSION,
            "metadata": {
                "name": meta.name_of(node),
                "creationTimestamp": rfc3339(self._clock()),
                "labels": meta.labels_of(node),
            },
            "timestamp": rfc3339(newer.node[2]),
            "window": window(newer.node[2] - older.node[2]),
            "usage": {"cpu": cpu_quantity(cores), "memory": memory_quantity(newer.node[1])},
        }

    def _pod_metrics(self, pod: Object, pair: tuple[Reading, Reading]) -> Object | None:
        older, newer = pair
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        containers, spans = [], []
        for (ns, pod_name, container), usage in sorted(newer.containers.items()):
            if (ns, pod_name) != (namespace, name):
                continue
            before = older.containers.get((ns, pod_name, container))
            cores = rate(before, usage) if before is not None else None
            if cores is None:
                continue
            containers.append(
                {
                    "name": container,
                    "usage": {"cpu": cpu_quantity(cores), "memory": memory_quantity(usage[1])},
                }
            )
            spans.append((before[2] if before else usage[2], usage[2]))
        if not containers:
            return None
        return {
            "kind": "PodMetrics",
            "apiVersion": API_VERSION,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": rfc3339(self._clock()),
                "labels": meta.labels_of(pod),
            },
            "timestamp": rfc3339(max(end for _, end in spans)),
            "window": window(max(end - start for start, end in spans)),
            "containers": containers,
        }

    async def node_metrics(self, options: ListOptions, name: str = "") -> list[Object]:
        kind = self._registry.kinds.get("nodes")
        if name:
            found = await self._registry.find(kind, "", name)
            nodes = [found] if found is not None else []
        else:
            nodes = (await self._registry.list(kind, None, options)).items
        # Hollow nodes run nothing, so they have no usage (and no kubelet API to ask).
        nodes = [n for n in nodes if HOLLOW_NODE_LABEL not in meta.labels_of(n)]
        pairs = await self._pairs([meta.name_of(n) for n in nodes])
        items = [
            self._node_metrics(node, pairs[meta.name_of(node)])
            for node in nodes
            if meta.name_of(node) in pairs
        ]
        return [item for item in items if item is not None]

    async def pod_metrics(
        self, namespace: str | None, options: ListOptions, name: str = ""
    ) -> list[Object]:
        kind = self._registry.kinds.get("pods")
        if name and namespace:
            found = await self._registry.find(kind, namespace, name)
            pods = [found] if found is not None else []
        else:
            pods = (await self._registry.list(kind, namespace, options)).items
        running = [
            p
            for p in pods
            if (p.get("status") or {}).get("phase") == "Running"
            and (p.get("spec") or {}).get("nodeName")
            and not runs_on_paper(p)
        ]
        pairs = await self._pairs(sorted({p["spec"]["nodeName"] for p in running}))
        items = [
            self._pod_metrics(pod, pairs[pod["spec"]["nodeName"]])
            for pod in running
            if pod["spec"]["nodeName"] in pairs
        ]
        return [item for item in items if item is not None]

    # -- HTTP --

    def routes(self, app: web.Application) -> None:
        base = f"/apis/{GROUP}/{VERSION}"
        r = app.router
        r.add_route("*", f"{base}/nodes", self._list_nodes)
        r.add_route("*", f"{base}/nodes/{{name}}", self._get_node)
        r.add_route("*", f"{base}/pods", self._list_pods)
        r.add_route("*", f"{base}/namespaces/{{namespace}}/pods", self._list_pods)
        r.add_route("*", f"{base}/namespaces/{{namespace}}/pods/{{name}}", self._get_pod)

    @staticmethod
    def _only_reads(request: web.Request) -> None:
        if request.method != "GET":
            raise errors.APIError(
                405, "MethodNotAllowed", f"{request.method} is not supported on {GROUP} metrics"
            )

    async def _list_nodes(self, request: web.Request) -> web.Response:
        self._only_reads(request)
        items = await self.node_metrics(self._options(request))
        return json_response(self._list("NodeMetricsList", items))

    async def _get_node(self, request: web.Request) -> web.Response:
        self._only_reads(request)
        name = request.match_info["name"]
        items = await self.node_metrics(ListOptions(), name)
        if not items:
            raise not_found("nodemetrics", name)
        return json_response(items[0])

    async def _list_pods(self, request: web.Request) -> web.Response:
        self._only_reads(request)
        namespace = request.match_info.get("namespace")
        items = await self.pod_metrics(namespace, self._options(request))
        return json_response(self._list("PodMetricsList", items))

    async def _get_pod(self, request: web.Request) -> web.Response:
        self._only_reads(request)
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        items = await self.pod_metrics(namespace, ListOptions(), name)
        if not items:
            raise not_found("podmetrics", name)
        return json_response(items[0])

    @staticmethod
    def _list(kind: str, items: list[Object]) -> Object:
        return {"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items}
