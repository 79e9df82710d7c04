"""Nodes that are containers of this host's Docker engine (the default kind)."""

from __future__ import annotations

from ku7s.cluster.config import NodeConfig
from ku7s.cluster.nodes import add_node, delete_node
from ku7s.cluster.providers.docker import DockerProvider


class DockerNodes:
    def __init__(self, local: DockerProvider, cluster: str, *, image: str = "") -> None:
        self._local, self._cluster, self._image = local, cluster, image

    def nodes(self) -> dict[str, str]:
        return {node.name: "docker" for node in self._local.list_nodes(self._cluster)}

    def add(self, node: NodeConfig, *, wait: float) -> str:
        return add_node(self._local, self._cluster, node, image=self._image, wait=wait)

    def delete(self, name: str) -> None:
        delete_node(self._local, name)
