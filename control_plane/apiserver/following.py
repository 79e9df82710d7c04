"""Keeping up with one kind from inside the API server (RBAC's copy of the roles, the
custom resource registrar's of the definitions): list, then watch from the list's revision,
and list again whenever the watch ends or has fallen too far behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from control_plane.apiserver.kinds import Kind
from control_plane.apiserver.registry import ListOptions, Registry

log = logging.getLogger("kube-apiserver")

Object = dict[str, Any]
OnList = Callable[[list[Object]], Awaitable[None]]
#: Called with "ADDED", "MODIFIED" or "DELETED" and the object.
OnEvent = Callable[[str, Object], Awaitable[None]]


class Follower(Protocol):
    """Something that keeps a copy of some kinds by watch until stopped."""

    async def run(self, stop: asyncio.Event) -> None: ...

    async def wait_synced(self) -> None: ...


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


class Mirror:
    """A copy of every object of some kinds, kept by `follow`: what RBAC decides with and
    what admission webhooks and policies look up on each write, without a read of etcd."""

    def __init__(
        self,
        registry: Registry,
        kinds: list[Kind],
        *,
        why: str,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._registry = registry
        self._kinds = kinds
        self._why = why
        self._on_change = on_change or (lambda: None)
        #: plural -> (namespace, name) -> object
        self.objects: dict[str, dict[tuple[str, str], Object]] = {
            k.resource.plural: {} for k in kinds
        }
        self._listed: set[str] = set()
        self._synced = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the kinds until stop is set."""
        tasks = [asyncio.create_task(self._follow(kind)) for kind in self._kinds]
        waiting = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, *tasks):
                task.cancel()
            await asyncio.gather(waiting, *tasks, return_exceptions=True)

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def sorted(self, plural: str) -> list[Object]:
        """The plural's objects in name order (namespace first)."""
        objects = self.objects[plural]
        return [objects[key] for key in sorted(objects)]

    async def _follow(self, kind: Kind) -> None:
        plural = kind.resource.plural

        async def listed(items: list[Object]) -> None:
            self.objects[plural] = {_key(o): o for o in items}
            self._on_change()
            self._listed.add(plural)
            if self._listed.issuperset(self.objects):
                self._synced.set()

        async def changed(event: str, obj: Object) -> None:
            if event == "DELETED":
                self.objects[plural].pop(_key(obj), None)
            else:
                self.objects[plural][_key(obj)] = obj
            self._on_change()

        await follow(self._registry, kind, listed, changed, why=self._why)


def _key(obj: Object) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")
