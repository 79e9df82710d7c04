"""Adding the config file's hollow nodes, once the real nodes are Ready."""

from __future__ import annotations

from ku7s.cluster.actions.context import CreateContext
from ku7s.cluster.providers.hollow_nodes import HollowNodes


def add_hollow_nodes(ctx: CreateContext) -> None:
    groups = ctx.config.hollow_nodes
    if not groups:
        return
    total = sum(group.count for group in groups)
    nodes = HollowNodes(ctx.provider, ctx.config.name, image=ctx.image)
    with ctx.progress.step(f"Adding {total} hollow node{'s' * (total != 1)}"):
        for group in groups:
            nodes.add_many(group, wait=max(ctx.wait, group.count / 10) if ctx.wait else 0)
