"""A Docker host's gateway: ``python -m node_image.pod_network.gateway``.

One per Docker host of a cluster that spans several (``ku7s.pod_network.docker_hosts``). It
keeps a VXLAN device whose forwarding entries point at the other hosts' gateways (their
published UDP ports, so NAT between hosts does not matter) and routes between its host's
cluster network and that overlay, following the Nodes and the Docker hosts' record.
"""

from __future__ import annotations

import array
import asyncio
import dataclasses
import fcntl
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from ku7s.aio import stop_on_signals
from ku7s.client.informer import Informer
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.pod_network.docker_hosts import (
    CONFIGMAP_KEY,
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    VXLAN_DEVICE,
    VXLAN_ID,
    VXLAN_MTU,
    VXLAN_PORT,
    DockerHost,
    dump_hosts,
    parse_hosts,
)
from ku7s.pod_network.routes import (
    IPCommand,
    PodRoutes,
    docker_hosts_informer,
    gateway_routes,
    run_ip,
    run_tool,
)

log = logging.getLogger("gateway")

KUBECONFIG_PATH = "/etc/ku7s/gateway.conf"


#: ioctl(2) request and ethtool command that switch a device's transmit checksumming.
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


async def run_bridge(*args: str) -> str:
    return await run_tool("bridge", *args)


def stop_checksum_offload(device: str) -> None:
    """Make the kernel checksum packets before VXLAN wraps them (``ethtool -K dev tx off``).

    Left to offload, an inner checksum is only finished where the packet leaves the kernel
    that made it; a relay between hosts that copies the datagram in user space (Docker's
    userland proxy for published UDP ports) would pass it on unfinished, and the receiving
    node drops it.
    """
    value = array.array("I", [ETHTOOL_STXCSUM, 0])  # struct ethtool_value
    request = struct.pack("16sP", device.encode(), value.buffer_info()[0]).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)


class Overlay:
    """The VXLAN device and its entries for the other hosts' gateways."""

    def __init__(
        self,
        own: str,
        ip: IPCommand = run_ip,
        bridge: IPCommand = run_bridge,
        no_offload: Callable[[str], None] = stop_checksum_offload,
        *,
        address: str = "",
        report_address: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._own = own
        self._ip = ip
        self._bridge = bridge
        self._no_offload = no_offload
        self._address = address
        self._report_address = report_address

    async def sync(self, hosts: list[DockerHost]) -> None:
        here = next((h for h in hosts if h.name == self._own), None)
        if here is None:
            return
        if self._address and here.gateway != self._address and self._report_address:
            # Restarted with another address: the nodes must send their traffic there.
            log.info("reporting this gateway's new address %s", self._address)
            await self._report_address(self._address)
        links = json.loads(await self._ip("-j", "link", "show") or "[]")
        link = next((link for link in links if link.get("ifname") == VXLAN_DEVICE), None)
        if link is None:
            await self._ip(
                "link", "add", VXLAN_DEVICE, "type", "vxlan", "id", str(VXLAN_ID),
                "dstport", str(VXLAN_PORT), "nolearning", "noudpcsum",
            )  # fmt: skip
            self._no_offload(VXLAN_DEVICE)
            log.info("made %s (%s, %s)", VXLAN_DEVICE, here.vtep, here.mac)
        if not _link_is(link, here.mac):
            # Only when it differs: setting even the same address flushes the device's
            # neighbours, so the other gateways would be unreachable until re-added.
            await self._ip(
                "link", "set", VXLAN_DEVICE, "address", here.mac, "mtu", str(VXLAN_MTU), "up"
            )
        await self._ip("addr", "replace", f"{here.vtep}/32", "dev", VXLAN_DEVICE)
        others = [h for h in hosts if h.name != here.name]
        wanted_macs = {h.mac for h in others}
        for entry in json.loads(await self._bridge("-j", "fdb", "show", "dev", VXLAN_DEVICE)):
            mac = entry.get("mac", "")
            if mac.startswith("02:77:") and mac not in wanted_macs:
                await self._bridge("fdb", "del", mac, "dev", VXLAN_DEVICE)
        for neighbour in json.loads(await self._ip("-j", "neigh", "show", "dev", VXLAN_DEVICE)):
            if neighbour.get("lladdr", "") not in wanted_macs:
                await self._ip("neigh", "del", neighbour["dst"], "dev", VXLAN_DEVICE)
        for other in others:
            await self._bridge(
                "fdb", "replace", other.mac, "dev", VXLAN_DEVICE,
                "dst", other.endpoint_address, "port", str(other.endpoint_port),
            )  # fmt: skip
            await self._ip(
                "neigh", "replace", other.vtep, "lladdr", other.mac,
                "dev", VXLAN_DEVICE, "nud", "permanent",
            )  # fmt: skip


def _link_is(link: dict[str, Any] | None, mac: str) -> bool:
    """Whether the overlay device is up with this address and the overlay's MTU."""
    return (
        link is not None
        and link.get("address") == mac
        and link.get("mtu") == VXLAN_MTU
        and "UP" in (link.get("flags") or [])
    )


async def report_address(client: APIClient, own: str, address: str) -> None:
    """Write this gateway's address into its host's entry of the record (a conflict with
    another writer is retried at the next sync)."""
    path = f"/api/v1/namespaces/{CONFIGMAP_NAMESPACE}/configmaps/{CONFIGMAP_NAME}"
    try:
        configmap = await client.get(path)
        hosts = parse_hosts(configmap["data"][CONFIGMAP_KEY])
        moved = [dataclasses.replace(h, gateway=address) if h.name == own else h for h in hosts]
        configmap["data"][CONFIGMAP_KEY] = dump_hosts(moved)
        await client.replace(path, configmap)
    except (APIStatusError, KeyError, ValueError, OSError, TimeoutError) as e:
        log.warning("could not report this gateway's address: %s", e)


async def run(env: dict[str, str], stop: asyncio.Event) -> None:
    own = env["KU7S_DOCKER_HOST"]
    async with APIClient.from_kubeconfig_file(KUBECONFIG_PATH, timeout=30) as client:
        nodes = Informer(client, "/api/v1/nodes")
        docker_hosts = docker_hosts_informer(client)
        overlay = Overlay(
            own,
            address=socket.gethostbyname(socket.gethostname()),
            report_address=lambda address: report_address(client, own, address),
        )
        routes = PodRoutes(
            nodes,
            lambda found, hosts: gateway_routes(found, own, hosts),
            docker_hosts=docker_hosts,
            before_sync=overlay.sync,
            resync=10.0,
        )
        log.info("gateway of Docker host %s", own)
        async with asyncio.TaskGroup() as group:
            group.create_task(nodes.run(stop))
            group.create_task(docker_hosts.run(stop))
            group.create_task(routes.run(stop))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def start() -> None:
        await run(dict(os.environ), stop_on_signals())

    uvloop.run(start())


if __name__ == "__main__":
    main()
