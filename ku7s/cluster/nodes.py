"""Adding and removing worker nodes on a live cluster."""

from __future__ import annotations

import contextlib

from ku7s.cluster.access import admin_kubeconfig, forget_node, wait_until_ready
from ku7s.cluster.actions.nodes import start_containers
from ku7s.cluster.config import NodeConfig
from ku7s.cluster.node_specs import PKI_DIR, TOKENS_PATH, worker_spec
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import NotFoundError, UserInputError
from ku7s.names import (
    CONTROL_PLANE,
    containerd_volume_name,
    control_plane_name,
    next_worker_name,
)


def add_node(
    provider: DockerProvider,
    cluster: str,
    node: NodeConfig,
    *,
    image: str,
    wait: float = 60.0,
    token: str | None = None,
) -> str:
    """Start one more worker; return its name once Ready (if wait > 0).

    ``token`` overrides the cluster's bootstrap token (tests use it to try a wrong one).
    """
    control_plane = control_plane_name(cluster)
    if not provider.container_exists(control_plane):
        raise NotFoundError(f'no cluster named "{cluster}"')
    ca_pem = provider.read_file(control_plane, f"{PKI_DIR}/ca.crt")
    if token is None:
        token = provider.read_file(control_plane, TOKENS_PATH).decode().split()[0]
    name = next_worker_name(cluster, {n.name for n in provider.list_nodes(cluster)})
    start_containers(provider, [worker_spec(cluster, name, node, image, ca_pem, token)])
    if wait > 0:
        wait_until_ready(admin_kubeconfig(provider, cluster), name, wait)
    return name


def delete_node(provider: DockerProvider, name: str) -> str:
    """Remove a worker's container and volume, then its Node and Lease; return the cluster."""
    node = provider.find_node(name)
    if node.role == CONTROL_PLANE:
        raise UserInputError(
            f'"{name}" is the control plane; use `ku7s delete cluster --name {node.cluster}`'
        )
    provider.remove_containers([name])
    provider.remove_volume(containerd_volume_name(name))
    with contextlib.suppress(NotFoundError):  # the control plane went first
        forget_node(admin_kubeconfig(provider, node.cluster), name)
    return node.cluster
