"""The shared watch: one etcd watch per resource, many watchers, a node index."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from control_plane.apiserver.watch_hub import RawEvent, WatchEnded, WatchHub


class FakeEtcd:
    """A history of changes that sources watches from any revision; counts its watches."""

    def __init__(self) -> None:
        self.revision = 1
        self.events: list[RawEvent] = []
        self.watches: list[tuple[str, int]] = []
        self._changed = asyncio.Event()
        self.failure: Exception | None = None

    async def current_revision(self) -> int:
        return self.revision

    async def list(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        latest: dict[str, RawEvent] = {}
        for event in self.events:
            if event.key.startswith(prefix):
                latest[event.key] = event
        objects = [(k, e.value, e.revision) for k, e in latest.items() if e.type != "DELETED"]
        return objects, self.revision

    def delete(self, key: str, node: str) -> RawEvent:
        self.revision += 1
        value = json.dumps({"spec": {"nodeName": node}}).encode()
        event = RawEvent(key, "DELETED", value, self.revision)
        self.events.append(event)
        self._changed.set()
        return event

    def put(self, key: str, node: str = "", before: str | None = None) -> RawEvent:
        self.revision += 1
        value = json.dumps({"spec": {"nodeName": node}}).encode()
        if before is None:
            event = RawEvent(key, "ADDED", value, self.revision)
        else:
            previous = json.dumps({"spec": {"nodeName": before}}).encode()
            event = RawEvent(key, "MODIFIED", value, self.revision, previous, self.revision - 1)
        self.events.append(event)
        self._changed.set()
        return event

    def fail(self, failure: Exception) -> None:
        self.failure = failure
        self._changed.set()

    async def source(self, prefix: str, start: int) -> AsyncIterator[RawEvent]:
        self.watches.append((prefix, start))
        position = 0
        while True:
            while position < len(self.events):
                event = self.events[position]
                position += 1
                if event.key.startswith(prefix) and event.revision >= start:
                    yield event
            if self.failure is not None:
                raise self.failure
            self._changed.clear()
            await self._changed.wait()


def node_index(stored: bytes) -> str:
    return str(json.loads(stored)["spec"]["nodeName"])


async def take(events: AsyncIterator[RawEvent], count: int) -> list[str]:
    got = []
    async with asyncio.timeout(2):
        async for event in events:
            got.append(event.key)
            if len(got) == count:
                break
    return got


async def start_reading(events: AsyncIterator[RawEvent], count: int) -> asyncio.Task[list[str]]:
    """Start taking count events, and let the watch join before the caller writes."""
    task = asyncio.create_task(take(events, count))
    await asyncio.sleep(0.01)
    return task


def hub_for(etcd: FakeEtcd, **limits: int) -> WatchHub:
    hub = WatchHub(etcd.source, etcd.current_revision, etcd.list, **limits)
    hub.share("/registry/pods/", node_index)
    return hub


async def test_watchers_of_one_resource_share_one_etcd_watch() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    start = etcd.revision + 1
    first = hub.watch("/registry/pods/", start)
    in_a = hub.watch("/registry/pods/a/", start)
    pending = asyncio.gather(take(first, 3), take(in_a, 2))
    await asyncio.sleep(0.01)
    etcd.put("/registry/pods/a/p1")
    etcd.put("/registry/pods/b/p2")
    etcd.put("/registry/pods/a/p3")
    everything, namespace_a = await pending
    assert everything == ["/registry/pods/a/p1", "/registry/pods/b/p2", "/registry/pods/a/p3"]
    assert namespace_a == ["/registry/pods/a/p1", "/registry/pods/a/p3"]
    assert etcd.watches == [("/registry/pods/", start)]
    await hub.close()


async def test_a_watch_of_one_node_gets_its_pods_changes_only() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    node_one = hub.watch("/registry/pods/", etcd.revision + 1, index="n1")
    pending = await start_reading(node_one, 3)
    etcd.put("/registry/pods/a/bound-later")  # not yet on a node
    etcd.put("/registry/pods/a/elsewhere", "n2")
    etcd.put("/registry/pods/a/bound-later", "n1", before="")  # the binding moves it in
    etcd.put("/registry/pods/a/moved-away", "n2", before="n1")
    etcd.put("/registry/pods/a/mine", "n1")
    assert await pending == [
        "/registry/pods/a/bound-later",
        "/registry/pods/a/moved-away",
        "/registry/pods/a/mine",
    ]
    await hub.close()


async def test_a_watch_from_the_recent_past_is_replayed_from_the_shared_history() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    warm = hub.watch("/registry/pods/", etcd.revision + 1)
    warming = await start_reading(warm, 3)
    second = etcd.put("/registry/pods/a/p1")
    etcd.put("/registry/pods/a/p2")
    etcd.put("/registry/pods/a/p3")
    await warming
    late = hub.watch("/registry/pods/", second.revision + 1)
    assert await take(late, 2) == ["/registry/pods/a/p2", "/registry/pods/a/p3"]
    assert len(etcd.watches) == 1
    await hub.close()


async def test_a_watch_older_than_the_history_gets_its_own_etcd_watch() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd, history=2)
    warm = hub.watch("/registry/pods/", etcd.revision + 1)
    warming = await start_reading(warm, 4)
    first = etcd.put("/registry/pods/a/p1")
    for name in ("p2", "p3", "p4"):
        etcd.put(f"/registry/pods/a/{name}")
    await warming
    old = hub.watch("/registry/pods/", first.revision)
    assert await take(old, 4) == [f"/registry/pods/a/p{i}" for i in range(1, 5)]
    assert etcd.watches[-1] == ("/registry/pods/", first.revision)
    await hub.close()


async def test_a_watcher_that_falls_behind_is_ended_where_it_got_to_without_a_gap() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd, backlog=2)
    slow = hub.watch("/registry/pods/", etcd.revision + 1)
    fast = hub.watch("/registry/pods/", etcd.revision + 1)
    keeping_up = asyncio.create_task(take(fast, 4))
    reading = asyncio.create_task(anext(slow))
    await asyncio.sleep(0.01)
    for name in ("p1", "p2", "p3", "p4"):
        etcd.put(f"/registry/pods/a/{name}")
        await asyncio.sleep(0.01)  # the fast reader takes each one as it comes
    assert len(await keeping_up) == 4
    got = [(await reading).key]
    async with asyncio.timeout(2):
        got += [event.key async for event in slow]
    # p1 was read at once, p2 and p3 waited, p4 did not fit: the watch ends before it, so
    # its reader watches again from p3 and misses nothing.
    assert got == ["/registry/pods/a/p1", "/registry/pods/a/p2", "/registry/pods/a/p3"]
    await hub.close()


async def test_when_etcd_fails_the_watchers_see_it_and_the_next_watch_starts_afresh() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    watch = hub.watch("/registry/pods/", etcd.revision + 1)
    reading = await start_reading(watch, 2)
    etcd.put("/registry/pods/a/p1")
    etcd.fail(RuntimeError("etcd went away"))
    with pytest.raises(RuntimeError, match="etcd went away"):
        await reading
    etcd.failure = None
    again = hub.watch("/registry/pods/", etcd.revision + 1)
    pending = await start_reading(again, 1)
    etcd.put("/registry/pods/a/p2")
    assert await pending == ["/registry/pods/a/p2"]
    assert len(etcd.watches) == 2
    await hub.close()


async def test_closing_the_hub_ends_its_watchers() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    watch = hub.watch("/registry/pods/", etcd.revision + 1)
    reading = await start_reading(watch, 1)
    await hub.close()
    with pytest.raises(WatchEnded):
        await reading


async def test_a_prefix_that_is_not_shared_is_watched_directly() -> None:
    etcd = FakeEtcd()
    hub = hub_for(etcd)
    watch = hub.watch("/registry/events/", etcd.revision + 1)
    pending = await start_reading(watch, 1)
    etcd.put("/registry/events/a/e1")
    assert await pending == ["/registry/events/a/e1"]
    await hub.close()


async def test_the_pods_of_one_node_are_read_from_the_shared_copy_and_followed_from_there():
    etcd = FakeEtcd()
    etcd.put("/registry/pods/a/before", "n1")
    etcd.put("/registry/pods/a/other", "n2")
    hub = hub_for(etcd)
    first = await hub.snapshot("/registry/pods/", "n1")
    assert first is not None and len(first.items) == 1 and first.revision == etcd.revision
    bound = etcd.put("/registry/pods/b/bound", "n1", before="")
    etcd.delete("/registry/pods/a/before", "n1")
    etcd.put("/registry/pods/a/moved", "n2", before="n1")
    await asyncio.sleep(0.01)
    later = await hub.snapshot("/registry/pods/", "n1")
    assert later is not None and later.revision == etcd.revision
    assert [json.loads(v)["spec"]["nodeName"] for v, _ in later.items] == ["n1"]
    assert [r for _, r in later.items] == [bound.revision]
    in_b = await hub.snapshot("/registry/pods/b/", "n1")
    assert in_b is not None and len(in_b.items) == 1
    # A watch from the copy's revision gets what comes after it, and nothing before.
    watch = hub.watch("/registry/pods/", later.revision + 1, index="n1")
    pending = await start_reading(watch, 1)
    etcd.put("/registry/pods/a/new", "n1")
    assert await pending == ["/registry/pods/a/new"]
    assert len(etcd.watches) == 1
    await hub.close()
