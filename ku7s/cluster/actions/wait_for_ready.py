"""Waiting for the API server, then for the nodes to be Ready and initialized; a create
fails at once if its control plane is removed meanwhile (a `ku7s delete cluster` that ran
while it did), rather than when the wait times out."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from ku7s import kubeconfig
from ku7s.client.rest import APIClient
from ku7s.cluster.access import wait_for_api, wait_for_nodes
from ku7s.cluster.actions.context import CreateContext
from ku7s.cluster.progress import Progress
from ku7s.cluster.providers.docker import DockerProvider
from ku7s.errors import ClusterCreateError
from ku7s.names import control_plane_name

API_READY_TIMEOUT = 60.0
#: How often a create that waits looks whether its control plane is still there.
CONTROL_PLANE_CHECK = 1.0


def wait_for_ready(ctx: CreateContext) -> None:
    assert ctx.entry is not None
    asyncio.run(_unless_removed(ctx.provider, ctx.config.name,
                                _wait(ctx.progress, ctx.entry, ctx.workers, ctx.wait)))  # fmt: skip


async def _unless_removed(
    provider: DockerProvider, cluster: str, waiting_for: Coroutine[Any, Any, None]
) -> None:
    waiting = asyncio.create_task(waiting_for)
    watching = asyncio.create_task(_control_plane_removed(provider, cluster))
    try:
        done, _ = await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, watching):
            task.cancel()
        await asyncio.gather(waiting, watching, return_exceptions=True)
    if waiting in done:
        waiting.result()
        return
    watching.result()  # a failure to ask the engine is told as itself
    raise ClusterCreateError(
        f"the control plane {control_plane_name(cluster)} was removed while the cluster "
        "was being created (by a `ku7s delete cluster` meanwhile?)"
    )


async def _control_plane_removed(provider: DockerProvider, cluster: str) -> None:
    while await asyncio.to_thread(provider.container_exists, control_plane_name(cluster)):
        await asyncio.sleep(CONTROL_PLANE_CHECK)


async def _wait(
    progress: Progress, entry: kubeconfig.Config, workers: set[str], wait: float
) -> None:
    async with APIClient.from_kubeconfig(entry, timeout=5) as client:
        with progress.step("Waiting for the API server"):
            try:
                await wait_for_api(client, API_READY_TIMEOUT)
            except ClusterCreateError as e:
                raise ClusterCreateError(f"{e}; see `docker logs` of the control plane") from None
        if wait > 0 and workers:
            with progress.step(f"Waiting for {len(workers)} nodes to be Ready"):
                await wait_for_nodes(client, workers, wait)
