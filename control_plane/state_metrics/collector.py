"""The state metrics as one collector over the informers' caches."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from control_plane.state_metrics.deployments import deployment_families
from control_plane.state_metrics.nodes import node_families
from control_plane.state_metrics.pods import pod_families
from ku7s.client.informer import Informer, InformerFactory


class StateMetrics(Collector):
    def __init__(self, informers: InformerFactory) -> None:
        self.pods: Informer = informers.informer("/api/v1/pods")
        self.nodes: Informer = informers.informer("/api/v1/nodes")
        self.deployments: Informer = informers.informer("/apis/apps/v1/deployments")

    def collect(self) -> Iterator[Metric]:
        yield from pod_families(self.pods.list())
        yield from node_families(self.nodes.list())
        yield from deployment_families(self.deployments.list())
