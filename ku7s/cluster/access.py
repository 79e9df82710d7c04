"""Reaching a cluster's API from the host: its admin kubeconfig and readiness waits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import yaml

from ku7s import kubeconfig
from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.node_specs import ADMIN_KUBECONFIG_PATH
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import ClusterCreateError, NotFoundError
from ku7s.names import PROVIDER_LABEL, control_plane_name


def external_server(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def admin_kubeconfig(
    provider: DockerProvider, cluster: str, internal: bool = False
) -> dict[str, Any]:
    """The admin kubeconfig kept in the control-plane container, pointed at the host port."""
    control_plane = control_plane_name(cluster)
    if not provider.container_exists(control_plane):
        raise NotFoundError(f'no cluster named "{cluster}"')
    config: dict[str, Any] = yaml.safe_load(
        provider.read_file(control_plane, ADMIN_KUBECONFIG_PATH)
    )
    if internal:
        return config
    port = provider.api_server_host_port(control_plane)
    return kubeconfig.with_server(config, external_server(port))


async def wait_for_api(client: APIClient, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = await client.text("/readyz")
            if status == 200:
                return
            last = f"{status} {body.strip()}"
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            last = str(e) or type(e).__name__
        await asyncio.sleep(0.05)
    raise ClusterCreateError(f"the API server did not become ready within {timeout:.0f}s ({last})")


def initialized(node: dict[str, Any]) -> bool:
    """Whether the cloud controller has done its part (provider ID, region and zone labels,
    set in one patch). Nodes joined from elsewhere carry the provider label and are not the
    mock cloud's to initialize."""
    return PROVIDER_LABEL in meta.labels_of(node) or bool(
        (node.get("spec") or {}).get("providerID")
    )


async def wait_for_nodes(client: APIClient, names: set[str], timeout: float) -> None:
    """Until the nodes are Ready and initialized: what a user may rely on once a create
    returns (the zone labels are there for topology spreading, say)."""
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    done: set[str] = set()
    while time.monotonic() < deadline:
        try:
            nodes = (await client.get("/api/v1/nodes")).get("items", [])
            ready = {meta.name_of(n) for n in nodes if meta.is_node_ready(n)}
            done = {meta.name_of(n) for n in nodes if meta.name_of(n) in ready and initialized(n)}
            if names <= done:
                return
        except (TimeoutError, APIStatusError, aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.05 if len(names) < 50 else 0.5)  # a big list costs the server
    if names - ready:
        missing = _some(names - ready, len(names))
        raise ClusterCreateError(f"nodes not Ready within {timeout:.0f}s: {missing}")
    raise ClusterCreateError(
        f"nodes not initialized by the cloud controller within {timeout:.0f}s: "
        f"{_some(names - done, len(names))}"
    )


def _some(names: set[str], of: int, shown: int = 5) -> str:
    """A few of the names, and how many there are, for a one-line error."""
    listed = ", ".join(sorted(names)[:shown])
    if len(names) <= shown:
        return listed
    return f"{len(names)} of {of} ({listed}, ...)"


async def delete_node_objects(client: APIClient, node: str) -> None:
    """Delete the Node and its Lease (the garbage collector that would follow the Lease's
    owner reference arrives with the controller-manager)."""
    for path in (
        f"/api/v1/nodes/{node}",
        f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}",
    ):
        try:
            await client.delete(path)
        except APIStatusError as e:
            if e.code != 404:
                raise


def forget_node(config: dict[str, Any], node: str, *more: str) -> None:
    """Delete nodes' Node and Lease through the admin kubeconfig (the last step of
    removing a node, whatever kind it is)."""

    async def forget() -> None:
        async with APIClient.from_kubeconfig(config) as client:
            for name in (node, *more):
                await delete_node_objects(client, name)

    asyncio.run(forget())


def node_names(config: dict[str, Any], selector: str = "") -> list[str]:
    """The cluster's Nodes (those with the labels selector asks for), as the API knows them."""
    params = {"labelSelector": selector} if selector else {}

    async def listing() -> list[str]:
        async with APIClient.from_kubeconfig(config) as client:
            found = await client.get("/api/v1/nodes", params)
            return [meta.name_of(n) for n in found["items"]]

    return asyncio.run(listing())


def wait_until_ready(config: dict[str, Any], node: str, timeout: float, *more: str) -> None:
    """Until the new nodes are Ready and initialized (the last step of adding them)."""

    async def ready() -> None:
        async with APIClient.from_kubeconfig(config) as client:
            await wait_for_nodes(client, {node, *more}, timeout)

    asyncio.run(ready())


async def save_configmap(
    client: APIClient, namespace: str, name: str, data: dict[str, str]
) -> None:
    """Create the ConfigMap, or replace the one there: where ku7s keeps what it must find
    again (Prometheus exports, Docker hosts)."""
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    body = {"metadata": {"name": name, "namespace": namespace}, "data": data}
    try:
        await client.replace(f"{collection}/{name}", body)
    except APIStatusError as e:
        if e.code != 404:
            raise
        await client.create(collection, body)
