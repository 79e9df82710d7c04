"""Counts the faults ``ku7s chaos`` runs, for Prometheus: every fault is recorded in the
cluster (a labelled ConfigMap, see ku7s.chaos.ledger) before it is injected and its record
is deleted once it is reverted, so watching the records counts faults from whichever
process, CLI, scenario or pytest plugin, made them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ku7s.client.informer import Informer
from ku7s.client.rest import APIClient
from ku7s.names import CHAOS_LABEL as LABEL
from ku7s.names import CHAOS_NAMESPACE as NAMESPACE

Object = dict[str, Any]
KIND_LABEL = f"{LABEL}-kind"


def kind_of(record: Object) -> str:
    return str(((record.get("metadata") or {}).get("labels") or {}).get(KIND_LABEL, "unknown"))


class ChaosFaultMetrics(Collector):
    """``ku7s_chaos_faults_total`` and ``ku7s_chaos_faults_reverted_total`` by kind, and
    the faults in force now, ``ku7s_chaos_faults_active``."""

    def __init__(self, client: APIClient, registry: CollectorRegistry) -> None:
        self.records = Informer(
            client,
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            params={"labelSelector": f"{LABEL}=fault"},
        )
        self.records.on_change(self._changed)
        self.started = Counter(
            "ku7s_chaos_faults_total",
            "Faults started by ku7s chaos, by kind (counted when recorded, before injection).",
            ["kind"],
            registry=registry,
        )
        self.reverted = Counter(
            "ku7s_chaos_faults_reverted_total",
            "Faults of ku7s chaos reverted (or recovered), by kind.",
            ["kind"],
            registry=registry,
        )
        registry.register(self)

    def _changed(self, event: str, record: Object) -> None:
        if event == "ADDED":
            self.started.labels(kind_of(record)).inc()
        elif event == "DELETED":
            self.reverted.labels(kind_of(record)).inc()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        active = GaugeMetricFamily(
            "ku7s_chaos_faults_active",
            "Faults of ku7s chaos in force now, by kind.",
            labels=["kind"],
        )
        counts: dict[str, int] = {}
        for record in self.records.list():
            counts[kind_of(record)] = counts.get(kind_of(record), 0) + 1
        for kind, count in sorted(counts.items()):
            active.add_metric([kind], count)
        yield active

    async def run(self, stop: asyncio.Event) -> None:
        await self.records.run(stop)
