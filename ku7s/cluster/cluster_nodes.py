"""A cluster's nodes of every kind, each behind its provider: which provider holds a node
(so the CLI does not dispatch itself) and the list ``ku7s get nodes`` prints."""

from __future__ import annotations

from ku7s.client.rest import APIStatusError
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.docker_host_nodes import DockerHostNodes
from ku7s.cluster.providers.docker_nodes import DockerNodes
from ku7s.cluster.providers.hollow_nodes import HollowNodes
from ku7s.cluster.providers.node_provider import NodeProvider
from ku7s.cluster.providers.ssh_nodes import SSHNodes
from ku7s.cluster.ssh_node import SSHAccess


class ClusterNodes:
    """``access`` overrides how nodes on other hosts or machines are reached (SSH flags)."""

    def __init__(
        self,
        local: DockerProvider,
        cluster: str,
        access: SSHAccess | None = None,
        *,
        say: Say = lambda _: None,
    ) -> None:
        self._local = local
        self.containers = DockerNodes(local, cluster)
        self.docker_hosts = DockerHostNodes(local, cluster, access, say=say)
        self.machines = SSHNodes(local, cluster, access, say=say)
        self.hollow = HollowNodes(local, cluster)

    def provider_of(self, name: str) -> NodeProvider:
        """The provider that holds the node (containers here first, then other Docker
        hosts, then machines, which say so when the node is none of theirs)."""
        if self._local.is_node_container(name):
            return self.containers
        if self._local.hollow_cluster(name):
            return self.hollow
        if name in self.docker_hosts.nodes():  # {} without such a cluster
            return self.docker_hosts
        return self.machines

    def listing(self) -> tuple[dict[str, str], str]:
        """Every node -> where it runs (this engine's containers first), and why the nodes
        known to the API only are missing ("" when they are not)."""
        found = self.containers.nodes()
        if not found:
            return {}, ""
        try:  # the nodes that are not containers of this engine are known to the API only
            found |= self.hollow.nodes()
            found |= self.machines.nodes()
            found |= self.docker_hosts.nodes()
        except (OSError, TimeoutError, APIStatusError) as e:
            return found, f"the API server did not answer, so nodes elsewhere are not listed: {e}"
        return found, ""
