"""Pod CIDR assignment: each node gets the lowest free /24 (by default) of the cluster CIDR,
as kube-controller-manager's node IPAM range allocator does."""

from __future__ import annotations

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
        taken = set()
        for cidr in in_use:
            try:
                taken.add(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
        for block in self._network.subnets(new_prefix=self._node_mask):
            if block not in taken:
                return str(block)
        raise PodCIDRExhausted(
            f"no free /{self._node_mask} left in {self._network} ({self.capacity} in use)"
        )
