"""Node containers, networks and volumes on a Docker engine, through the Docker SDK.

Everything ku7s creates carries the labels io.ku7s.cluster and io.ku7s.role, which are the
only record of what exists: listing, deleting and cleaning up all go by label.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
from docker.models.containers import Container

from ku7s.archives import tar_files
from ku7s.cluster.providers.docker_sweep import ClusterSweep, SweepResult, networks_named
from ku7s.errors import DockerUnavailableError, NotFoundError
from ku7s.names import CLUSTER_LABEL, CONTROL_PLANE, GATEWAY, ROLE_LABEL, WORKER

API_SERVER_PORT = 6443


@dataclass(frozen=True)
class NodeSpec:
    """One node container to create."""

    name: str
    cluster: str
    role: str
    image: str
    network: str
    env: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)  # absolute path -> content
    volume: str | None = None  # named volume for the node's state
    volume_path: str = "/var/lib/containerd"
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    api_server_host_port: int | None = None  # control plane only
    #: (container port, protocol, host address, host port) published on the host.
    published: tuple[tuple[int, str, str, int], ...] = ()
    #: Host names the container resolves to these addresses (/etc/hosts).
    extra_hosts: dict[str, str] = field(default_factory=dict)
    #: Namespaced kernel settings of the container (net.*).
    sysctls: dict[str, str] = field(default_factory=dict)
    #: Replaces the image's entrypoint (benchmarks run bare containerd this way).
    entrypoint: list[str] | None = None


@dataclass(frozen=True)
class NodeContainer:
    name: str
    cluster: str
    role: str
    status: str  # Docker's: created, running, exited, paused, ...


@dataclass(frozen=True)
class Capabilities:
    """The engine host's capability bounding set, which decides how nodes get privileges.

    --privileged needs every capability in the bounding set; on hosts whose set lacks one
    (seen: CAP_SYS_RESOURCE) Docker fails with "unable to apply caps", so nodes then get
    every capability but the missing ones.
    """

    bounding: int
    last: int

    @classmethod
    def parse(cls, status: str, cap_last_cap: str) -> Capabilities:
        """From /proc/self/status and /proc/sys/kernel/cap_last_cap (none if unreadable)."""
        try:
            for line in status.splitlines():
                if line.startswith("CapBnd:"):
                    return cls(int(line.split()[1], 16), int(cap_last_cap))
        except ValueError:
            pass
        return cls(0, 0)

    @classmethod
    def of_this_machine(cls) -> Capabilities:
        try:
            return cls.parse(
                Path("/proc/self/status").read_text(),
                Path("/proc/sys/kernel/cap_last_cap").read_text(),
            )
        except OSError:
            return cls(0, 0)

    @property
    def allow_privileged(self) -> bool:
        return self.last > 0 and self.bounding == (1 << (self.last + 1)) - 1

    @property
    def missing(self) -> list[str]:
        names = {24: "SYS_RESOURCE", 21: "SYS_ADMIN", 12: "NET_ADMIN"}
        if not self.last:
            return ["SYS_RESOURCE"]
        return [name for bit, name in names.items() if not self.bounding & (1 << bit)]


def local_docker_socket() -> str | None:
    """The engine's Unix socket on this machine, if the engine is reached through one."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and Path(host[len("unix://") :]).exists():
        return host[len("unix://") :]
    return None


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
        labels = {CLUSTER_LABEL: spec.cluster, ROLE_LABEL: spec.role}
        binds: dict[str, Any] = {}
        if spec.volume:
            self._client.volumes.create(spec.volume, labels=labels)
            binds[spec.volume] = {"bind": spec.volume_path, "mode": "rw"}
        host: dict[str, Any] = {
            "tmpfs": {"/tmp": "", "/run": ""},
            "restart_policy": {"Name": "unless-stopped"},
            "network_mode": spec.network,
        }
        privileged_paths = False
        if spec.role in (CONTROL_PLANE, GATEWAY):
            # Network faults put their rules in the control plane's iptables too; the
            # control plane keeps routes to other Docker hosts; a gateway routes.
            host["cap_add"] = ["NET_ADMIN"]
            if socket := local_docker_socket():
                # The mock cloud's API is the Docker engine: it runs load balancers and sees
                # which node containers still exist.
                binds[socket] = {"bind": "/var/run/docker.sock", "mode": "rw"}
        if spec.role not in (CONTROL_PLANE, GATEWAY):
            host.update(self._node_privileges())
            privileged_paths = not self._privileged
            binds["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
            if Path("/lib/modules").is_dir():
                binds["/lib/modules"] = {"bind": "/lib/modules", "mode": "ro"}
        # container port -> every (host address, host port) it is published on; the API
        # server's loopback binding first (api_server_host_port reads it).
        bindings: dict[object, list[tuple[str, int]]] = {}
        published = list(spec.published)
        if spec.api_server_host_port is not None:
            published.insert(0, (API_SERVER_PORT, "TCP", "127.0.0.1", spec.api_server_host_port))
        exposed: list[object] = []
        for container_port, protocol, address, host_port in published:
            key = f"{container_port}/{protocol.lower()}"
            if key not in bindings:
                exposed.append((container_port, protocol.lower()))
            bindings.setdefault(key, []).append((address, host_port))
        ports: dict[str, object] = {}
        if bindings:
            host["port_bindings"] = bindings
            ports = {"ports": exposed}
        if spec.extra_hosts:
            host["extra_hosts"] = spec.extra_hosts
        if spec.sysctls:
            host["sysctls"] = spec.sysctls
        if spec.nano_cpus:
            host["nano_cpus"] = spec.nano_cpus
        if spec.memory_bytes:
            host["mem_limit"] = spec.memory_bytes
            host["memswap_limit"] = spec.memory_bytes
        host_config = self._client.api.create_host_config(binds=binds, **host)
        if privileged_paths:
            host_config["MaskedPaths"] = []
            host_config["ReadonlyPaths"] = []
        created = self._client.api.create_container(
            spec.image,
            name=spec.name,
            hostname=spec.name,
            labels=labels,
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

    def _node_privileges(self) -> dict[str, object]:
        """What a worker needs to run containerd, runc and CNI inside its container."""
        if self._privileged:
            return {
                "privileged": True,
                "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
            }
        return {
            "cap_add": ["ALL"],
            "cap_drop": self._capabilities.missing,
            "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
            "device_cgroup_rules": ["a *:* rwm"],
        }

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
