"""kube-state-metrics as a component: the state series over a set of informers, served on
its own port. The controller manager hosts it on its informers (one watch per collection
for both); ``python -m control_plane.state_metrics`` runs it alone."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from control_plane.state_metrics.collector import StateMetrics
from ku7s.client.informer import InformerFactory
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS


class KubeStateMetrics:
    def __init__(self, informers: InformerFactory, port: int = PORTS["kube-state-metrics"]) -> None:
        self.registry = CollectorRegistry()
        self.collector = StateMetrics(informers)
        self.registry.register(self.collector)
        self._endpoint = MetricsEndpoint({"/metrics": self.registry}, port)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until stopped; the informers run here too (a no-op for one already
        running for a controller)."""
        collector = self.collector
        async with asyncio.TaskGroup() as group:
            for informer in (collector.pods, collector.nodes, collector.deployments):
                group.create_task(informer.run(stop))
            group.create_task(self._endpoint.run(stop))
