"""kube-proxy's iptables proxier: watches Services and EndpointSlices and, after each burst
of changes, renders the whole rule set and applies it in one ``iptables-restore``. It also
resyncs periodically (repairing rules someone removed) and takes every rule away when it
stops."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ku7s.api import meta
from ku7s.api.endpoint_slices import service_key
from ku7s.client.informer import Informer, InformerFactory
from node_image.kube_proxy.conntrack import Conntrack, UDPTargets, stale_flows, udp_targets
from node_image.kube_proxy.iptables import IPTables
from node_image.kube_proxy.metrics import ProxyMetrics
from node_image.kube_proxy.rules import Affinity, NodeContext, render
from node_image.kube_proxy.service_ports import ServicePort, service_ports
from node_image.kube_proxy.sync_loop import sync_loop

Object = dict[str, Any]

log = logging.getLogger("kube-proxy")


class Proxier:
    def __init__(
        self,
        informers: InformerFactory,
        iptables: IPTables,
        node: NodeContext,
        *,
        conntrack: Conntrack | None = None,
        min_sync_interval: float = 0.02,
        resync_period: float = 30.0,
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.services: Informer = informers.informer("/api/v1/services")
        self.slices: Informer = informers.informer("/apis/discovery.k8s.io/v1/endpointslices")
        self.slices.add_index("service", service_key)
        self._iptables = iptables
        self._conntrack = conntrack or Conntrack()
        self._udp: UDPTargets = {}
        self._node = node
        self._min_interval = min_sync_interval
        self._resync = resync_period
        self._changed = asyncio.Event()
        self._chains: dict[str, set[str]] = {"nat": set(), "filter": set()}
        self.last_sync_seconds = 0.0
        self.metrics = metrics or ProxyMetrics(CollectorRegistry())
        self.services.on_change(lambda *_: self._queue(self.metrics.service_changes))
        self.slices.on_change(lambda *_: self._queue(self.metrics.endpoint_changes))

    def _queue(self, changes: Counter) -> None:
        changes.inc()
        self.metrics.queued()
        self._changed.set()

    def service_ports(self) -> list[ServicePort]:
        ports: list[ServicePort] = []
        for service in self.services.list():
            key = f"{meta.namespace_of(service)}/{meta.name_of(service)}"
            ports += service_ports(service, self.slices.by_index("service", key))
        return ports

    async def sync(self) -> None:
        started = time.monotonic()
        ports = self.service_ports()
        rules = render(ports, self._node)
        stale_nat = sorted(self._chains["nat"] - set(rules.nat_chains))
        stale_filter = sorted(self._chains["filter"] - set(rules.filter_chains))
        await self._iptables.restore(rules.restore_input(stale_nat, stale_filter))
        self._chains = {"nat": set(rules.nat_chains), "filter": set(rules.filter_chains)}
        udp = udp_targets(ports)
        for flush in stale_flows(self._udp, udp):
            await self._conntrack.delete(flush)
        self._udp = udp
        self.last_sync_seconds = time.monotonic() - started
        self.metrics.synced(self.last_sync_seconds, rules.counts())

    async def run(self, stop: asyncio.Event) -> None:
        if self._node.affinity is Affinity.RECENT and not await self._iptables.supports(
            "-m", "recent", "--name", "KUBE-PROBE", "--rcheck", "--seconds", "1"
        ):
            log.info("the kernel has no 'recent' match: ClientIP affinity hashes the client")
            self._node = NodeContext(self._node.node_name, self._node.cluster_cidr, Affinity.HASH)
        self._chains = {
            "nat": await self._iptables.own_chains("nat"),
            "filter": await self._iptables.own_chains("filter"),
        }
        await self._iptables.ensure_jumps()
        await asyncio.gather(self.services.synced.wait(), self.slices.synced.wait())
        try:
            await sync_loop(
                lambda _: self.sync(),
                self._changed,
                stop,
                resync=self._resync,
                settle=self._min_interval,
                on_failure=lambda _: self.metrics.restore_failures.inc(),
            )
        finally:
            await self.clean_up()

    async def clean_up(self) -> None:
        """Take away every rule and chain of ours."""
        await self._iptables.remove_jumps()
        nat = sorted(await self._iptables.own_chains("nat"))
        filter_chains = sorted(await self._iptables.own_chains("filter"))
        text = ""
        for table, chains in (("nat", nat), ("filter", filter_chains)):
            text += f"*{table}\n" + "".join(f":{c} - [0:0]\n" for c in chains)
            text += "".join(f"-X {c}\n" for c in chains) + "COMMIT\n"
        await self._iptables.restore(text)
        self._chains = {"nat": set(), "filter": set()}
        log.info("removed the service rules")
