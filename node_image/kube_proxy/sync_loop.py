"""How the node's rule keepers (kube-proxy's proxier, the network policy agent) apply
their rules: once after each burst of changes, settled for a moment so that a rollout
makes one sync, and in full at least every resync period, repairing what someone removed.
A sync that fails is retried a second later."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ku7s.aio import wait_any
from node_image.kube_proxy.iptables import IPTablesError

log = logging.getLogger("kube-proxy")


async def sync_loop(
    sync: Callable[[bool], Awaitable[object]],
    changed: asyncio.Event,
    stop: asyncio.Event,
    *,
    resync: float,
    settle: float,
    on_failure: Callable[[IPTablesError], None] = lambda e: None,
) -> None:
    """sync(full) until stop: full is True when the resync period has passed."""
    last_full = 0.0
    while not stop.is_set():
        changed.clear()
        full = time.monotonic() - last_full >= resync
        try:
            await sync(full)
            if full:
                last_full = time.monotonic()
        except IPTablesError as e:
            log.error("sync failed, retrying: %s", e)
            on_failure(e)
            changed.set()
            await asyncio.sleep(1)
        await wait_any(changed, stop, timeout=resync)
        await asyncio.sleep(settle)
