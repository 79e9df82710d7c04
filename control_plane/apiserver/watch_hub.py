"""One etcd watch per resource, shared by every watcher of that resource.

A thousand nodes each following their own pods, beside every controller and client, would
otherwise each hold an etcd watch that receives (and decodes) every pod change in the
cluster. The hub receives each change once, keeps the most recent ones so that a watcher
may start a little in the past, and hands each watcher the changes under its prefix. An
index (a pod's node) sends a change only to the watchers of its value, so a change costs
its few interested watchers, not all of them.

A watcher gets the raw bytes and decodes its own copy: nobody shares a mutable object.
A watcher that starts before what the hub still holds, or watches a resource that is not
shared, gets its own etcd watch, as before; so resourceVersion semantics, ordering and
410 Expired are etcd's in every case.

An indexed resource's shared watch also keeps every object, by index value, at the revision
it has seen (it lists once, then applies the changes): a node that connects again gets its
pods from there and watches on from that revision, instead of every node's listing every
pod of the cluster from etcd (a hundred nodes coming back from a partition were enough to
saturate etcd and the API server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("kube-apiserver")


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One change under a watched prefix, as etcd reports it."""

    key: str
    type: str  # "ADDED", "MODIFIED" or "DELETED"
    #: The object's bytes; for DELETED, its last bytes before deletion.
    value: bytes
    revision: int
    #: For MODIFIED, the bytes before the change.
    previous: bytes | None = None
    previous_revision: int = 0


#: Etcd's events under a prefix from a revision on.
Source = Callable[[str, int], AsyncIterator[RawEvent]]
#: Every key under a prefix with its value and mod revision, and the revision read at.
Lister = Callable[[str], Awaitable[tuple[list[tuple[str, bytes, int]], int]]]
#: The index value of a stored object (for a pod: its node).
Indexer = Callable[[bytes], str]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The objects of one index value, as of a revision."""

    #: (value, mod revision) of each object
    items: list[tuple[bytes, int]]
    revision: int


class WatchEnded(Exception):
    """The shared watch ended under its watchers (etcd went away); they see the cause."""


@dataclass(eq=False)
class _Watcher:
    within: str
    start: int
    index: str | None
    pending: deque[RawEvent] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when the watcher must stop: None (not yet), True (fell behind) or the failure.
    ended: BaseException | bool | None = None

    def offer(self, event: RawEvent, backlog: int) -> None:
        if self.ended is not None:
            return
        if event.revision < self.start or not event.key.startswith(self.within):
            return
        if len(self.pending) >= backlog:
            # A reader this far behind gets what came before and is ended there, as
            # upstream ends its slow watchers; it watches again from where it got to.
            self.ended = True
        else:
            self.pending.append(event)
        self.wake.set()


class SharedWatch:
    """One prefix's etcd watch, its recent history and its watchers."""

    def __init__(
        self,
        prefix: str,
        source: Source,
        start_revision: int,
        indexer: Indexer | None,
        *,
        history: int,
        backlog: int,
    ) -> None:
        self.prefix = prefix
        self._source = source
        self._start = start_revision
        self._indexer = indexer
        self._history: deque[tuple[RawEvent, frozenset[str]]] = deque()
        #: key -> (value, mod revision, index value), when the watch keeps the objects
        self._objects: dict[str, tuple[bytes, int, str]] | None = None
        self._keys_by_value: dict[str, set[str]] = {}
        #: The revision the kept objects are at.
        self.revision = start_revision - 1
        self._history_size = history
        self._backlog = backlog
        #: Every change from this revision on is in the history or still to come.
        self._covered_from = start_revision
        self._everything: set[_Watcher] = set()
        self._by_value: dict[str, set[_Watcher]] = {}
        self._failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def covers(self, revision: int) -> bool:
        return self._failure is None and revision >= self._covered_from

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name=f"shared watch {self.prefix}")

    def keep(self, objects: list[tuple[str, bytes, int]]) -> None:
        """Keep these objects (listed at the revision before start) and their changes."""
        assert self._indexer is not None
        self._objects = {}
        for key, value, revision in objects:
            self._put(key, value, revision, self._indexer(value))

    def snapshot(self, value: str, within: str) -> Snapshot | None:
        """The kept objects of one index value under within; None if none are kept."""
        if self._objects is None or self._failure is not None:
            return None
        items = []
        for key in self._keys_by_value.get(value, ()):
            if key.startswith(within):
                stored, revision, _ = self._objects[key]
                items.append((stored, revision))
        return Snapshot(items, self.revision)

    def _put(self, key: str, value: bytes, revision: int, indexed: str) -> None:
        assert self._objects is not None
        self._drop(key)
        self._objects[key] = (value, revision, indexed)
        self._keys_by_value.setdefault(indexed, set()).add(key)

    def _drop(self, key: str) -> None:
        assert self._objects is not None
        old = self._objects.pop(key, None)
        if old is not None:
            keys = self._keys_by_value[old[2]]
            keys.discard(key)
            if not keys:
                del self._keys_by_value[old[2]]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._end_all(WatchEnded("the API server is stopping"))

    async def events(self, within: str, start: int, index: str | None) -> AsyncIterator[RawEvent]:
        """The changes under within from start on; the history first, then live ones."""
        watcher = _Watcher(within, start, index)
        # No await between replaying the history and joining: nothing can slip between.
        for event, values in self._history:
            if index is None or index in values:
                watcher.offer(event, self._backlog)
        self._join(watcher)
        try:
            while True:
                while watcher.pending:
                    yield watcher.pending.popleft()
                if watcher.ended is True:
                    log.info("a watch of %s fell behind; it is ended", within)
                    return
                if isinstance(watcher.ended, BaseException):
                    raise watcher.ended
                watcher.wake.clear()
                await watcher.wake.wait()
        finally:
            self._leave(watcher)

    def _join(self, watcher: _Watcher) -> None:
        if watcher.index is None:
            self._everything.add(watcher)
        else:
            self._by_value.setdefault(watcher.index, set()).add(watcher)

    def _leave(self, watcher: _Watcher) -> None:
        if watcher.index is None:
            self._everything.discard(watcher)
        else:
            group = self._by_value.get(watcher.index)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self._by_value[watcher.index]

    async def _pump(self) -> None:
        try:
            async for event in self._source(self.prefix, self._start):
                now, values = self._index_values(event)
                self._remember(event, values)
                if self._objects is not None:
                    if event.type == "DELETED":
                        self._drop(event.key)
                    else:
                        self._put(event.key, event.value, event.revision, now)
                self.revision = event.revision
                for watcher in self._everything:
                    watcher.offer(event, self._backlog)
                for value in values:
                    for watcher in self._by_value.get(value, ()):
                        watcher.offer(event, self._backlog)
            self._end_all(WatchEnded(f"the watch of {self.prefix} ended"))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._end_all(e)

    def _index_values(self, event: RawEvent) -> tuple[str, frozenset[str]]:
        """The index value of the change's object, and every value the change concerns
        (also the one before a modification, read from the kept copy when there is one:
        each decode of a pod costs, and this runs for every pod change)."""
        if self._indexer is None:
            return "", frozenset()
        now = self._indexer(event.value)
        if event.previous is None:
            return now, frozenset((now,))
        kept = self._objects.get(event.key) if self._objects is not None else None
        before = kept[2] if kept is not None else self._indexer(event.previous)
        return now, frozenset((now, before))

    def _remember(self, event: RawEvent, values: frozenset[str]) -> None:
        self._history.append((event, values))
        if len(self._history) > self._history_size:
            dropped, _ = self._history.popleft()
            self._covered_from = dropped.revision + 1

    def _end_all(self, failure: BaseException) -> None:
        self._failure = failure
        for watcher in [*self._everything, *(w for s in self._by_value.values() for w in s)]:
            if watcher.ended is None:
                watcher.ended = failure
            watcher.wake.set()


class WatchHub:
    """The shared watches of one etcd client, one per registered prefix."""

    def __init__(
        self,
        source: Source,
        current_revision: Callable[[], Awaitable[int]],
        lister: Lister | None = None,
        *,
        history: int = 4096,
        backlog: int = 50_000,
    ) -> None:
        self._source = source
        self._current_revision = current_revision
        self._lister = lister
        self._history = history
        self._backlog = backlog
        #: prefix -> its indexer, or None for a prefix shared without an index
        self._shared_prefixes: dict[str, Indexer | None] = {}
        self._watches: dict[str, SharedWatch] = {}
        self._starting: dict[str, asyncio.Future[SharedWatch]] = {}

    def share(self, prefix: str, indexer: Indexer | None = None) -> None:
        """Serve watches under prefix from one etcd watch (idempotent)."""
        self._shared_prefixes.setdefault(prefix, indexer)

    async def watch(
        self, prefix: str, start_revision: int, index: str | None = None
    ) -> AsyncIterator[RawEvent]:
        """The changes under prefix from start_revision on. index narrows them to the
        changes whose index values include it; the caller still filters (it is a hint)."""
        top = self._shared_prefix_of(prefix)
        if top is None:
            async for event in self._source(prefix, start_revision):
                yield event
            return
        shared = await self._shared(top)
        if not shared.covers(start_revision):
            async for event in self._source(prefix, start_revision):
                yield event
            return
        if self._shared_prefixes[top] is None:
            index = None
        async for event in shared.events(prefix, start_revision, index):
            yield event

    async def snapshot(self, prefix: str, value: str) -> Snapshot | None:
        """The objects under prefix whose index value is value, as the shared watch of an
        indexed prefix keeps them; None when it keeps none (the caller lists etcd)."""
        top = self._shared_prefix_of(prefix)
        if top is None or self._shared_prefixes[top] is None or self._lister is None:
            return None
        shared = await self._shared(top)
        return shared.snapshot(value, prefix)

    def _shared_prefix_of(self, prefix: str) -> str | None:
        for top in self._shared_prefixes:
            if prefix.startswith(top):
                return top
        return None

    async def _shared(self, prefix: str) -> SharedWatch:
        shared = self._watches.get(prefix)
        if shared is not None and not shared.failed:
            return shared
        starting = self._starting.get(prefix)
        if starting is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[SharedWatch] = asyncio.get_running_loop().create_future()
        self._starting[prefix] = future
        try:
            indexer = self._shared_prefixes[prefix]
            objects: list[tuple[str, bytes, int]] | None = None
            if indexer is not None and self._lister is not None:
                objects, revision = await self._lister(prefix)
            else:
                revision = await self._current_revision()
            shared = SharedWatch(
                prefix,
                self._source,
                revision + 1,
                indexer,
                history=self._history,
                backlog=self._backlog,
            )
            if objects is not None:
                shared.keep(objects)
            shared.start()
            self._watches[prefix] = shared
            future.set_result(shared)
            return shared
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # read, so an unawaited failure is not reported
            raise
        finally:
            del self._starting[prefix]

    async def close(self) -> None:
        watches, self._watches = list(self._watches.values()), {}
        for shared in watches:
            await shared.stop()
