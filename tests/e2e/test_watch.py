"""Watch correctness under concurrency: several watchers while writers create, update and
delete thousands of objects; every watcher sees every change exactly once, in revision order."""

from __future__ import annotations

import asyncio

import yaml

from ku7s.client.rest import APIClient
from tests.e2e.conftest import Cluster, unique

WATCHERS = 5
WRITERS = 8
OBJECTS = 800  # 800 creates, 400 updates, 400 deletes: 1,600 changes


async def _scenario(config: dict, namespace: str) -> None:
    async with APIClient.from_kubeconfig(config, timeout=60) as api:
        await api.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        start = (await api.get(base))["metadata"]["resourceVersion"]
        seen: list[list[tuple[int, str, str]]] = [[] for _ in range(WATCHERS)]
        written: list[tuple[int, str, str]] = []
        expected = OBJECTS + OBJECTS // 2 + OBJECTS // 2

        async def watcher(index: int) -> None:
            async for event_type, obj in api.watch(
                base, {"resourceVersion": start, "timeoutSeconds": "120"}
            ):
                meta = obj["metadata"]
                seen[index].append((int(meta["resourceVersion"]), event_type, meta["name"]))
                if len(seen[index]) == expected:
                    return

        async def writer(index: int) -> None:
            names = [f"w{index}-{i}" for i in range(index, OBJECTS, WRITERS)]
            for name in names:
                created = await api.create(base, {"metadata": {"name": name}, "data": {"v": "1"}})
                written.append((int(created["metadata"]["resourceVersion"]), "ADDED", name))
            for name in names[::2]:
                updated = await api.patch(f"{base}/{name}", {"data": {"v": "2"}})
                written.append((int(updated["metadata"]["resourceVersion"]), "MODIFIED", name))
            for name in names[1::2]:
                status = await api.delete(f"{base}/{name}")
                assert status["status"] == "Success"
                written.append((0, "DELETED", name))

        watchers = [asyncio.create_task(watcher(i)) for i in range(WATCHERS)]
        await asyncio.sleep(0.5)
        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
        await asyncio.wait_for(asyncio.gather(*watchers), timeout=60)
        await api.delete(f"/api/v1/namespaces/{namespace}")

    by_kind = sorted((t, n) for _, t, n in written)
    for events in seen:
        revisions = [rv for rv, _, _ in events]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
        assert sorted((t, n) for _, t, n in events) == by_kind
        known = {(rv, t, n) for rv, t, n in written if rv}
        assert known <= set(events)


def test_every_watcher_sees_every_change_once_in_order(cluster: Cluster):
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    asyncio.run(_scenario(config, unique("watch")))
