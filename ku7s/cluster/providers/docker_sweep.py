"""Removing everything of a cluster from a Docker engine, including what appears meanwhile.

A running control plane creates Docker objects by itself: the mock cloud starts a load
balancer container for every Service of type LoadBalancer, and recreates one it finds gone.
So the sweep first removes the control planes (their processes die with them), then removes
every container, volume and network that carries the cluster's label, and sweeps again until
a pass finds nothing. A network whose containers are still going away is tried again on the
next pass. Another sweep of the same cluster running at the same time is harmless: what it
is already removing counts as gone once it is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.models.networks import Network
from docker.models.volumes import Volume

from ku7s.errors import Ku7sError
from ku7s.names import CLUSTER_LABEL, CONTROL_PLANE, ROLE_LABEL

#: Pause before the next pass when the engine refused to remove something for now.
RETRY_PAUSE = 0.1


class SweepError(Ku7sError):
    """Something of the cluster could not be removed in time."""


@dataclass(frozen=True)
class ContainerEntry:
    """A container as the engine's listing gives it."""

    id: str
    name: str
    labels: dict[str, str]

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ContainerEntry:
        names = entry.get("Names") or [""]
        return cls(str(entry["Id"]), str(names[0]).lstrip("/"), dict(entry.get("Labels") or {}))


@dataclass
class SweepResult:
    """The names of what one sweep found and removed (or saw go meanwhile)."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.volumes or self.networks)


class ClusterSweep:
    def __init__(
        self,
        client: docker.DockerClient,
        cluster: str,
        network: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 16,
    ) -> None:
        self._client = client
        self._workers = workers
        self._cluster = cluster
        self._network = network
        self._clock = clock
        self._sleep = sleep
        self._label: dict[str, str | list[str] | bool] = {"label": f"{CLUSTER_LABEL}={cluster}"}

    def run(self, timeout: float = 60.0) -> SweepResult:
        """Remove it all and return what was there. Done only after a pass that finds
        nothing; raises SweepError naming what is left after `timeout` seconds."""
        deadline = self._clock() + timeout
        removed = SweepResult()
        while True:
            found, left = self._pass(removed)
            if not found:
                return removed
            if self._clock() > deadline:
                raise SweepError(
                    f'cluster "{self._cluster}" is not fully deleted: '
                    f"{', '.join(left or found)} could not be removed in {timeout:.0f}s; "
                    "check `docker ps -a` and `docker network inspect`, then delete again"
                )
            if left:  # being removed by someone else, or still in use: give it a moment
                self._sleep(RETRY_PAUSE)

    def remaining(self) -> list[str]:
        """What of the cluster is on the engine, as "container NAME", "volume NAME", ..."""
        containers, volumes, networks = self._find()
        return _describe(containers, volumes, networks)

    def _find(self) -> tuple[list[ContainerEntry], list[Volume], list[Network]]:
        # One listing call: the SDK's containers.list inspects each container after, which
        # fails on one that another delete removed in between.
        containers = [
            ContainerEntry.of(entry)
            for entry in self._client.api.containers(all=True, filters=self._label)
        ]
        volumes = self._client.volumes.list(filters=self._label)
        return containers, volumes, self._networks()

    def _pass(self, removed: SweepResult) -> tuple[list[str], list[str]]:
        """One pass over the engine: (what it found, what is still there)."""
        containers, volumes, networks = self._find()
        found = _describe(containers, volumes, networks)
        left: list[str] = []
        # Control planes first: they run what creates more containers.
        creators = [c for c in containers if c.labels.get(ROLE_LABEL) == CONTROL_PLANE]
        others = [c for c in containers if c not in creators]
        for group in (creators, others):
            with ThreadPoolExecutor(max_workers=max(1, min(len(group), self._workers))) as pool:
                for container, gone in zip(
                    group, pool.map(self._remove_container, group), strict=True
                ):
                    if gone:
                        removed.containers.append(str(container.name))
                    else:
                        left.append(f"container {container.name}")
        for volume in volumes:
            if self._remove(volume.remove, force=True):
                removed.volumes.append(str(volume.name))
            else:
                left.append(f"volume {volume.name}")
        for network in networks:
            if self._remove_network(network):
                removed.networks.append(str(network.name))
            else:
                left.append(f"network {network.name}")
        return found, left

    def _networks(self) -> list[Network]:
        labelled = self._client.networks.list(filters=self._label)
        named = networks_named(self._client, self._network)
        return list({n.id: n for n in labelled + named}.values())

    def _remove_container(self, container: ContainerEntry) -> bool:
        return self._remove(self._client.api.remove_container, container.id, force=True, v=True)

    def _remove_network(self, network: Network) -> bool:
        """Remove it; a container of no cluster still attached (a user's) is disconnected
        first, as the network is the cluster's."""
        with contextlib.suppress(docker.errors.NotFound):
            network.reload()
            for attached in (network.attrs.get("Containers") or {}).values():
                name = attached.get("Name", "")
                with contextlib.suppress(docker.errors.APIError):
                    container = self._client.containers.get(name)
                    if CLUSTER_LABEL not in container.labels:
                        network.disconnect(container, force=True)
        return self._remove(network.remove)

    @staticmethod
    def _remove(remove: Callable[..., object], *args: object, **options: object) -> bool:
        """Whether the object is gone: removed now, or not there any more. False when the
        engine refuses for now (being removed by another, still in use, has endpoints)."""
        try:
            remove(*args, **options)
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as e:
            if e.status_code in (403, 409):
                return False
            raise
        return True


def networks_named(client: docker.DockerClient, name: str) -> list[Network]:
    """The networks called exactly `name` (Docker's name filter matches substrings:
    "ku7s-dev" also finds "ku7s-dev2")."""
    return [n for n in client.networks.list(names=[name]) if n.name == name]


def _describe(
    containers: list[ContainerEntry], volumes: list[Volume], networks: list[Network]
) -> list[str]:
    return (
        [f"container {c.name}" for c in containers]
        + [f"volume {v.name}" for v in volumes]
        + [f"network {n.name}" for n in networks]
    )
