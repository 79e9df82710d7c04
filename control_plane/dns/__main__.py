"""The cluster DNS add-on: ``python -m control_plane.dns --kubeconfig F``.

It registers itself as the ``kube-system/kube-dns`` Service (at the service subnet's tenth
address, where kubelets point pods) with this container as its endpoint, then answers from
Services and EndpointSlices it watches.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import uvloop
from prometheus_client import CollectorRegistry

from control_plane.container import own_address
from control_plane.dns.metrics import DNSMetrics
from control_plane.dns.records import ClusterRecords
from control_plane.dns.registration import register_service
from control_plane.dns.server import DNSHandler, serve
from ku7s.aio import stop_on_signals
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS


def upstream_servers(resolv_conf: Path) -> list[str]:
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    return [f[1] for f in (line.split() for line in lines) if len(f) >= 2 and f[0] == "nameserver"]


class LiveRecords:
    """The records, rebuilt at the first question after the watched objects changed."""

    def __init__(self, factory: InformerFactory, domain: str) -> None:
        self.services = factory.informer("/api/v1/services")
        self.slices = factory.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self._domain = domain
        self._records: ClusterRecords | None = None
        for informer in (self.services, self.slices):
            informer.on_change(self._changed)

    def _changed(self, *_: object) -> None:
        self._records = None

    def __call__(self) -> ClusterRecords:
        if self._records is None:
            self._records = ClusterRecords.build(
                self.services.list(), self.slices.list(), self._domain
            )
        return self._records


def main() -> None:
    parser = argparse.ArgumentParser(prog="cluster-dns")
    parser.add_argument("--kubeconfig", default="/etc/ku7s/cluster-dns.conf")
    parser.add_argument("--service-cluster-ip-range", default="10.96.0.0/16")
    parser.add_argument("--domain", default="cluster.local")
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = stop_on_signals()
        client = APIClient.from_kubeconfig_file(args.kubeconfig, timeout=30)
        async with client:
            factory = InformerFactory(client)
            records = LiveRecords(factory, args.domain)
            registry = CollectorRegistry()
            metrics = DNSMetrics(registry, f"dns://:{args.port}")
            handler = DNSHandler(records, upstream_servers(Path("/etc/resolv.conf")), metrics)
            endpoint = MetricsEndpoint({"/metrics": registry}, PORTS["cluster-dns"])
            async with asyncio.TaskGroup() as group:
                group.create_task(endpoint.run(stop))
                for informer in factory.all():
                    group.create_task(informer.run(stop))
                group.create_task(serve(handler, "0.0.0.0", args.port, stop))
                group.create_task(
                    register_service(
                        client, args.service_cluster_ip_range, own_address(), args.port, stop
                    )
                )

    uvloop.run(run())


if __name__ == "__main__":
    main()
