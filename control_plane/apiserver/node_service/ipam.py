"""Pod CIDR assignment: each node gets the lowest free /24 (by default) of the cluster CIDR,
as kube-controller-manager's node IPAM range allocator does."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable


class PodCIDRExhausted(Exception):
    """Every node-sized block of the cluster CIDR is taken."""


class PodCIDRAllocator:
    def __init__(self, cluster_cidr: str, node_mask: int = 24) -> None:
        self._network = ipaddress.ip_network(cluster_cidr, strict=True)
        if node_mask < self._network.prefixlen:
            raise ValueError(
                f"node mask /{node_mask} is larger than the cluster CIDR {cluster_cidr}"
            )
        self._node_mask = node_mask

    @property
    def capacity(self) -> int:
        return int(2 ** (self._node_mask - self._network.prefixlen))

    def allocate(self, in_use: Iterable[str]) -> str:
        """The lowest node block not in in_use (CIDR strings; foreign ones are ignored)."""
        taken = {_block(cidr) for cidr in in_use}
        network = self._network
        start = int(network.network_address)
        step = 1 << (network.max_prefixlen - self._node_mask)
        for i in range(self.capacity):
            if (network.version, start + i * step, self._node_mask) not in taken:
                return str(ipaddress.ip_network((start + i * step, self._node_mask)))
        raise PodCIDRExhausted(
            f"no free /{self._node_mask} left in {self._network} ({self.capacity} in use)"
        )


@functools.lru_cache(maxsize=65536)
def _block(cidr: str) -> tuple[int, int, int] | None:
    """(IP version, first address, prefix length) of a CIDR; parsed once per string, as a
    thousand nodes' allocations each compare every block in use."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), network.prefixlen
