"""``ku7s create cluster``: the steps that bring a cluster up, undone if one fails.

The name and the host port are checked first; then ACTIONS run in order (ku7s.cluster.actions):
make the CA, the certificates and the bootstrap token; create the cluster's Docker network;
start every node container at once (the control plane and the workers); wait for the API
server, then for every node to be Ready (up to --wait seconds); merge the kubeconfig context
ku7s-<name>.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from ku7s import kubeconfig
from ku7s.cluster.access import external_server
from ku7s.cluster.actions.certificates import prepare_certificates
from ku7s.cluster.actions.context import CreateContext
from ku7s.cluster.actions.hollow_nodes import add_hollow_nodes
from ku7s.cluster.actions.kubeconfig_context import write_kubeconfig
from ku7s.cluster.actions.network import create_network
from ku7s.cluster.actions.nodes import start_nodes
from ku7s.cluster.actions.wait_for_ready import wait_for_ready
from ku7s.cluster.config import ClusterConfig
from ku7s.cluster.ports import free_port, require_free
from ku7s.cluster.progress import Progress
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import AlreadyExistsError, ClusterCreateError
from ku7s.names import control_plane_name, network_name

#: The steps of a create, in order (each in ku7s.cluster.actions).
ACTIONS: tuple[Callable[[CreateContext], None], ...] = (
    prepare_certificates,
    create_network,
    start_nodes,
    wait_for_ready,
    write_kubeconfig,
    add_hollow_nodes,
)


@dataclass(frozen=True)
class CreatedCluster:
    name: str
    server: str
    nodes: list[str]
    kubeconfig_path: Path
    seconds: float


class ClusterCreator:
    def __init__(self, provider: DockerProvider, progress: Progress, kubeconfig_path: Path) -> None:
        self._provider = provider
        self._progress = progress
        self._kubeconfig_path = kubeconfig_path

    def create(
        self, config: ClusterConfig, *, image: str, retain: bool = False, wait: float = 60.0
    ) -> CreatedCluster:
        started = time.monotonic()
        name = config.name
        if name in self._provider.list_clusters() or self._provider.container_exists(
            control_plane_name(name)
        ):
            raise AlreadyExistsError(f'a cluster named "{name}" already exists')
        if self._provider.network_exists(network_name(name)):
            raise AlreadyExistsError(
                f'Docker network "{network_name(name)}" already exists; '
                f"remove it or delete the cluster first"
            )
        port = require_free(config.api_server_port) if config.api_server_port else free_port()
        ctx = CreateContext(self._provider, self._progress, config, image, port,
                            self._kubeconfig_path, wait)  # fmt: skip
        try:
            for action in ACTIONS:
                action(ctx)
        except BaseException as error:  # whatever stopped it, what was made goes
            if ctx.made_something and not retain:
                self._clean_up(name, error)
            if isinstance(error, docker.errors.APIError):
                raise ClusterCreateError(str(error.explanation)) from None
            raise
        return CreatedCluster(
            name,
            external_server(port),
            [spec.name for spec in ctx.nodes],
            self._kubeconfig_path,
            time.monotonic() - started,
        )

    def _clean_up(self, cluster: str, cause: BaseException) -> None:
        """Remove what the failed create made; a failure here must not hide the cause."""
        try:
            self._provider.remove_cluster(cluster, network_name(cluster))
            kubeconfig.remove(self._kubeconfig_path, cluster)
        except Exception as e:
            raise ClusterCreateError(
                f"{_describe(cause)}; removing what was made also failed ({e}): "
                f"run `ku7s delete cluster --name {cluster}`"
            ) from cause


def _describe(error: BaseException) -> str:
    if isinstance(error, docker.errors.APIError):
        return str(error.explanation)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return str(error) or type(error).__name__
