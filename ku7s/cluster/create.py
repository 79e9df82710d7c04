"""``ku7s create cluster``: the steps that bring a cluster up, undone if one fails.

1. check the name and the host port, and that the node image exists (built if missing);
2. make the CA, the certificates and the bootstrap token;
3. create the cluster's Docker network;
4. create every node container at once (the control plane and the workers);
5. wait for the API server, then for every node to be Ready (up to --wait seconds);
6. merge the kubeconfig context ku7s-<name>.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from ku7s import kubeconfig
from ku7s.client.rest import APIClient
from ku7s.cluster.access import external_server, wait_for_api, wait_for_nodes
from ku7s.cluster.config import ClusterConfig
from ku7s.cluster.node_specs import ClusterSecrets, control_plane_spec, worker_spec
from ku7s.cluster.ports import free_port, require_free
from ku7s.cluster.progress import Progress
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec
from ku7s.errors import AlreadyExistsError, ClusterCreateError
from ku7s.names import control_plane_name, network_name, worker_name

API_READY_TIMEOUT = 60.0
#: How often a create that waits looks whether its control plane is still there.
CONTROL_PLANE_CHECK = 1.0


@dataclass(frozen=True)
class CreatedCluster:
    name: str
    server: str
    nodes: list[str]
    kubeconfig_path: Path
    seconds: float


def run_parallel(provider: DockerProvider, specs: list[NodeSpec]) -> None:
    """Create node containers concurrently; raise the first failure after all finish."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(specs), 16))) as pool:
        futures = [pool.submit(provider.create_node, spec) for spec in specs]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        error = errors[0]
        if isinstance(error, docker.errors.APIError):
            raise ClusterCreateError(f"creating a node container failed: {error.explanation}")
        raise ClusterCreateError(f"creating a node container failed: {error}")


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
        created = False
        try:
            with self._progress.step("Preparing certificates"):
                secrets = ClusterSecrets.create(name, config.service_subnet)
            with self._progress.step("Creating network"):
                created = True
                self._provider.create_network(network_name(name), name)
            workers = [
                worker_spec(
                    name, worker_name(name, i), node, image, secrets.ca.cert_pem, secrets.token
                )
                for i, node in enumerate(config.workers, start=1)
            ]
            with self._progress.step(f"Starting nodes ({1 + len(workers)} containers)"):
                run_parallel(
                    self._provider,
                    [control_plane_spec(config, secrets, image, port), *workers],
                )
            entry = kubeconfig.render(
                name,
                external_server(port),
                secrets.ca.cert_pem,
                secrets.admin.cert_pem,
                secrets.admin.key_pem,
            )
            asyncio.run(self._wait_unless_removed(name, entry, {w.name for w in workers}, wait))
            with self._progress.step(f"Writing kubeconfig context {entry['current-context']}"):
                kubeconfig.merge(self._kubeconfig_path, entry)
        except BaseException as error:  # whatever stopped it, what was made goes
            if created and not retain:
                self._clean_up(name, error)
            if isinstance(error, docker.errors.APIError):
                raise ClusterCreateError(str(error.explanation)) from None
            raise
        return CreatedCluster(
            name,
            external_server(port),
            [control_plane_name(name)] + [w.name for w in workers],
            self._kubeconfig_path,
            time.monotonic() - started,
        )

    async def _wait_unless_removed(
        self, cluster: str, entry: kubeconfig.Config, workers: set[str], wait: float
    ) -> None:
        """Wait for the cluster to come up; fail at once if its control plane is removed
        meanwhile (a `ku7s delete cluster` that ran while this create did), rather than
        when the wait times out."""
        waiting = asyncio.create_task(self._wait(entry, workers, wait))
        watching = asyncio.create_task(self._control_plane_removed(cluster))
        try:
            done, _ = await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, watching):
                task.cancel()
            await asyncio.gather(waiting, watching, return_exceptions=True)
        if waiting in done:
            waiting.result()
            return
        watching.result()  # a failure to ask the engine is told as itself
        raise ClusterCreateError(
            f"the control plane {control_plane_name(cluster)} was removed while the cluster "
            "was being created (by a `ku7s delete cluster` meanwhile?)"
        )

    async def _control_plane_removed(self, cluster: str) -> None:
        while await asyncio.to_thread(self._provider.container_exists, control_plane_name(cluster)):
            await asyncio.sleep(CONTROL_PLANE_CHECK)

    async def _wait(self, entry: kubeconfig.Config, workers: set[str], wait: float) -> None:
        async with APIClient.from_kubeconfig(entry, timeout=5) as client:
            with self._progress.step("Waiting for the API server"):
                try:
                    await wait_for_api(client, API_READY_TIMEOUT)
                except ClusterCreateError as e:
                    raise ClusterCreateError(
                        f"{e}; see `docker logs` of the control plane"
                    ) from None
            if wait > 0 and workers:
                with self._progress.step(f"Waiting for {len(workers)} nodes to be Ready"):
                    await wait_for_nodes(client, workers, wait)

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
