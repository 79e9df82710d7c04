"""What a fault may hit: named nodes (the control plane's container too), or the Nodes that
match a label selector, which the selection mode then picks among; for a component fault,
the control plane or the workers that run the component."""

from __future__ import annotations

import asyncio

from ku7s.api import meta
from ku7s.chaos.faults.component import CONTROL_PLANE_COMPONENTS, check_component
from ku7s.chaos.faults.network import Side
from ku7s.chaos.selection import Selection
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.engines import ClusterEngines
from ku7s.errors import UserInputError
from ku7s.names import (
    PROVIDER_LABEL,
    control_plane_name,
    network_name,
)
from ku7s.pod_network.routes import internal_ip


async def why_out_of_reach(client: APIClient, cluster: str, name: str) -> str:
    """Why a node name is not a target: no such node, or a machine joined over SSH."""
    try:
        node = await client.get(f"/api/v1/nodes/{name}")
    except (APIStatusError, OSError, TimeoutError):
        return f'no node named "{name}" in cluster "{cluster}"'
    provider = meta.labels_of(node).get(PROVIDER_LABEL)
    if provider in (None, "docker"):  # a Node whose container is gone
        return f'no node container named "{name}" in cluster "{cluster}"'
    return (
        f'node "{name}" is a machine joined over {provider}, not a node container; '
        "ku7s chaos reaches node containers only (on this Docker host or the cluster's others)"
    )


async def resolve_nodes(
    engines: ClusterEngines,
    client: APIClient,
    cluster: str,
    names: list[str],
    labels: str,
    selection: Selection,
) -> list[str]:
    if not names and not labels:
        raise UserInputError("name the nodes to hit, or select them with --labels")
    existing = set(await asyncio.to_thread(engines.node_names))
    for name in names:
        if name not in existing:
            raise UserInputError(await why_out_of_reach(client, cluster, name))
    candidates = list(names)
    if labels:
        try:
            listing = await client.get("/api/v1/nodes", {"labelSelector": labels})
        except APIStatusError as e:
            raise UserInputError(f"invalid --labels {labels!r}: {e.message}") from None
        # (machines joined over SSH are out of reach)
        matching = [
            meta.name_of(n) for n in listing.get("items", []) if meta.name_of(n) in existing
        ]
        candidates = [c for c in candidates if c in matching] if names else matching
        if not candidates:
            raise UserInputError(f"no node of cluster {cluster!r} matches labels {labels!r}")
    return selection.choose(candidates)


async def resolve_targets(
    engines: ClusterEngines,
    client: APIClient,
    cluster: str,
    component: str,
    names: list[str],
    labels: str,
    selection: Selection,
) -> list[str]:
    """The containers a fault hits: nodes, or for a control-plane component the control
    plane's container (no nodes may be named then)."""
    if not component:
        return await resolve_nodes(engines, client, cluster, names, labels, selection)
    check_component(component)
    control_plane = control_plane_name(cluster)
    if component in CONTROL_PLANE_COMPONENTS:
        if names or labels:
            raise UserInputError(f"{component} runs on the control plane; name no nodes")
        if not engines.local.container_exists(control_plane):
            raise UserInputError(f'no cluster named "{cluster}"')
        return [control_plane]
    targets = await resolve_nodes(engines, client, cluster, names, labels, selection)
    for target in targets:
        if target == control_plane:
            raise UserInputError(f"{component} runs on workers; {target} is the control plane")
    return targets


async def resolve_pods(
    client: APIClient,
    namespace: str,
    names: list[str],
    labels: str,
    selection: Selection,
    resource: tuple[str, str] = ("pods", "pod"),
) -> list[str]:
    """``namespace/name`` of the named pods (or other objects of a namespace: resource is
    their plural and noun), or of those the label selector matches."""
    plural, noun = resource
    if not names and not labels:
        raise UserInputError(f"name the {plural} to hit, or select them with --labels")
    base = f"/api/v1/namespaces/{namespace}/{plural}"
    params = {"labelSelector": labels} if labels else {}
    try:
        listing = await client.get(base, params)
    except APIStatusError as e:
        raise UserInputError(f"cannot list {plural} in {namespace!r}: {e.message}") from None
    existing = {
        meta.name_of(p)
        for p in listing.get("items", [])
        if not p["metadata"].get("deletionTimestamp")
    }
    for name in names:
        if name not in existing:
            raise UserInputError(f'no {noun} named "{name}" in namespace "{namespace}"')
    candidates = list(names) if names else sorted(existing)
    if not candidates:
        raise UserInputError(f"no {noun} in namespace {namespace!r} matches labels {labels!r}")
    return [f"{namespace}/{name}" for name in selection.choose(candidates)]


async def network_sides(
    engines: ClusterEngines, client: APIClient, cluster: str, first: list[str], other: str
) -> tuple[Side, Side]:
    """The two sides of a network fault: the chosen containers, and ``all`` (every other
    node, the control plane, the host) or a comma-separated list of node names,
    ``control-plane`` and ``host``. A node's side holds its address and its pods' CIDR;
    the address of a node on another Docker host is its Node's (the overlay keeps it)."""
    network = engines.local.client.networks.get(network_name(cluster))
    addresses = {
        c["Name"]: c["IPv4Address"].split("/")[0]
        for c in (network.attrs.get("Containers") or {}).values()
    }
    gateway = str(network.attrs["IPAM"]["Config"][0]["Gateway"])
    nodes = set(await asyncio.to_thread(engines.node_names))
    wanted = (
        [n for n in sorted(nodes) if n not in first] + ["host"]
        if other == "all"
        else [w.strip() for w in other.split(",") if w.strip()]
    )
    if not wanted:
        raise UserInputError("the other side (--target) names nothing")
    listing = await client.get("/api/v1/nodes")
    pod_cidrs = {
        meta.name_of(n): (n.get("spec") or {}).get("podCIDR", "") for n in listing.get("items", [])
    }
    for node in listing.get("items", []):
        address = internal_ip(node)
        if address and meta.name_of(node) not in addresses:
            addresses[meta.name_of(node)] = address

    def side_of(names: list[str]) -> dict[str, list[str]]:
        return {
            name: [a for a in (addresses.get(name, ""), pod_cidrs.get(name, "")) if a]
            for name in names
        }

    others: list[str] = []
    host = ""
    for name in wanted:
        if name == "host":
            host = gateway
            continue
        if name == "control-plane":
            name = control_plane_name(cluster)
        if name not in nodes:
            raise UserInputError(f"unknown --target {name!r}: not a node of {cluster!r}, nor host")
        if name in first:
            raise UserInputError(f"{name} is on both sides of the fault")
        others.append(name)
    return Side(side_of(first)), Side(side_of(others), host)
