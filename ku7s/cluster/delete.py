"""``ku7s delete cluster``: remove every container, volume and the network of a cluster,
and its kubeconfig context. Deleting a cluster that does not exist succeeds, as in kind; so
does deleting one that another delete is removing at the same moment."""

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
    go first, while the control plane still tells where they are; then the control plane,
    so that its cloud controller creates no more load balancers; then everything else."""
    delete_remote_hosts(provider, cluster, say)
    removed = provider.remove_cluster(cluster, network_name(cluster))
    removed_context = kubeconfig.remove(kubeconfig_path, cluster)
    return bool(removed) or removed_context
