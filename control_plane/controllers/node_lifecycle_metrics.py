"""The node lifecycle controller's ``node_collector_*`` series, by zone as upstream keys it
(region and zone joined by ``:\\x00:``): nodes per zone, how many are not Ready, the zone's
health in percent, and the pods evicted from its nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ku7s.client.informer import Informer

Object = dict[str, Any]
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


def zone_key(node: Object) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def is_ready(node: Object) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class NodeCollectorMetrics(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._nodes: Informer | None = None
        self.evictions = Counter(
            "node_collector_evictions_total",
            "Number of Node evictions that happened since current instance of "
            "NodeController started.",
            ["zone"],
            registry=registry,
        )
        registry.register(self)

    def watch(self, nodes: Informer) -> None:
        self._nodes = nodes

    def evicted(self, node: Object | None) -> None:
        self.evictions.labels(zone_key(node) if node else "").inc()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily(
            "node_collector_zone_size",
            "Gauge measuring number of registered Nodes per zones.",
            labels=["zone"],
        )
        unhealthy = GaugeMetricFamily(
            "node_collector_unhealthy_nodes_in_zone",
            "Gauge measuring number of not Ready Nodes per zones.",
            labels=["zone"],
        )
        health = GaugeMetricFamily(
            "node_collector_zone_health",
            "Gauge measuring percentage of healthy nodes per zone.",
            labels=["zone"],
        )
        zones: dict[str, list[bool]] = {}
        for node in self._nodes.list() if self._nodes is not None else []:
            zones.setdefault(zone_key(node), []).append(is_ready(node))
        for zone, ready in sorted(zones.items()):
            size.add_metric([zone], len(ready))
            unhealthy.add_metric([zone], ready.count(False))
            health.add_metric([zone], 100.0 * ready.count(True) / len(ready))
        yield from (size, unhealthy, health)
