"""Routes to the other nodes' pod CIDRs, kept in step with the Node objects: a node that joins
gets a route, one that leaves loses it.

On one Docker host a pod CIDR is routed via its node's address on the cluster's network.
When the cluster spans Docker hosts (``ku7s.pod_network.docker_hosts``), a node on another
host is not on this network: its pod CIDR, and that host's whole subnet, go via this host's
gateway, and the gateway routes them over the overlay to the other host's gateway.

The routes carry their own protocol number, so the ones this agent made are found again
after a restart and nothing else in the routing table is touched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ku7s.aio import wait_any
from ku7s.client.informer import Informer
from ku7s.client.rest import APIClient
from ku7s.names import HOLLOW_NODE_LABEL
from ku7s.pod_network.docker_hosts import (
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    VXLAN_DEVICE,
    DockerHost,
    host_of,
    hosts_from_configmaps,
)

Object = dict[str, Any]

log = logging.getLogger("pod-routes")

#: The routing protocol number that marks our routes (any unused one in 0-255).
ROUTE_PROTOCOL = "77"

#: Runs `ip` with the arguments and returns its standard output.
IPCommand = Callable[..., Awaitable[str]]


async def run_ip(*args: str) -> str:
    return await run_tool("ip", *args)


async def run_tool(program: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        program, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{program} {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


@dataclass(frozen=True)
class Route:
    via: str
    #: Set when the next hop is reached on this device without a lookup (the overlay's).
    device: str = ""


def internal_ip(node: Object) -> str | None:
    return next(
        (
            a.get("address")
            for a in (node.get("status") or {}).get("addresses") or []
            if a.get("type") == "InternalIP"
        ),
        None,
    )


def peers(nodes: list[Object], own_name: str) -> list[tuple[str, str]]:
    """(pod CIDR, internal address) of every other node that has both (hollow nodes aside:
    their pods have addresses but nothing answers there)."""
    found = []
    for node in nodes:
        if HOLLOW_NODE_LABEL in ((node.get("metadata") or {}).get("labels") or {}):
            continue
        cidr = (node.get("spec") or {}).get("podCIDR")
        address = internal_ip(node)
        if node["metadata"]["name"] != own_name and cidr and address:
            found.append((cidr, address))
    return found


def wanted_routes(
    nodes: list[Object],
    own_name: str,
    hosts: list[DockerHost] | None = None,
    own_address: str = "",
) -> dict[str, Route]:
    """A node's (or the control plane's) routes: pod CIDR -> next hop, and other Docker hosts'
    subnets via this host's gateway."""
    if not own_address:
        own = next((n for n in nodes if n["metadata"]["name"] == own_name), None)
        own_address = (internal_ip(own) if own else None) or ""
    hosts = hosts or []
    here = host_of(own_address, hosts) if own_address else None
    routes: dict[str, Route] = {}
    for cidr, address in peers(nodes, own_name):
        there = host_of(address, hosts)
        elsewhere = here is not None and there is not None and there != here
        routes[cidr] = Route(here.gateway) if here and elsewhere else Route(address)
    if here is not None:
        for other in hosts:
            if other != here:
                routes[other.subnet] = Route(here.gateway)
    return routes


def gateway_routes(nodes: list[Object], own: str, hosts: list[DockerHost]) -> dict[str, Route]:
    """A gateway's routes: pods of its own host via their node, of other hosts via that
    host's gateway over the overlay, and the other hosts' subnets likewise."""
    here = next((h for h in hosts if h.name == own), None)
    if here is None:
        return {}
    routes: dict[str, Route] = {}
    for cidr, address in peers(nodes, ""):
        there = host_of(address, hosts)
        if there == here:
            routes[cidr] = Route(address)
        elif there is not None:
            routes[cidr] = Route(there.vtep, VXLAN_DEVICE)
    for other in hosts:
        if other != here:
            routes[other.subnet] = Route(other.vtep, VXLAN_DEVICE)
    return routes


#: Plans the routes from the Nodes and the Docker hosts' record.
Plan = Callable[[list[Object], list[DockerHost]], dict[str, Route]]


def docker_hosts_informer(client: APIClient) -> Informer:
    """Watches the one ConfigMap that records the cluster's Docker hosts."""
    return Informer(
        client,
        f"/api/v1/namespaces/{CONFIGMAP_NAMESPACE}/configmaps",
        params={"fieldSelector": f"metadata.name={CONFIGMAP_NAME}"},
    )


class PodRoutes:
    def __init__(
        self,
        nodes: Informer,
        plan: Plan,
        ip: IPCommand = run_ip,
        *,
        docker_hosts: Informer | None = None,
        before_sync: Callable[[list[DockerHost]], Awaitable[None]] | None = None,
        resync: float = 30.0,
    ) -> None:
        self._nodes = nodes
        self._hosts = docker_hosts
        self._plan = plan
        self._ip = ip
        self._before_sync = before_sync
        self._resync = resync
        self._changed = asyncio.Event()
        #: The routes the last sync made sure of: a change of Nodes that leaves them as they
        #: were (a status update, most of all) costs no look at the kernel's table.
        self._applied: dict[str, Route] | None = None
        for informer in (nodes, docker_hosts):
            if informer is not None:
                informer.on_change(lambda *_: self._changed.set())

    async def installed(self) -> dict[str, Route]:
        text = await self._ip("-j", "route", "show", "proto", ROUTE_PROTOCOL)
        return {
            r["dst"]: Route(
                r.get("gateway", ""), r.get("dev", "") if "onlink" in r.get("flags", []) else ""
            )
            for r in json.loads(text or "[]")
        }

    def docker_hosts(self) -> list[DockerHost]:
        return hosts_from_configmaps(self._hosts.list()) if self._hosts is not None else []

    async def sync(self, force: bool = True) -> None:
        """Make the kernel's routes the wanted ones; unless forced, only if those changed
        since the last sync."""
        hosts = self.docker_hosts()
        if self._before_sync is not None:
            await self._before_sync(hosts)
        wanted = self._plan(self._nodes.list(), hosts)
        if not force and wanted == self._applied:
            return
        have = await self.installed()
        for cidr, route in wanted.items():
            if have.get(cidr) != route:
                onlink = ("dev", route.device, "onlink") if route.device else ()
                await self._ip(
                    "route", "replace", cidr, "via", route.via, *onlink, "proto", ROUTE_PROTOCOL
                )
                log.info("route to %s via %s", cidr, route.via)
        for cidr in have.keys() - wanted.keys():
            await self._ip("route", "del", cidr, "proto", ROUTE_PROTOCOL)
            log.info("removed the route to %s", cidr)
        self._applied = wanted

    async def run(self, stop: asyncio.Event) -> None:
        await self._nodes.synced.wait()
        if self._hosts is not None:
            await self._hosts.synced.wait()
        force = True
        while not stop.is_set():
            self._changed.clear()
            try:
                await self.sync(force)
            except RuntimeError as e:
                log.warning("syncing pod routes failed: %s", e)
                self._applied = None
            await wait_any(self._changed, stop, timeout=self._resync)
            force = not self._changed.is_set()  # the periodic look catches what others did


def node_plan(own_name: str, own_address: str = "") -> Plan:
    """The plan of a node (found by its Node's address) or of the control plane (given)."""
    return lambda nodes, hosts: wanted_routes(nodes, own_name, hosts, own_address)
