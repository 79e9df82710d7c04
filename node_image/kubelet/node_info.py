"""What a node reports about itself at registration: capacity, addresses, system info."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ku7s import KUBERNETES_VERSION, __version__
from ku7s.api.quantity import parse_quantity
from ku7s.rpc import node_pb2

KUBELET_VERSION = f"{KUBERNETES_VERSION}+ku7s.{__version__}"
MAX_PODS = 110


@dataclass(frozen=True)
class NodeSettings:
    """How the node was configured at creation (container environment)."""

    name: str
    cluster: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[tuple[str, str, str]] = field(default_factory=list)  # key, value, effect
    cpu: str | None = None  # Kubernetes quantity, e.g. "2" or "500m"
    memory: str | None = None  # Kubernetes quantity, e.g. "1Gi"
    #: The address other nodes and the control plane reach this one at; found from the
    #: node's name (Docker's /etc/hosts) when not given, as in node containers.
    address: str = ""


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def machine_id(path: Path = Path("/etc/machine-id")) -> str:
    """The node's machine id, made once per node container (images ship none)."""
    value = _read(str(path))
    if len(value) != 32:
        value = uuid.uuid4().hex
        with contextlib.suppress(OSError):
            path.write_text(value + "\n")
    return value


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def host_memory_kib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def ephemeral_storage_kib(path: str = "/var/lib/containerd") -> int:
    try:
        stats = os.statvfs(path)
    except OSError:
        stats = os.statvfs("/")
    return stats.f_blocks * stats.f_frsize // 1024


def internal_ip(hostname: str) -> str:
    """The node's address on the cluster network, as Docker's /etc/hosts gives it."""
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return "127.0.0.1"


def architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def registration(settings: NodeSettings, runtime_version: str) -> node_pb2.Registration:
    cpu = settings.cpu or str(os.cpu_count() or 1)
    # Memory is reported in Ki, as the kubelet does, whatever unit the config used.
    memory_kib = int(parse_quantity(settings.memory)) // 1024 if settings.memory else None
    memory = f"{memory_kib or host_memory_kib()}Ki"
    capacity = {
        "cpu": cpu,
        "memory": memory,
        "pods": str(MAX_PODS),
        "ephemeral-storage": f"{ephemeral_storage_kib()}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }
    arch = architecture()
    labels = {
        "kubernetes.io/hostname": settings.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch,
        **settings.labels,
    }
    mid = machine_id()
    return node_pb2.Registration(
        node_name=settings.name,
        labels=labels,
        taints=[node_pb2.Taint(key=k, value=v, effect=e) for k, v, e in settings.taints],
        capacity=capacity,
        allocatable=dict(capacity),
        addresses=[
            node_pb2.NodeAddress(
                type="InternalIP", address=settings.address or internal_ip(settings.name)
            ),
            node_pb2.NodeAddress(type="Hostname", address=settings.name),
        ],
        node_info=node_pb2.NodeSystemInfo(
            machine_id=mid,
            system_uuid=str(uuid.UUID(mid)),
            boot_id=_read("/proc/sys/kernel/random/boot_id"),
            kernel_version=platform.release(),
            os_image=os_image(),
            container_runtime_version=runtime_version,
            kubelet_version=KUBELET_VERSION,
            kube_proxy_version=KUBELET_VERSION,
            operating_system="linux",
            architecture=arch,
        ),
        provider_id=f"ku7s://{settings.cluster}/{settings.name}",
    )
