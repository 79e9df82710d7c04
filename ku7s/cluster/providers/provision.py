"""How a node container is provisioned: the Docker settings (mounts, privileges, published
ports, limits) a NodeSpec asks for, worked out without touching the engine, as kind's
provision step does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ku7s.cluster.providers.node_spec import API_SERVER_PORT, NodeSpec
from ku7s.cluster.providers.privileges import Capabilities, local_docker_socket, node_privileges
from ku7s.names import CLUSTER_LABEL, CONTROL_PLANE, GATEWAY, HOLLOW, ROLE_LABEL


@dataclass
class Provisioning:
    """The arguments of Docker's create-container call for one node."""

    labels: dict[str, str]
    #: source (volume or host path) -> {"bind": path, "mode": "rw"|"ro"}
    binds: dict[str, Any] = field(default_factory=dict)
    #: keyword arguments of create_host_config, besides binds
    host: dict[str, Any] = field(default_factory=dict)
    #: (container port, protocol) the container exposes
    exposed: list[object] = field(default_factory=list)
    #: /proc and /sys unmasked (what nested containerd needs without --privileged)
    unmasked_paths: bool = False


def provision(spec: NodeSpec, privileged: bool, capabilities: Capabilities) -> Provisioning:
    result = Provisioning(
        labels={**spec.labels, CLUSTER_LABEL: spec.cluster, ROLE_LABEL: spec.role}
    )
    binds, host = result.binds, result.host
    if spec.volume:
        binds[spec.volume] = {"bind": spec.volume_path, "mode": "rw"}
    host.update({
        "tmpfs": {"/tmp": "", "/run": ""},
        "restart_policy": {"Name": "unless-stopped"},
        "network_mode": spec.network,
    })  # fmt: skip
    if spec.role in (CONTROL_PLANE, GATEWAY):
        # Network faults put their rules in the control plane's iptables too; the control
        # plane keeps routes to other Docker hosts; a gateway routes.
        host["cap_add"] = ["NET_ADMIN"]
        if socket := local_docker_socket():
            # The mock cloud's API is the Docker engine: it runs load balancers and sees
            # which node containers still exist.
            binds[socket] = {"bind": "/var/run/docker.sock", "mode": "rw"}
    elif spec.role != HOLLOW:  # hollow nodes run no containers: a plain container
        host.update(node_privileges(privileged, capabilities))
        result.unmasked_paths = not privileged
        binds["/sys/fs/cgroup"] = {"bind": "/sys/fs/cgroup", "mode": "rw"}
        if Path("/lib/modules").is_dir():
            binds["/lib/modules"] = {"bind": "/lib/modules", "mode": "ro"}
    # container port -> every (host address, host port) it is published on; the API
    # server's loopback binding first (api_server_host_port reads it).
    bindings: dict[object, list[tuple[str, int]]] = {}
    published = list(spec.published)
    if spec.api_server_host_port is not None:
        published.insert(0, (API_SERVER_PORT, "TCP", "127.0.0.1", spec.api_server_host_port))
    for container_port, protocol, address, host_port in published:
        key = f"{container_port}/{protocol.lower()}"
        if key not in bindings:
            result.exposed.append((container_port, protocol.lower()))
        bindings.setdefault(key, []).append((address, host_port))
    if bindings:
        host["port_bindings"] = bindings
    if spec.extra_hosts:
        host["extra_hosts"] = spec.extra_hosts
    if spec.sysctls:
        host["sysctls"] = spec.sysctls
    if spec.nano_cpus:
        host["nano_cpus"] = spec.nano_cpus
    if spec.memory_bytes:
        host["mem_limit"] = spec.memory_bytes
        host["memswap_limit"] = spec.memory_bytes
    return result
