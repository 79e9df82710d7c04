"""The Docker engines that hold one cluster's node containers: this host's, and those of the
cluster's other Docker hosts, so that whatever acts on a node by its container name (fault
injection) reaches it wherever it runs.

Another host's engine is reached over SSH the first time one of its containers is wanted,
and kept until `close()`: a held fault reverts over the connection that injected it. A
cluster without a gateway has no other hosts, and costs no lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import docker.errors

from ku7s.cluster.access import admin_kubeconfig
from ku7s.cluster.cluster_nodes import ClusterNodes
from ku7s.cluster.docker_hosts import (
    access_of,
    engine_of,
    nodes_elsewhere,
    read_record,
)
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.hollow_nodes import HollowNodes
from ku7s.cluster.providers.node_spec import NodeContainer
from ku7s.cluster.providers.remote_docker import RemoteEngine
from ku7s.errors import NotFoundError
from ku7s.names import WORKER, gateway_name
from ku7s.pod_network.docker_hosts import DockerHost


def _other_hosts(local: DockerProvider, cluster: str) -> tuple[dict[str, str], list[DockerHost]]:
    """The nodes on other hosts (node -> host) and the record of the hosts, from the API."""
    if not local.container_exists(gateway_name(cluster)):
        return {}, []
    nodes = nodes_elsewhere(local, cluster)
    return nodes, asyncio.run(read_record(admin_kubeconfig(local, cluster)))


#: Finds the nodes on other hosts (node -> host) and the record of the hosts.
OtherHosts = Callable[[DockerProvider, str], tuple[dict[str, str], list[DockerHost]]]
#: Connects to another host's engine for the length of a with-block.
OpenEngine = Callable[[DockerHost], contextlib.AbstractContextManager[RemoteEngine]]


def _open_engine(host: DockerHost) -> contextlib.AbstractContextManager[RemoteEngine]:
    return engine_of(access_of(host))


class ClusterEngines:
    """``other_hosts`` and ``open_engine`` are seams for tests."""

    def __init__(
        self,
        local: DockerProvider,
        cluster: str,
        *,
        other_hosts: OtherHosts = _other_hosts,
        open_engine: OpenEngine = _open_engine,
    ) -> None:
        self.local = local
        self.cluster = cluster
        self._other_hosts = other_hosts
        self._open_engine = open_engine
        self._lock = threading.Lock()
        self._where: dict[str, str] | None = None  # node on another host -> that host
        self._hosts: dict[str, DockerHost] = {}
        self._engines: dict[str, RemoteEngine] = {}
        self._open = contextlib.ExitStack()

    def __enter__(self) -> ClusterEngines:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._engines.clear()
            self._open.close()

    def elsewhere(self) -> dict[str, str]:
        """The cluster's nodes on other Docker hosts: node name -> host name."""
        with self._lock:
            if self._where is None:
                nodes, hosts = self._other_hosts(self.local, self.cluster)
                self._where, self._hosts = nodes, {h.name: h for h in hosts}
            return self._where

    def provider_of(self, name: str) -> DockerProvider:
        """The engine a node's container is on (this one for names it does not know)."""
        host = self.elsewhere().get(name)
        if host is None:
            return self.local
        with self._lock:
            engine = self._engines.get(host)
            if engine is None:
                if host not in self._hosts:
                    raise NotFoundError(f'{name} is on Docker host "{host}", not on record')
                engine = self._open.enter_context(self._open_engine(self._hosts[host]))
                self._engines[host] = engine
            return engine.provider

    def host_of(self, name: str) -> str:
        """Where a node runs: "" for this engine, else its Docker host's name."""
        return self.elsewhere().get(name, "")

    def container(self, name: str) -> Any:
        """A node's container (docker SDK object) on whichever engine holds it."""
        try:
            return self.provider_of(name).client.containers.get(name)
        except docker.errors.NotFound:
            raise NotFoundError(f'no node named "{name}"') from None

    def node_names(self) -> list[str]:
        """Every node of the cluster: this engine's containers (control plane first), the
        nodes on other hosts, then the hollow nodes."""
        here = [n.name for n in self.local.list_nodes(self.cluster)]
        return here + sorted(set(self.elsewhere()) - set(here)) + sorted(self.hollow_nodes())

    def hollow_nodes(self) -> set[str]:
        return set(HollowNodes(self.local, self.cluster).nodes())

    def find_node(self, name: str) -> NodeContainer:
        host = self.host_of(name)
        if not host:
            return self.local.find_node(name)
        return NodeContainer(name, self.cluster, WORKER, self.container(name).status)

    def remove_node(self, name: str) -> None:
        """As `ku7s delete node`: the container, its volume and the Node go."""
        if self.host_of(name):
            with self._lock:
                self._engines.clear()
                self._open.close()  # the deletion opens its own connection
        ClusterNodes(self.local, self.cluster).provider_of(name).delete(name)
