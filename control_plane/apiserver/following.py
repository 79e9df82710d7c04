"""Keeping up with one kind from inside the API server (RBAC's copy of the roles, the
custom resource registrar's of the definitions): list, then watch from the list's revision,
and list again whenever the watch ends or has fallen too far behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from control_plane.apiserver.kinds import Kind
from control_plane.apiserver.registry import ListOptions, Registry

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
OnList = Callable[[list[Object]], Awaitable[None]]
#: Called with "ADDED", "MODIFIED" or "DELETED" and the object.
OnEvent = Callable[[str, Object], Awaitable[None]]


async def follow(
    registry: Registry, kind: Kind, on_list: OnList, on_event: OnEvent, *, why: str
) -> None:
    """Run until cancelled; a failure is logged and the kind listed again a second later."""
    while True:
        try:
            page = await registry.list(kind, None, ListOptions())
            await on_list(page.items)
            events = await registry.watch(
                kind, None, ListOptions(resource_version=page.resource_version)
            )
            async for event in events:
                if event.type == "ERROR":
                    break  # too old: list again
                if event.type in ("ADDED", "MODIFIED", "DELETED"):
                    await on_event(event.type, event.object)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching %s for %s failed; listing again", kind.resource.plural, why)
            await asyncio.sleep(1)
