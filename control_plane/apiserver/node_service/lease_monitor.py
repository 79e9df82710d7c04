"""Marks a Node NotReady when its Lease expires: the path that catches a node whose stream
is still open but silent (a paused container, a partitioned network).

A check lists every Node and Lease, so it runs less often as the cluster grows (every 0.5 s
up to 100 nodes, every 5 s at 1,000, upstream's node monitor period), keeping its cost flat;
Leases last longer at that size anyway (see Timing)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable

from control_plane.apiserver.node_service.node_objects import NODE_LEASE_NAMESPACE
from control_plane.apiserver.registry import ListOptions, Registry
from ku7s.api import meta

log = logging.getLogger("node-lease-monitor")


class NodeLeaseMonitor:
    def __init__(
        self,
        registry: Registry,
        mark_unknown: Callable[[str, str], Awaitable[None]],
        *,
        interval: float = 0.5,
        seconds_per_node: float = 0.005,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self._registry = registry
        self._mark_unknown = mark_unknown
        self._interval = interval
        self._seconds_per_node = seconds_per_node
        self._nodes_seen = 0
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception:
                log.exception("lease check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    @property
    def interval(self) -> float:
        return max(self._interval, self._nodes_seen * self._seconds_per_node)

    async def check_once(self) -> list[str]:
        """Mark every Ready node whose lease has expired; return their names."""
        kinds = self._registry.kinds
        nodes_type = kinds.get("nodes")
        leases_type = kinds.get("leases", "coordination.k8s.io")
        leases = await self._registry.list(leases_type, NODE_LEASE_NAMESPACE, ListOptions())
        renewed = {meta.name_of(lease): lease.get("spec", {}) for lease in leases.items}
        nodes = await self._registry.list(nodes_type, None, ListOptions())
        self._nodes_seen = len(nodes.items)
        now = self._clock()
        expired = []
        for node in nodes.items:
            if not meta.is_node_ready(node):
                continue
            name = meta.name_of(node)
            spec = renewed.get(name)
            if spec and "renewTime" in spec:
                deadline = meta.parse_time(spec["renewTime"]) + datetime.timedelta(
                    seconds=int(spec.get("leaseDurationSeconds") or 40)
                )
                if deadline > now:
                    continue
            expired.append(name)
            await self._mark_unknown(name, "lease expired")
        return expired
