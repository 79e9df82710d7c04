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

from ku7s.aio import sleep_unless
from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]
Handler = Callable[[str, Object], None]  # event type (ADDED, MODIFIED, DELETED), object
IndexFunc = Callable[[Object], list[str]]

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
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self._running = False
        self.synced = asyncio.Event()

    def on_change(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def add_index(self, name: str, values: IndexFunc) -> None:
        """Keep the cache indexed by values(obj), so by_index() needs no scan."""
        self._index_funcs[name] = values
        index: dict[str, set[str]] = {}
        for key, obj in self._cache.items():
            for value in values(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def has_index(self, name: str) -> bool:
        return name in self._indexes

    def count_by_index(self, name: str, value: str) -> int:
        return len(self._indexes[name].get(value, ()))

    def by_index(self, name: str, value: str) -> list[Object]:
        keys = self._indexes[name].get(value, set())
        return [self._cache[k] for k in keys if k in self._cache]

    def _store(self, key: str, obj: Object | None) -> None:
        old = self._cache.get(key)
        for name, values in self._index_funcs.items():
            index = self._indexes[name]
            if old is not None:
                for value in values(old):
                    keys = index.get(value)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del index[value]
            if obj is not None:
                for value in values(obj):
                    index.setdefault(value, set()).add(key)
        if obj is None:
            self._cache.pop(key, None)
        else:
            self._cache[key] = obj

    def get(self, key: str) -> Object | None:
        return self._cache.get(key)

    def list(self) -> list[Object]:
        return list(self._cache.values())

    def _emit(self, kind: str, obj: Object) -> None:
        for handler in self._handlers:
            handler(kind, obj)

    async def run(self, stop: asyncio.Event) -> None:
        """List and watch until stop; a second caller (informers are shared) just waits."""
        if self._running:
            await stop.wait()
            return
        self._running = True
        try:
            await self._run(stop)
        finally:
            self._running = False

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Stop ends a request in flight too: a quiet watch would otherwise hold its
            # component's shutdown until the next event.
            listing = asyncio.ensure_future(self._list_and_watch())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({listing, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                if not listing.done():
                    listing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await listing
            try:
                if not listing.cancelled():
                    listing.result()
            except (TimeoutError, APIStatusError, aiohttp.ClientError, OSError) as e:
                log.info("watch of %s ended (%s); listing again", self._path, e)
            await sleep_unless(stop, self._retry)

    async def _list_and_watch(self) -> None:
        version = await self._relist()
        self.synced.set()
        watch = self._client.watch(
            self._path,
            {**self._params, "resourceVersion": version, "allowWatchBookmarks": "true"},
        )
        async for event_type, obj in watch:
            self._apply(event_type, obj)

    async def _relist(self) -> str:
        listing = await self._client.get(self._path, self._params)
        fresh = {object_key(o): o for o in listing.get("items", [])}
        for key, gone in list(self._cache.items()):
            if key not in fresh:
                self._store(key, None)
                self._emit("DELETED", gone)
        for key, obj in fresh.items():
            old = self._cache.get(key)
            self._store(key, obj)
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
        self._store(key, None if event_type == "DELETED" else obj)
        self._emit(event_type, obj)


class InformerFactory:
    """One informer per collection, shared by every controller that asks for it."""

    def __init__(self, client: APIClient) -> None:
        self._client = client
        self._informers: dict[str, Informer] = {}

    def informer(self, path: str) -> Informer:
        if path not in self._informers:
            self._informers[path] = Informer(self._client, path)
        return self._informers[path]

    def all(self) -> list[Informer]:
        return list(self._informers.values())
