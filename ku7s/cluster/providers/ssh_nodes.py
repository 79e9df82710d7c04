"""Nodes that are machines joined over SSH: the node agent installed on them as a systemd
unit (ku7s.cluster.ssh_node does the work)."""

from __future__ import annotations

from ku7s.cluster.config import NodeConfig
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.ssh_node import SSHAccess, add_ssh_node, delete_ssh_node, ssh_nodes


class SSHNodes:
    """``access`` is the machine (for adding), or overrides where a node is reached (for
    deleting: by default where it joined from)."""

    def __init__(
        self,
        local: DockerProvider,
        cluster: str,
        access: SSHAccess | None = None,
        *,
        node_name: str = "",
        control_plane_address: str = "",
        say: Say = lambda _: None,
    ) -> None:
        self._local, self._cluster, self._access = local, cluster, access
        self._node_name, self._address, self._say = node_name, control_plane_address, say

    def nodes(self) -> dict[str, str]:
        return {name: f"ssh {where}".strip() for name, where in
                ssh_nodes(self._local, self._cluster).items()}  # fmt: skip

    def add(self, node: NodeConfig, *, wait: float) -> str:
        assert self._access is not None, "adding needs the machine"
        return add_ssh_node(
            self._local, self._cluster, self._access, node_name=self._node_name,
            labels=node.labels, control_plane_address=self._address, wait=wait, say=self._say,
        )  # fmt: skip

    def delete(self, name: str) -> None:
        delete_ssh_node(self._local, self._cluster, name, self._access, say=self._say)
