"""The cluster's Docker network."""

from __future__ import annotations

from ku7s.cluster.actions.context import CreateContext
from ku7s.names import network_name


def create_network(ctx: CreateContext) -> None:
    with ctx.progress.step("Creating network"):
        ctx.made_something = True
        ctx.provider.create_network(network_name(ctx.config.name), ctx.config.name)
