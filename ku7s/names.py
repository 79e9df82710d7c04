"""Names of clusters, nodes and the Docker objects that carry them.

Node container names double as hostnames and Node object names, so they must be DNS-1123
labels: lowercase alphanumerics and '-', at most 63 characters. The longest suffix ku7s adds
is '-control-plane', which bounds a cluster name at 49 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ku7s.errors import UserInputError

CLUSTER_LABEL = "io.ku7s.cluster"
ROLE_LABEL = "io.ku7s.role"
CONTROL_PLANE = "control-plane"
WORKER = "worker"
#: The role of a container of hollow nodes (many simulated nodes in one process).
HOLLOW = "hollow"
#: On a Node: it is hollow (its pods run on paper, no container runs).
HOLLOW_NODE_LABEL = "node.ku7s.dev/hollow"
#: How many hollow nodes one container holds at most.
HOLLOW_BATCH = 500
#: The role of a Docker host's gateway container, when a cluster spans several hosts.
GATEWAY = "gateway"
#: The role of the containers the mock cloud runs for Services of type LoadBalancer.
LOAD_BALANCER = "load-balancer"
#: Fault records (ConfigMaps the chaos runner writes, the control plane's metrics read) carry
#: this label and live in this namespace.
CHAOS_LABEL = "ku7s.dev/chaos"
CHAOS_NAMESPACE = "kube-system"
#: On a load balancer container: the uid of the Service it serves.
SERVICE_UID_LABEL = "io.ku7s.service-uid"
#: The role of the containers that attach the mock cloud's disks to nodes; on them, the
#: node a disk is attached to.
DISK_ATTACHMENT = "disk-attachment"
NODE_LABEL = "io.ku7s.node"


def disk_attachment_name(disk: str) -> str:
    """The container that attaches a disk of the mock cloud to a node (one at a time)."""
    return f"{disk}-attachment"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MAX_CLUSTER_NAME = 63 - len("-control-plane")


#: The environment variable that tells a node's and the control plane's processes their
#: cluster's name (set on every container ku7s makes).
CLUSTER_ENV = "KU7S_CLUSTER"


def cluster_from_env(env: Mapping[str, str]) -> str:
    """The cluster a process inside a node or the control plane belongs to."""
    return env.get(CLUSTER_ENV) or "ku7s"


def validate_cluster_name(name: str) -> str:
    """Return the name if it can name a cluster, else raise UserInputError saying why."""
    if not name:
        raise UserInputError("cluster name must not be empty")
    if len(name) > _MAX_CLUSTER_NAME:
        raise UserInputError(
            f"invalid cluster name {name!r}: at most {_MAX_CLUSTER_NAME} characters"
        )
    if not _DNS_LABEL.match(name):
        raise UserInputError(
            f"invalid cluster name {name!r}: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def validate_node_name(name: str) -> str:
    """Return the name if it is a valid node (container) name, else raise UserInputError."""
    if not name or len(name) > 63 or not _DNS_LABEL.match(name):
        raise UserInputError(
            f"invalid node name {name!r}: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def control_plane_name(cluster: str) -> str:
    return f"{cluster}-{CONTROL_PLANE}"


def worker_name(cluster: str, index: int) -> str:
    """kind's scheme: the first worker is '<cluster>-worker', then '-worker2', '-worker3'..."""
    return f"{cluster}-{WORKER}" if index == 1 else f"{cluster}-{WORKER}{index}"


def worker_index(cluster: str, node_name: str) -> int | None:
    """The index worker_name() gave node_name, or None if it is not a generated worker name."""
    prefix = f"{cluster}-{WORKER}"
    if not node_name.startswith(prefix):
        return None
    rest = node_name[len(prefix) :]
    if rest == "":
        return 1
    return int(rest) if rest.isdigit() and not rest.startswith("0") else None


def next_worker_name(cluster: str, taken: set[str]) -> str:
    """The first worker name (in worker_name()'s order) that no node in taken has."""
    indexes = {worker_index(cluster, name) for name in taken}
    index = 1
    while index in indexes:
        index += 1
    return worker_name(cluster, index)


def hollow_container_name(cluster: str, index: int) -> str:
    return f"{cluster}-{HOLLOW}-{index}"


def hollow_node_names(container: str, count: int) -> list[str]:
    """The nodes a hollow container runs: <container>-0 ... <container>-(count-1)."""
    return [f"{container}-{i}" for i in range(count)]


def hollow_container_of(node_name: str) -> str:
    """The container that runs a hollow node (by the node's name)."""
    return node_name.rsplit("-", 1)[0]


def gateway_name(cluster: str) -> str:
    return f"{cluster}-{GATEWAY}"


def network_name(cluster: str) -> str:
    return f"ku7s-{cluster}"


def context_name(cluster: str) -> str:
    return f"ku7s-{cluster}"


def etcd_volume_name(cluster: str) -> str:
    return f"{control_plane_name(cluster)}-etcd"


def containerd_volume_name(node: str) -> str:
    return f"{node}-containerd"


#: The label on Nodes that are not containers of the cluster's Docker engine (machines joined
#: over SSH: ``ssh``); the mock cloud leaves such nodes alone.
PROVIDER_LABEL = "ku7s.dev/provider"
#: On Nodes whose container runs on another Docker engine than the control plane's: the
#: name of that Docker host in the cluster's record (``ku7s.pod_network.docker_hosts``).
DOCKER_HOST_LABEL = "ku7s.dev/docker-host"
