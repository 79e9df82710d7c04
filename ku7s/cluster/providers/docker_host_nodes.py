"""Nodes that are containers on another Docker host, reached over SSH and joined to the
cluster's network through gateways (ku7s.cluster.docker_hosts does the work)."""

from __future__ import annotations

from ku7s.cluster.config import NodeConfig
from ku7s.cluster.docker_hosts import MultiHostCluster, nodes_elsewhere
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.ssh_node import SSHAccess


class DockerHostNodes:
    """``access`` is the other host (for adding), or overrides how a node's host on record
    is reached (for deleting)."""

    def __init__(
        self,
        local: DockerProvider,
        cluster: str,
        access: SSHAccess | None = None,
        *,
        image: str = "",
        endpoint_address: str = "",
        say: Say = lambda _: None,
    ) -> None:
        self._local, self._cluster, self._access = local, cluster, access
        self._image, self._endpoint_address, self._say = image, endpoint_address, say

    def nodes(self) -> dict[str, str]:
        where = nodes_elsewhere(self._local, self._cluster)
        return {name: f"docker {host}" for name, host in sorted(where.items())}

    def add(self, node: NodeConfig, *, wait: float) -> str:
        assert self._access is not None, "adding needs the other host"
        return MultiHostCluster(self._local, self._cluster, self._say).add_node(
            self._access, node, image=self._image, endpoint_address=self._endpoint_address,
            wait=wait,
        )  # fmt: skip

    def delete(self, name: str) -> None:
        given = self._access if self._access is not None and self._access.host else None
        MultiHostCluster(self._local, self._cluster, self._say).delete_node(name, given)
