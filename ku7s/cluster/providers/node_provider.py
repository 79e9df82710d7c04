"""The node-provider interface: one implementation per kind of node (a container of this
Docker engine, a container on another Docker host, a machine joined over SSH; later hollow
nodes and control-plane members), so that what is done to "a node" is written once.

The steps every kind shares live beside it, once: the next worker's name
(``ku7s.names.next_worker_name``), waiting for the new node to be Ready and forgetting a
removed node's Node and Lease (``ku7s.cluster.access``).
"""

from __future__ import annotations

from typing import Protocol

from ku7s.cluster.config import NodeConfig


class NodeProvider(Protocol):
    """Adds, lists and removes one kind of a cluster's nodes."""

    def nodes(self) -> dict[str, str]:
        """This kind's nodes: name -> where it runs, as ``ku7s get nodes`` shows it."""
        ...

    def add(self, node: NodeConfig, *, wait: float) -> str:
        """Start one more worker of this kind; return its name (once Ready, if wait > 0)."""
        ...

    def delete(self, name: str) -> None:
        """Remove the node and what it left behind, then forget its Node and Lease."""
        ...
