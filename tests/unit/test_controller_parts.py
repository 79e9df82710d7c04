"""The work queue, the service allocator and the namespace controller, without a cluster."""

from __future__ import annotations

import asyncio

import pytest

from control_plane.apiserver import errors
from control_plane.apiserver.allocators import ServiceAllocator
from control_plane.controllers.namespace import ContentRemaining, NamespaceController
from ku7s.client.informer import Informer
from ku7s.client.workqueue import WorkQueue
from tests.unit.fakes import MemoryStorage


async def test_work_queue_dedupes_and_never_runs_a_key_twice_at_once():
    queue: WorkQueue[str] = WorkQueue(base_delay=0.001)
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    key = await queue.get()
    queue.add(key)  # while processing: comes back after done()
    assert len(queue) == 1
    queue.done(key)
    assert len(queue) == 2
    queue.add_rate_limited("c")
    queue.add_rate_limited("c")
    assert queue.failures("c") == 2
    queue.forget("c")
    assert queue.failures("c") == 0
    queue.shut_down()


async def test_allocator_hands_out_free_addresses_and_refuses_taken_ones():
    storage = MemoryStorage()
    allocator = ServiceAllocator(storage, "10.96.0.0/28")
    assert allocator.kubernetes_service_ip == "10.96.0.1"
    await storage.create(
        "/registry/services/default/a",
        {
            "metadata": {"name": "a"},
            "spec": {"clusterIP": "10.96.0.5", "ports": [{"nodePort": 30001}]},
        },
    )
    seen = {await allocator.cluster_ip(None, f"s{i}") for i in range(12)}
    assert len(seen) == 12 and "10.96.0.5" not in seen and "10.96.0.1" not in seen
    with pytest.raises(errors.APIError, match="is full"):
        await allocator.cluster_ip(None, "one-too-many")
    for bad in ("10.96.0.5", "10.1.0.1", "nonsense"):
        with pytest.raises(errors.APIError) as caught:
            await allocator.cluster_ip(bad, "x")
        assert caught.value.code == 422
    with pytest.raises(errors.APIError, match="already allocated"):
        await allocator.node_port(30001, "x")
    assert 30000 <= await allocator.node_port(None, "x") <= 32767


async def test_dynamic_cluster_ips_leave_the_static_band_to_named_requests():
    allocator = ServiceAllocator(MemoryStorage(), "10.96.0.0/16")
    picked = [await allocator.cluster_ip(None, f"s{i}") for i in range(50)]
    assert not [ip for ip in picked if ip.startswith("10.96.0.")]  # the first 256 are static
    assert await allocator.cluster_ip("10.96.0.10", "kube-dns") == "10.96.0.10"


class FakeAPI:
    """Discovery plus one namespace with a configmap that goes away when deleted."""

    def __init__(self, stubborn: bool = False) -> None:
        self.items = {"/api/v1/namespaces/team/configmaps": ["c1"]}
        self.stubborn = stubborn
        self.finalized = None

    async def get(self, path, params=None):
        if path == "/apis":
            return {"groups": []}
        if path == "/api/v1":
            return {
                "resources": [
                    {"name": "configmaps", "namespaced": True, "verbs": ["delete", "list"]},
                    {"name": "nodes", "namespaced": False, "verbs": ["delete"]},
                    {"name": "pods/status", "namespaced": True, "verbs": ["get"]},
                ]
            }
        return {"items": [{"metadata": {"name": n}} for n in self.items.get(path, [])]}

    async def delete(self, path, params=None):
        collection, _, name = path.rpartition("/")
        if not self.stubborn:
            self.items[collection].remove(name)
        return {}

    async def replace(self, path, body):
        self.finalized = (path, body["spec"])
        return body


async def test_namespace_controller_empties_then_finalizes():
    api = FakeAPI()
    controller = NamespaceController(api)  # type: ignore[arg-type]
    controller.namespaces._cache["team"] = {
        "metadata": {"name": "team", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"finalizers": ["kubernetes"]},
    }
    await controller.reconcile("team")
    assert api.items["/api/v1/namespaces/team/configmaps"] == []
    assert api.finalized == ("/api/v1/namespaces/team/finalize", {"finalizers": []})


async def test_namespace_controller_retries_while_content_remains():
    controller = NamespaceController(FakeAPI(stubborn=True))  # type: ignore[arg-type]
    controller.namespaces._cache["team"] = {
        "metadata": {"name": "team", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"finalizers": ["kubernetes"]},
    }
    with pytest.raises(ContentRemaining):
        await controller.reconcile("team")
    await asyncio.sleep(0)


async def test_an_informer_stops_at_once_even_while_its_watch_is_quiet():
    """Shutdown does not wait for the next watch event (components stopped in seconds)."""

    class QuietAPI:
        async def get(self, path, params=None):
            return {"metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "a"}}]}

        async def watch(self, path, params=None):
            await asyncio.Event().wait()  # nothing ever happens
            yield "ADDED", {}

    informer = Informer(QuietAPI(), "/api/v1/nodes")  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.create_task(informer.run(stop))
    await asyncio.wait_for(informer.synced.wait(), 1)
    assert [o["metadata"]["name"] for o in informer.list()] == ["a"]
    stop.set()
    await asyncio.wait_for(running, 1)
