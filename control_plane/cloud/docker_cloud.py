"""The mock cloud's API, backed by the Docker engine that runs the cluster: an instance is a
node container, a load balancer is a small container on the cluster's network whose address
is the Service's external IP. The Docker SDK is synchronous; every call runs in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from ku7s.archives import tar_files
from ku7s.names import (
    CLUSTER_LABEL,
    LOAD_BALANCER,
    ROLE_LABEL,
    SERVICE_UID_LABEL,
    network_name,
)

#: Where a load balancer container reads its configuration.
LB_CONFIG_PATH = "/etc/ku7s/lb.json"


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    service_uid: str
    ip: str


class DockerCloud:
    def __init__(self, client: docker.DockerClient, cluster: str) -> None:
        self.client = client
        self._cluster = cluster
        self._network = network_name(cluster)
        self._image: str | None = None

    @classmethod
    def connect(cls, cluster: str) -> DockerCloud:
        return cls(docker.from_env(timeout=30), cluster)

    async def instance_exists(self, name: str) -> bool:
        def check() -> bool:
            try:
                container = self.client.containers.get(name)
            except docker.errors.NotFound:
                return False
            return bool(container.labels.get(CLUSTER_LABEL) == self._cluster)

        return await asyncio.to_thread(check)

    async def load_balancers(self) -> list[LoadBalancer]:
        def listing() -> list[LoadBalancer]:
            containers = self.client.containers.list(
                all=True,
                filters={
                    "label": [f"{CLUSTER_LABEL}={self._cluster}", f"{ROLE_LABEL}={LOAD_BALANCER}"]
                },
            )
            return [
                LoadBalancer(
                    c.name or "",
                    c.labels.get(SERVICE_UID_LABEL, ""),
                    _address(c.attrs, self._network),
                )
                for c in containers
            ]

        return await asyncio.to_thread(listing)

    async def ensure_load_balancer(self, service_uid: str, config: dict[str, Any]) -> str:
        """Create or update the service's load balancer; return its address."""
        name = f"{self._cluster}-lb-{service_uid[:12]}"
        payload = tar_files({LB_CONFIG_PATH: json.dumps(config, sort_keys=True).encode()})

        def ensure() -> str:
            try:
                container = self.client.containers.get(name)
            except docker.errors.NotFound:
                container = self._create(name, service_uid, payload)
            else:
                container.put_archive("/", payload)
                if container.status != "running":
                    container.start()
            container.reload()
            return _address(container.attrs, self._network)

        address = await asyncio.to_thread(ensure)
        for port in config.get("ports") or []:
            if port.get("protocol", "TCP") == "TCP":
                await _wait_listening(address, int(port["port"]))
        return address

    def _create(self, name: str, service_uid: str, payload: bytes) -> Any:
        container = self.client.containers.create(
            self.own_image(),
            name=name,
            hostname=name,
            entrypoint=["python3", "-m", "control_plane.cloud.lb_proxy", LB_CONFIG_PATH],
            labels={
                CLUSTER_LABEL: self._cluster,
                ROLE_LABEL: LOAD_BALANCER,
                SERVICE_UID_LABEL: service_uid,
            },
            network=self._network,
            restart_policy={"Name": "unless-stopped"},  # type: ignore[arg-type]
            detach=True,
        )
        container.put_archive("/", payload)
        container.start()
        return container

    def own_image(self) -> str:
        """The image this control plane runs: it holds the proxy too."""
        if self._image is None:
            me = self.client.containers.get(socket.gethostname())
            self._image = str(me.attrs["Image"])
        return self._image

    async def delete_load_balancer(self, name: str) -> None:
        def remove() -> None:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(name).remove(force=True)

        await asyncio.to_thread(remove)


async def _wait_listening(address: str, port: int, timeout: float = 10.0) -> None:
    """A load balancer is provisioned once it accepts connections: only then is its address
    published, so a client that reads it can use it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 1.0)
        except (OSError, TimeoutError) as e:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the load balancer at {address}:{port} does not answer") from e
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return


def _address(attrs: dict[str, Any], network: str) -> str:
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return str((networks.get(network) or {}).get("IPAddress") or "")
