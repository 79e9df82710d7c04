"""Merging the cluster's context (ku7s-<name>) into the user's kubeconfig."""

from __future__ import annotations

from ku7s import kubeconfig
from ku7s.cluster.actions.context import CreateContext


def write_kubeconfig(ctx: CreateContext) -> None:
    assert ctx.entry is not None
    with ctx.progress.step(f"Writing kubeconfig context {ctx.entry['current-context']}"):
        kubeconfig.merge(ctx.kubeconfig_path, ctx.entry)
