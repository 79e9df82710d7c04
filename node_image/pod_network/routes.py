"""Routes to the other nodes' pod CIDRs via their addresses on the cluster's network, kept in
step with the Node objects: a node that joins gets a route, one that leaves loses it.

The routes carry their own protocol number, so the ones this agent made are found again
after a restart and nothing else in the routing table is touched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ku7s.aio import wait_any
from ku7s.client.informer import Informer

Object = dict[str, Any]

log = logging.getLogger("pod-routes")

#: The routing protocol number that marks our routes (any unused one in 0-255).
ROUTE_PROTOCOL = "77"

#: Runs `ip` with the arguments and returns its standard output.
IPCommand = Callable[..., Awaitable[str]]


async def run_ip(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


def wanted_routes(nodes: list[Object], own_name: str) -> dict[str, str]:
    """Pod CIDR -> gateway for every other node with a CIDR and an internal address."""
    routes: dict[str, str] = {}
    for node in nodes:
        if node["metadata"]["name"] == own_name:
            continue
        cidr = (node.get("spec") or {}).get("podCIDR")
        address = next(
            (
                a.get("address")
                for a in (node.get("status") or {}).get("addresses") or []
                if a.get("type") == "InternalIP"
            ),
            None,
        )
        if cidr and address:
            routes[cidr] = address
    return routes


class PodRoutes:
    def __init__(
        self, nodes: Informer, node_name: str, ip: IPCommand = run_ip, *, resync: float = 30.0
    ) -> None:
        self._nodes = nodes
        self._node_name = node_name
        self._ip = ip
        self._resync = resync
        self._changed = asyncio.Event()
        nodes.on_change(lambda *_: self._changed.set())

    async def installed(self) -> dict[str, str]:
        text = await self._ip("-j", "route", "show", "proto", ROUTE_PROTOCOL)
        return {r["dst"]: r.get("gateway", "") for r in json.loads(text or "[]")}

    async def sync(self) -> None:
        wanted = wanted_routes(self._nodes.list(), self._node_name)
        have = await self.installed()
        for cidr, gateway in wanted.items():
            if have.get(cidr) != gateway:
                await self._ip("route", "replace", cidr, "via", gateway, "proto", ROUTE_PROTOCOL)
                log.info("route to pods %s via %s", cidr, gateway)
        for cidr in have.keys() - wanted.keys():
            await self._ip("route", "del", cidr, "proto", ROUTE_PROTOCOL)
            log.info("removed the route to pods %s", cidr)

    async def run(self, stop: asyncio.Event) -> None:
        await self._nodes.synced.wait()
        while not stop.is_set():
            self._changed.clear()
            try:
                await self.sync()
            except RuntimeError as e:
                log.warning("syncing pod routes failed: %s", e)
            await wait_any(self._changed, stop, timeout=self._resync)
