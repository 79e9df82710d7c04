"""The nodes a fault may hit: named ones (the control plane's container too), or the Nodes
that match a label selector; the selection mode then picks among them."""

from __future__ import annotations

from ku7s.api import meta
from ku7s.chaos.selection import Selection
from ku7s.client.rest import APIClient, APIStatusError
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import UserInputError


async def resolve_nodes(
    provider: DockerProvider,
    client: APIClient,
    cluster: str,
    names: list[str],
    labels: str,
    selection: Selection,
) -> list[str]:
    if not names and not labels:
        raise UserInputError("name the nodes to hit, or select them with --labels")
    existing = {n.name for n in provider.list_nodes(cluster)}
    for name in names:
        if name not in existing:
            raise UserInputError(f'no node named "{name}" in cluster "{cluster}"')
    candidates = list(names)
    if labels:
        try:
            listing = await client.get("/api/v1/nodes", {"labelSelector": labels})
        except APIStatusError as e:
            raise UserInputError(f"invalid --labels {labels!r}: {e.message}") from None
        matching = [meta.name_of(n) for n in listing.get("items", [])]
        candidates = [c for c in candidates if c in matching] if names else matching
        if not candidates:
            raise UserInputError(f"no node of cluster {cluster!r} matches labels {labels!r}")
    return selection.choose(candidates)
