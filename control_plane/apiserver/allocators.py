"""Cluster IPs and node ports for Services.

What is taken is read from the stored Services on every allocation, so nothing can drift
from etcd; addresses handed out in the last minute are held too, so two Services created at
the same moment never get the same one. The first address of the range is the
``kubernetes`` Service's, as upstream.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Callable

from control_plane.apiserver import errors
from control_plane.apiserver.storage import Storage

DEFAULT_NODE_PORTS = (30000, 32767)
_HOLD_SECONDS = 60.0


def _invalid(name: str, field: str, value: object, detail: str) -> errors.APIError:
    return errors.invalid(
        "Service", name, [(field, "FieldValueInvalid", f"Invalid value: {value!r}: {detail}")]
    )


class ServiceAllocator:
    def __init__(
        self,
        storage: Storage,
        service_cidr: str,
        node_ports: tuple[int, int] = DEFAULT_NODE_PORTS,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._storage = storage
        self._network = ipaddress.ip_network(service_cidr, strict=True)
        self._node_ports = node_ports
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._held_ips: dict[str, float] = {}
        self._held_ports: dict[int, float] = {}

    @property
    def kubernetes_service_ip(self) -> str:
        return str(self._network.network_address + 1)

    @property
    def cluster_dns_ip(self) -> str:
        """The cluster DNS Service's address: the tenth of the range, as kubeadm picks it."""
        return str(self._network.network_address + 10)

    async def _in_use(self) -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        result = await self._storage.list("/registry/services/")
        for service in result.items:
            spec = service.get("spec") or {}
            ips.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip)
            ports.update(p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort"))
        now = self._clock()
        self._held_ips = {ip: t for ip, t in self._held_ips.items() if now - t < _HOLD_SECONDS}
        self._held_ports = {p: t for p, t in self._held_ports.items() if now - t < _HOLD_SECONDS}
        return ips | set(self._held_ips), ports | set(self._held_ports)

    async def cluster_ip(self, requested: str | None, service: str) -> str:
        async with self._lock:
            taken, _ = await self._in_use()
            if requested:
                try:
                    address = ipaddress.ip_address(requested)
                except ValueError:
                    raise _invalid(
                        service, "spec.clusterIPs", [requested], "must be a valid IP address"
                    ) from None
                if address not in self._network:
                    raise _invalid(
                        service,
                        "spec.clusterIPs",
                        [requested],
                        f"failed to allocate IP {requested}: the provided IP ({requested}) is "
                        f"not in the valid range. The range of valid IPs is {self._network}",
                    )
                if requested in taken:
                    raise _invalid(
                        service,
                        "spec.clusterIPs",
                        [requested],
                        f"failed to allocate IP {requested}: provided IP is already allocated",
                    )
                chosen = requested
            else:
                chosen = self._pick_ip(taken)
            self._held_ips[chosen] = self._clock()
            return chosen

    def _pick_ip(self, taken: set[str]) -> str:
        """A random free address above the static band, which stays for addresses asked
        for by name (the cluster DNS's .10), as upstream does since 1.26."""
        first = int(self._network.network_address) + 2  # .1 is the kubernetes Service's
        last = int(self._network.broadcast_address) - 1
        static_band = min(max(16, self._network.num_addresses // 16), 256)
        dynamic_first = min(int(self._network.network_address) + static_band, last)
        for _ in range(64):
            candidate = str(ipaddress.ip_address(self._rng.randint(dynamic_first, last)))
            if candidate not in taken:
                return candidate
        for value in [*range(dynamic_first, last + 1), *range(first, dynamic_first)]:
            candidate = str(ipaddress.ip_address(value))
            if candidate not in taken:
                return candidate
        raise errors.APIError(
            500,
            "InternalError",
            f"Internal error occurred: failed to allocate a serviceIP: range {self._network} "
            "is full",
        )

    async def node_port(self, requested: int | None, service: str) -> int:
        low, high = self._node_ports
        async with self._lock:
            _, taken = await self._in_use()
            if requested:
                if not low <= requested <= high:
                    raise _invalid(
                        service,
                        "spec.ports[0].nodePort",
                        requested,
                        f"provided port is not in the valid range. The range of "
                        f"valid ports is {low}-{high}",
                    )
                if requested in taken:
                    raise _invalid(
                        service,
                        "spec.ports[0].nodePort",
                        requested,
                        "provided port is already allocated",
                    )
                chosen = requested
            else:
                free = [p for p in range(low, high + 1) if p not in taken]
                if not free:
                    raise errors.APIError(
                        500, "InternalError", "Internal error occurred: no node ports left"
                    )
                chosen = self._rng.choice(free)
            self._held_ports[chosen] = self._clock()
            return chosen
