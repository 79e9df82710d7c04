"""What the steps of a create share: the request, and what earlier steps made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ku7s import kubeconfig
from ku7s.cluster.config import ClusterConfig
from ku7s.cluster.node_specs import ClusterSecrets
from ku7s.cluster.progress import Progress
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec


@dataclass
class CreateContext:
    provider: DockerProvider
    progress: Progress
    config: ClusterConfig
    image: str
    #: The host port the API server is published on.
    port: int
    kubeconfig_path: Path
    #: How long to wait for the nodes to be Ready (0: do not wait).
    wait: float
    secrets: ClusterSecrets | None = None
    #: The node containers to start, the control plane first.
    nodes: list[NodeSpec] = field(default_factory=list)
    #: The admin kubeconfig entry (context ku7s-<name>).
    entry: kubeconfig.Config | None = None
    #: Whether something exists now that a failed create must remove.
    made_something: bool = False

    @property
    def workers(self) -> set[str]:
        return {spec.name for spec in self.nodes[1:]}
