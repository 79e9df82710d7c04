"""Starting node containers, all at once (a create's nodes, or one node being added)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import docker.errors

from ku7s.cluster.actions.context import CreateContext
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.cluster.providers.node_spec import NodeSpec
from ku7s.errors import ClusterCreateError


def start_containers(provider: DockerProvider, specs: list[NodeSpec]) -> None:
    """Create node containers concurrently; raise the first failure after all finish."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(specs), 16))) as pool:
        futures = [pool.submit(provider.create_node, spec) for spec in specs]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        error = errors[0]
        if isinstance(error, docker.errors.APIError):
            raise ClusterCreateError(f"creating a node container failed: {error.explanation}")
        raise ClusterCreateError(f"creating a node container failed: {error}")


def start_nodes(ctx: CreateContext) -> None:
    with ctx.progress.step(f"Starting nodes ({len(ctx.nodes)} containers)"):
        start_containers(ctx.provider, ctx.nodes)
