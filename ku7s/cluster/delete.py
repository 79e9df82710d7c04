"""``ku7s delete cluster``: remove every container, volume and the network of a cluster,
and its kubeconfig context. Deleting a cluster that does not exist succeeds, as in kind."""

from __future__ import annotations

from pathlib import Path

from ku7s import kubeconfig
from ku7s.cluster.docker_hosts import delete_remote_hosts
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.names import network_name


def delete_cluster(
    provider: DockerProvider, cluster: str, kubeconfig_path: Path, say: Say = lambda _: None
) -> bool:
    """Return whether anything of the cluster existed. Its containers on other Docker hosts
    go first, while the control plane still tells where they are."""
    delete_remote_hosts(provider, cluster, say)
    nodes = provider.cluster_containers(cluster)
    provider.remove_containers(nodes)
    provider.remove_cluster_leftovers(cluster, network_name(cluster))
    removed_context = kubeconfig.remove(kubeconfig_path, cluster)
    return bool(nodes) or removed_context
