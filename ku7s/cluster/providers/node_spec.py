"""What a node container is: the spec ku7s creates one from, and what listing finds."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The API server's port inside the control-plane container.
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
    #: Container labels besides the cluster and the role.
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeContainer:
    name: str
    cluster: str
    role: str
    status: str  # Docker's: created, running, exited, paused, ...
