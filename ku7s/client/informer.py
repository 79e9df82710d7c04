"""An informer: list, then watch from the list's resourceVersion, keeping a local cache and
telling handlers what changed. When the watch ends or its revision is too old, it lists
again (and reports what changed meanwhile), so the cache never drifts for long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]
Handler = Callable[[str, Object], None]  # event type (ADDED, MODIFIED, DELETED), object

log = logging.getLogger("informer")


def object_key(obj: Object) -> str:
    namespace = meta.namespace_of(obj)
    return f"{namespace}/{meta.name_of(obj)}" if namespace else meta.name_of(obj)


class Informer:
    def __init__(
        self,
        client: APIClient,
        path: str,
        *,
        retry_interval: float = 0.5,
        params: dict[str, str] | None = None,
    ) -> None:
        self._client = client
        self._path = path
        self._params = params or {}
        self._retry = retry_interval
        self._cache: dict[str, Object] = {}
        self._handlers: list[Handler] = []
        self.synced = asyncio.Event()

    def on_change(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, key: str) -> Object | None:
        return self._cache.get(key)

    def list(self) -> list[Object]:
        return list(self._cache.values())

    def _emit(self, kind: str, obj: Object) -> None:
        for handler in self._handlers:
            handler(kind, obj)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                version = await self._relist()
                self.synced.set()
                watch = self._client.watch(
                    self._path,
                    {**self._params, "resourceVersion": version, "allowWatchBookmarks": "true"},
                )
                async for event_type, obj in watch:
                    if stop.is_set():
                        break
                    self._apply(event_type, obj)
            except (TimeoutError, APIStatusError, aiohttp.ClientError, OSError) as e:
                log.info("watch of %s ended (%s); listing again", self._path, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._retry)

    async def _relist(self) -> str:
        listing = await self._client.get(self._path, self._params)
        fresh = {object_key(o): o for o in listing.get("items", [])}
        for key, gone in list(self._cache.items()):
            if key not in fresh:
                del self._cache[key]
                self._emit("DELETED", gone)
        for key, obj in fresh.items():
            old = self._cache.get(key)
            self._cache[key] = obj
            if old is None:
                self._emit("ADDED", obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._emit("MODIFIED", obj)
        return str(listing.get("metadata", {}).get("resourceVersion", ""))

    def _apply(self, event_type: str, obj: Object) -> None:
        if event_type == "BOOKMARK":
            return
        key = object_key(obj)
        if event_type == "DELETED":
            self._cache.pop(key, None)
        else:
            self._cache[key] = obj
        self._emit(event_type, obj)
