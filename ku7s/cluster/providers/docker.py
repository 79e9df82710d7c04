"""Node containers, networks and volumes on a Docker engine, through the Docker SDK (what a
container is: node_spec; how it is set up: provision and privileges).

Everything ku7s creates carries the labels io.ku7s.cluster and io.ku7s.role, which are the
only record of what exists: listing, deleting and cleaning up all go by label.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Iterable
from typing import Any

import docker
import docker.errors
import docker.types
from docker.models.containers import Container

from ku7s.archives import tar_files
from ku7s.cluster.providers.docker_sweep import ClusterSweep, SweepResult, networks_named
from ku7s.cluster.providers.node_spec import API_SERVER_PORT, NodeContainer, NodeSpec
from ku7s.cluster.providers.privileges import Capabilities
from ku7s.cluster.providers.provision import provision
from ku7s.errors import DockerUnavailableError, NotFoundError
from ku7s.names import (
    CLUSTER_LABEL,
    CONTROL_PLANE,
    HOLLOW,
    ROLE_LABEL,
    WORKER,
    hollow_container_of,
)


class DockerProvider:
    def __init__(
        self,
        client: docker.DockerClient,
        privileged: bool | None = None,
        capabilities: Capabilities | None = None,
        parallel_requests: int = 16,
    ) -> None:
        self._client = client
        #: How many requests may be in flight at once (an engine over SSH has few sessions).
        self._parallel = parallel_requests
        self._capabilities = capabilities or Capabilities.of_this_machine()
        self._privileged = self._capabilities.allow_privileged if privileged is None else privileged

    @classmethod
    def connect(cls) -> DockerProvider:
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except docker.errors.DockerException as e:
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            raise DockerUnavailableError(
                f"cannot reach the Docker engine at {host}; is dockerd running? ({_short(e)})"
            ) from None
        return cls(client)

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    # -- queries -------------------------------------------------------------------------

    def _containers(self, filters: dict[str, Any]) -> list[Container]:
        # (a container removed between the listing and its inspection is left out)
        return list(self._client.containers.list(all=True, filters=filters, ignore_removed=True))

    def list_clusters(self) -> list[str]:
        """Clusters with anything on this engine: a cluster being created has its network
        before its containers, and a half-deleted one may have only a volume left."""
        label = {"label": CLUSTER_LABEL}
        names = {c.labels.get(CLUSTER_LABEL, "") for c in self._containers(label)}
        for other in [
            *self._client.networks.list(filters=label),
            *self._client.volumes.list(filters=label),
        ]:
            names.add((other.attrs.get("Labels") or {}).get(CLUSTER_LABEL, ""))
        return sorted(n for n in names if n)

    def list_nodes(self, cluster: str) -> list[NodeContainer]:
        nodes = [
            NodeContainer(c.name or "", cluster, c.labels.get(ROLE_LABEL, ""), c.status)
            for c in self._containers({"label": f"{CLUSTER_LABEL}={cluster}"})
            if c.labels.get(ROLE_LABEL) in (CONTROL_PLANE, WORKER)
        ]
        return sorted(nodes, key=lambda n: (n.role != CONTROL_PLANE, n.name))

    def containers_with_role(self, cluster: str, role: str) -> dict[str, dict[str, str]]:
        """The cluster's containers of a role -> their labels."""
        found = self._containers({"label": [f"{CLUSTER_LABEL}={cluster}", f"{ROLE_LABEL}={role}"]})
        return {c.name or "": dict(c.labels) for c in found}

    def exec(self, container: str, argv: list[str]) -> str:
        """Run a command in a container; its output (stdout and stderr)."""
        try:
            result = self._client.containers.get(container).exec_run(argv)
        except docker.errors.NotFound:
            raise NotFoundError(f'no container named "{container}"') from None
        output = result.output if isinstance(result.output, bytes) else b""
        return output.decode(errors="replace")

    def cluster_containers(self, cluster: str) -> list[str]:
        """Every container of the cluster: its nodes and the mock cloud's load balancers."""
        return [c.name or "" for c in self._containers({"label": f"{CLUSTER_LABEL}={cluster}"})]

    def address_on(self, container: str, network: str) -> str:
        """The container's address on a network ("" when it is not on it)."""
        attrs = self._client.containers.get(container).attrs
        networks = attrs.get("NetworkSettings", {}).get("Networks") or {}
        return str((networks.get(network) or {}).get("IPAddress", ""))

    def is_node_container(self, name: str) -> bool:
        """Whether name is a ku7s node container (not some other container of a cluster,
        such as a load balancer or a test's machine)."""
        try:
            return self.find_node(name).role in (CONTROL_PLANE, WORKER)
        except NotFoundError:
            return False

    def hollow_cluster(self, name: str) -> str:
        """The cluster of a hollow container or hollow node of this engine ("" if none)."""
        for container in (name, hollow_container_of(name)):
            try:
                found = self.find_node(container)
            except NotFoundError:
                continue
            if found.role == HOLLOW:
                return found.cluster
        return ""

    def container_env(self, name: str) -> dict[str, str]:
        env = self._client.containers.get(name).attrs.get("Config", {}).get("Env") or []
        return dict(entry.split("=", 1) for entry in env if "=" in entry)

    def find_node(self, name: str) -> NodeContainer:
        try:
            c = self._client.containers.get(name)
        except docker.errors.NotFound:
            raise NotFoundError(f'no node named "{name}"') from None
        cluster = c.labels.get(CLUSTER_LABEL)
        if not cluster:
            raise NotFoundError(f'"{name}" is a container but not a ku7s node')
        return NodeContainer(c.name or "", cluster, c.labels.get(ROLE_LABEL, ""), c.status)

    def container_exists(self, name: str) -> bool:
        try:
            self._client.containers.get(name)
            return True
        except docker.errors.NotFound:
            return False

    def api_server_host_port(self, control_plane: str) -> int:
        container = self._client.containers.get(control_plane)
        bindings = (container.attrs["HostConfig"].get("PortBindings") or {}).get(
            f"{API_SERVER_PORT}/tcp"
        ) or []
        if not bindings:
            raise NotFoundError(f"{control_plane} publishes no API server port")
        return int(bindings[0]["HostPort"])

    def read_file(self, container: str, path: str) -> bytes:
        try:
            stream, _ = self._client.containers.get(container).get_archive(path)
        except docker.errors.NotFound:
            raise NotFoundError(f"{path} not found in {container}") from None
        data = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member else None
            if extracted is None:
                raise NotFoundError(f"{path} in {container} is not a file")
            return extracted.read()

    # -- changes -------------------------------------------------------------------------

    def write_file(self, container: str, path: str, content: bytes) -> None:
        self._client.api.put_archive(container, "/", tar_files({path: content}))

    def subnets_in_use(self) -> list[str]:
        """The IPv4 subnets of every network on the engine."""
        return [s for network in self._client.api.networks() for s in _ipv4_subnets(network)]

    def network_subnet(self, name: str) -> str:
        for network in networks_named(self._client, name):
            for subnet in _ipv4_subnets(network.attrs):
                return subnet
        raise NotFoundError(f'no Docker network "{name}" with an IPv4 subnet')

    def create_network(self, name: str, cluster: str, subnet: str | None = None) -> None:
        self._client.networks.create(
            name,
            driver="bridge",
            labels={CLUSTER_LABEL: cluster},
            options={"com.docker.network.bridge.enable_ip_masquerade": "true"},
            ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
            if subnet
            else None,
        )

    def network_exists(self, name: str) -> bool:
        return bool(networks_named(self._client, name))

    def create_node(self, spec: NodeSpec) -> None:
        """Create the container, copy its files in, and start it.

        The low-level API is used because the SDK cannot express ``systempaths=unconfined``
        (empty MaskedPaths and ReadonlyPaths), which nested containerd needs to mount /proc.
        """
        settings = provision(spec, self._privileged, self._capabilities)
        if spec.volume:
            self._client.volumes.create(spec.volume, labels=settings.labels)
        host_config = self._client.api.create_host_config(binds=settings.binds, **settings.host)
        if settings.unmasked_paths:
            host_config["MaskedPaths"] = []
            host_config["ReadonlyPaths"] = []
        ports: dict[str, object] = {"ports": settings.exposed} if settings.exposed else {}
        created = self._client.api.create_container(
            spec.image,
            name=spec.name,
            hostname=spec.name,
            labels=settings.labels,
            environment=spec.env,
            host_config=host_config,
            networking_config=self._client.api.create_networking_config(
                # (the type stubs want one EndpointConfig; the API takes a map by network)
                {spec.network: self._client.api.create_endpoint_config(aliases=[spec.name])}  # type: ignore[arg-type]
            ),
            detach=True,
            entrypoint=spec.entrypoint,
            **ports,  # type: ignore[arg-type]
        )
        if spec.files:
            self._client.api.put_archive(created["Id"], "/", tar_files(spec.files))
        self._client.api.start(created["Id"])

    def remove_containers(self, names: Iterable[str]) -> None:
        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                self._client.containers.get(name).remove(force=True, v=True)

    def cluster_objects(self, cluster: str, network: str) -> list[str]:
        """Everything of the cluster on this engine ("container NAME", "volume NAME", ...)."""
        return ClusterSweep(self._client, cluster, network).remaining()

    def remove_cluster(self, cluster: str, network: str, timeout: float = 60.0) -> SweepResult:
        """Remove every container, volume and network of the cluster, control planes first,
        including objects that appear meanwhile (see ClusterSweep)."""
        return ClusterSweep(self._client, cluster, network, workers=self._parallel).run(timeout)

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._client.volumes.get(name).remove(force=True)


def _ipv4_subnets(network: dict[str, Any]) -> list[str]:
    """The IPv4 subnets of a network, from the engine's description of it."""
    configs = (network.get("IPAM") or {}).get("Config") or []
    return [str(c["Subnet"]) for c in configs if "." in c.get("Subnet", "")]


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 160 else text[:157] + "..."
