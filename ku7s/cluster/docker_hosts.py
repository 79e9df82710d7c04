"""Clusters across Docker hosts: worker containers on other engines, the gateway on each
host, and the record the route agents follow (``ku7s.pod_network.docker_hosts``).

Adding the first node elsewhere gives the cluster's own host a gateway too. Each host gets
its own subnet for the cluster's network (chosen clear of every network on every engine of
the cluster), so node addresses stay unique and routable. Nodes on other hosts reach the API
through the control plane's ports published on ``networking.nodeServiceAddress``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors

from ku7s import kubeconfig, pki
from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.access import (
    admin_kubeconfig,
    forget_node,
    save_configmap,
    wait_until_ready,
)
from ku7s.cluster.config import NodeConfig
from ku7s.cluster.image_loader import Ctr, ctr_over_ssh
from ku7s.cluster.node_specs import NODE_SERVICE_ADDRESS_ENV, PKI_DIR, TOKENS_PATH, worker_spec
from ku7s.cluster.progress import Say
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import API_SERVER_PORT, NodeSpec
from ku7s.cluster.providers.remote_docker import RemoteEngine, parse_docker_host
from ku7s.cluster.ssh_node import SSHAccess
from ku7s.errors import AlreadyExistsError, NotFoundError, UserInputError
from ku7s.names import (
    CLUSTER_ENV,
    DOCKER_HOST_LABEL,
    GATEWAY,
    PROVIDER_LABEL,
    containerd_volume_name,
    control_plane_name,
    gateway_name,
    network_name,
    next_worker_name,
)
from ku7s.pod_network.docker_hosts import (
    CONFIGMAP_KEY,
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    LOCAL_HOST,
    VXLAN_PORT,
    DockerHost,
    dump_hosts,
    hosts_from_configmaps,
    next_vtep,
    parse_hosts,
)

GATEWAY_KUBECONFIG_PATH = "/etc/ku7s/gateway.conf"
#: A copy of the record in this host's gateway, for `delete cluster` when the API is down.
RECORD_COPY_PATH = "/etc/ku7s/docker-hosts.json"
#: How many UDP ports from VXLAN's a gateway may try on its host.
GATEWAY_PORTS = 100
#: What engines say when a host port is in use.
PORT_TAKEN = ("port is already allocated", "address already in use")
#: Where the cluster networks of further hosts are carved from, a /16 each.
SUBNET_POOL = ipaddress.ip_network("172.16.0.0/12")

Config = dict[str, Any]


def free_subnet(taken: list[str]) -> str:
    """The first /16 of the pool that overlaps none of the taken subnets."""
    used = [ipaddress.ip_network(s, strict=False) for s in taken]
    for candidate in SUBNET_POOL.subnets(new_prefix=16):
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise UserInputError(f"no /16 of {SUBNET_POOL} is free on the cluster's Docker hosts")


async def read_record(config: Config) -> list[DockerHost]:
    async with APIClient.from_kubeconfig(config) as client:
        found = await client.get(
            f"/api/v1/namespaces/{CONFIGMAP_NAMESPACE}/configmaps",
            {"fieldSelector": f"metadata.name={CONFIGMAP_NAME}"},
        )
    return hosts_from_configmaps(found.get("items", []))


async def write_record(config: Config, hosts: list[DockerHost]) -> None:
    """Save the record (none left when no other host is)."""
    async with APIClient.from_kubeconfig(config) as client:
        if hosts:
            data = {CONFIGMAP_KEY: dump_hosts(hosts)}
            await save_configmap(client, CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, data)
            return
        try:
            await client.delete(
                f"/api/v1/namespaces/{CONFIGMAP_NAMESPACE}/configmaps/{CONFIGMAP_NAME}"
            )
        except APIStatusError as e:
            if e.code != 404:
                raise


async def _node_names(config: Config) -> list[str]:
    async with APIClient.from_kubeconfig(config) as client:
        found = await client.get("/api/v1/nodes")
    return [meta.name_of(n) for n in found.get("items", [])]


def access_of(host: DockerHost, given: SSHAccess | None = None) -> SSHAccess:
    """How to reach a host again: what the command line gives, else what was recorded."""
    return SSHAccess(
        host.url,
        (given.identity if given else None) or _path(host.identity),
        (given.known_hosts if given else None) or _path(host.known_hosts),
        (given.fingerprint if given else None) or host.fingerprint or None,
    )


def _path(text: str) -> Path | None:
    return Path(text) if text else None


def engine_of(access: SSHAccess) -> RemoteEngine:
    target = parse_docker_host(access.host)
    host = dataclasses.replace(access, host=str(target)).machine()
    return RemoteEngine(access.host, host)


class MultiHostCluster:
    """One cluster's nodes on other Docker hosts, driven from the host it was created on."""

    def __init__(self, provider: DockerProvider, cluster: str, say: Say = lambda _: None) -> None:
        control_plane = control_plane_name(cluster)
        if not provider.container_exists(control_plane):
            raise NotFoundError(f'no cluster named "{cluster}"')
        self._local = provider
        self._cluster = cluster
        self._control_plane = control_plane
        self._say = say
        self.config = admin_kubeconfig(provider, cluster)

    def node_service_address(self) -> str:
        address = self._local.container_env(self._control_plane).get(NODE_SERVICE_ADDRESS_ENV)
        if not address:
            raise UserInputError(
                f'cluster "{self._cluster}" publishes its API on no host address, so nodes on '
                "other Docker hosts cannot reach it: create it with networking."
                "nodeServiceAddress set to an address of this machine they can reach"
            )
        return address

    # -- adding ----------------------------------------------------------------------------

    def add_node(
        self,
        access: SSHAccess,
        node: NodeConfig,
        *,
        image: str,
        endpoint_address: str = "",
        wait: float = 120.0,
    ) -> str:
        """Start a worker on the engine at access.host; return its name once Ready."""
        address = self.node_service_address()
        with engine_of(access) as engine:
            engine.copy_image(self._local.client, image, self._say)
            hosts = asyncio.run(read_record(self.config))
            if not any(h.name == LOCAL_HOST for h in hosts):
                hosts.append(self._start_local_gateway(image, address, hosts))
                self._save(hosts)
            there = next((h for h in hosts if h.url == access.host), None)
            if there is None:
                there = self._start_remote_gateway(
                    engine, access, image, address, endpoint_address, hosts
                )
                hosts.append(there)
                self._save(hosts)
            taken = {n.name for n in self._local.list_nodes(self._cluster)}
            taken |= set(asyncio.run(_node_names(self.config)))
            name = next_worker_name(self._cluster, taken)
            labels = {**node.labels, PROVIDER_LABEL: "docker", DOCKER_HOST_LABEL: there.name}
            spec = worker_spec(
                self._cluster,
                name,
                dataclasses.replace(node, labels=labels),
                image,
                self._local.read_file(self._control_plane, f"{PKI_DIR}/ca.crt"),
                self._local.read_file(self._control_plane, TOKENS_PATH).decode().split()[0],
            )
            spec = dataclasses.replace(spec, extra_hosts={self._control_plane: address})
            self._say(f"starting {name} on {there.name}")
            try:
                engine.provider.create_node(spec)
            except docker.errors.APIError as e:
                engine.provider.remove_volume(containerd_volume_name(name))
                raise UserInputError(
                    f"{there.name}: creating {name} failed: {e.explanation}"
                ) from None
            if wait > 0:
                try:
                    wait_until_ready(self.config, name, wait)
                except BaseException:
                    engine.provider.remove_containers([name])
                    engine.provider.remove_volume(containerd_volume_name(name))
                    forget_node(self.config, name)
                    raise
        return name

    def _gateway_spec(self, host: str, image: str, extra_hosts: dict[str, str]) -> NodeSpec:
        ca = pki.CertificateAuthority.load(
            self._local.read_file(self._control_plane, f"{PKI_DIR}/ca.crt"),
            self._local.read_file(self._control_plane, f"{PKI_DIR}/ca.key"),
        )
        identity = ca.issue_client(f"ku7s:gateway:{host}", ("ku7s:gateways",))
        config = kubeconfig.render(
            self._cluster,
            f"https://{self._control_plane}:{API_SERVER_PORT}",
            ca.cert_pem,
            identity.cert_pem,
            identity.key_pem,
        )
        return NodeSpec(
            name=gateway_name(self._cluster),
            cluster=self._cluster,
            role=GATEWAY,
            image=image,
            network=network_name(self._cluster),
            env={"KU7S_ROLE": GATEWAY, CLUSTER_ENV: self._cluster, "KU7S_DOCKER_HOST": host},
            files={GATEWAY_KUBECONFIG_PATH: kubeconfig.dump(config).encode()},
            extra_hosts=extra_hosts,
            sysctls={"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0"},
        )

    def _started_gateway(
        self, provider: DockerProvider, spec: NodeSpec, published_on: str
    ) -> tuple[str, int]:
        """Start spec's gateway; return its address on the cluster network and its UDP port.

        The port is fixed, not left to the engine, which would pick another one at every
        restart: VXLAN's own (4789) if the host has it free, else the next free one.
        """
        for port in range(VXLAN_PORT, VXLAN_PORT + GATEWAY_PORTS):
            published = ((VXLAN_PORT, "UDP", published_on, port),)
            try:
                provider.create_node(dataclasses.replace(spec, published=published))
                break
            except docker.errors.APIError as e:
                provider.remove_containers([spec.name])
                if not any(taken in str(e) for taken in PORT_TAKEN):
                    raise UserInputError(f"starting {spec.name} failed: {e.explanation}") from None
        else:
            raise UserInputError(
                f"no UDP port of {VXLAN_PORT}-{VXLAN_PORT + GATEWAY_PORTS - 1} is free on "
                f"{published_on} for {spec.name}"
            )
        return provider.address_on(spec.name, network_name(self._cluster)), port

    def _start_local_gateway(self, image: str, address: str, hosts: list[DockerHost]) -> DockerHost:
        self._say("starting this host's gateway")
        spec = self._gateway_spec(LOCAL_HOST, image, {})
        gateway, port = self._started_gateway(self._local, spec, address)
        subnet = self._local.network_subnet(network_name(self._cluster))
        return DockerHost(LOCAL_HOST, "", subnet, gateway, next_vtep(hosts), address, port)

    def _start_remote_gateway(
        self,
        engine: RemoteEngine,
        access: SSHAccess,
        image: str,
        node_service_address: str,
        endpoint_address: str,
        hosts: list[DockerHost],
    ) -> DockerHost:
        remote = engine.provider
        network = network_name(self._cluster)
        name = engine.host.target.host.strip("[]")
        if remote.network_exists(network) or remote.container_exists(gateway_name(self._cluster)):
            raise AlreadyExistsError(
                f'{name} already has a network "{network}" or a container '
                f'"{gateway_name(self._cluster)}" (left from another cluster of that name?)'
            )
        endpoint = endpoint_address or name
        try:
            endpoint = socket.gethostbyname(endpoint)
        except OSError as e:
            raise UserInputError(f"cannot resolve {endpoint}: {e}") from None
        taken = [*self._local.subnets_in_use(), *remote.subnets_in_use()]
        taken += [h.subnet for h in hosts] + [f"{node_service_address}/32", f"{endpoint}/32"]
        subnet = free_subnet(taken)
        self._say(f"creating network {network} ({subnet}) and the gateway on {name}")
        remote.create_network(network, self._cluster, subnet)
        spec = self._gateway_spec(name, image, {self._control_plane: node_service_address})
        gateway, port = self._started_gateway(remote, spec, "0.0.0.0")
        return DockerHost(
            name,
            access.host,
            subnet,
            gateway,
            next_vtep(hosts),
            endpoint,
            port,
            str(access.identity.absolute()) if access.identity else "",
            str(access.known_hosts.absolute()) if access.known_hosts else "",
            access.fingerprint or "",
        )

    # -- removing --------------------------------------------------------------------------

    def remote_nodes(self) -> dict[str, str]:
        """Nodes on other Docker hosts: node name -> host name."""

        async def listing() -> dict[str, str]:
            async with APIClient.from_kubeconfig(self.config) as client:
                found = await client.get("/api/v1/nodes", {"labelSelector": DOCKER_HOST_LABEL})
            return {
                meta.name_of(n): meta.labels_of(n)[DOCKER_HOST_LABEL]
                for n in found.get("items", [])
            }

        return asyncio.run(listing())

    def delete_node(self, name: str, given: SSHAccess | None = None) -> None:
        """Remove a worker on another host; a host left without nodes loses its gateway and
        network (and this host its own gateway when no other host is left)."""
        where = self.remote_nodes().get(name)
        if where is None:
            raise NotFoundError(f'no node named "{name}" in cluster "{self._cluster}"')
        hosts = asyncio.run(read_record(self.config))
        host = next((h for h in hosts if h.name == where), None)
        if host is None:
            raise NotFoundError(f'{name} is on Docker host "{where}", which is not on record')
        with engine_of(access_of(host, given)) as engine:
            self._say(f"removing {name} from {where}")
            engine.provider.remove_containers([name])
            engine.provider.remove_volume(containerd_volume_name(name))
            forget_node(self.config, name)
            if where not in self.remote_nodes().values():
                self._remove_host_objects(engine.provider)
                hosts = [h for h in hosts if h.name != where]
        if [h.name for h in hosts] == [LOCAL_HOST]:
            self._local.remove_containers([gateway_name(self._cluster)])
            hosts = []
        self._save(hosts)

    def _save(self, hosts: list[DockerHost]) -> None:
        asyncio.run(write_record(self.config, hosts))
        gateway = gateway_name(self._cluster)
        if hosts and self._local.container_exists(gateway):
            self._local.write_file(gateway, RECORD_COPY_PATH, dump_hosts(hosts).encode())

    def _remove_host_objects(self, provider: DockerProvider) -> None:
        provider.remove_cluster(self._cluster, network_name(self._cluster))


def nodes_elsewhere(provider: DockerProvider, cluster: str) -> dict[str, str]:
    """The cluster's nodes on other Docker hosts ({} when there is no such cluster)."""
    try:
        return MultiHostCluster(provider, cluster).remote_nodes()
    except NotFoundError:
        return {}


@contextlib.contextmanager
def ctr_elsewhere(provider: DockerProvider, cluster: str) -> Iterator[dict[str, Ctr]]:
    """ctr in each of the cluster's nodes on other Docker hosts, one connection per host."""
    nodes = nodes_elsewhere(provider, cluster)
    with contextlib.ExitStack() as stack:
        ctrs: dict[str, Ctr] = {}
        if nodes:
            for host in asyncio.run(read_record(admin_kubeconfig(provider, cluster))):
                names = [name for name, where in nodes.items() if where == host.name]
                if names and host.url:
                    engine = stack.enter_context(engine_of(access_of(host)))
                    ctrs.update({name: ctr_over_ssh(engine.host, name) for name in names})
        yield ctrs


def delete_remote_hosts(provider: DockerProvider, cluster: str, say: Say) -> list[str]:
    """Remove what a cluster has on other Docker hosts (before the cluster itself); return
    the hosts that could not be cleaned, saying why. A cluster on other hosts has a gateway
    on this one; without it there is nothing to ask the API server about."""
    if not provider.container_exists(gateway_name(cluster)):
        return []
    try:
        cluster_hosts = MultiHostCluster(provider, cluster, say)
        hosts = asyncio.run(read_record(cluster_hosts.config))
    except (NotFoundError, OSError, APIStatusError, TimeoutError):
        # No API to ask: the copy in this host's gateway, if the cluster has one.
        if not provider.container_exists(gateway_name(cluster)):
            return []
        try:
            hosts = parse_hosts(provider.read_file(gateway_name(cluster), RECORD_COPY_PATH))
        except (NotFoundError, docker.errors.DockerException, ValueError, TypeError):
            return []
    failed = []
    for host in hosts:
        if not host.url:
            continue
        try:
            with engine_of(access_of(host)) as engine:
                say(f"removing the cluster's containers on {host.name}")
                remote = engine.provider
                remote.remove_cluster(cluster, network_name(cluster))
        except Exception as e:  # one unreachable host must not keep the rest
            say(f"{host.name}: {e}")
            failed.append(host.name)
    return failed
