"""Object semantics the apiserver applies on top of storage."""

from __future__ import annotations

import asyncio

import pytest

from control_plane.apiserver import errors
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import DeleteOptions, ListOptions, Registry
from tests.unit.fakes import MemoryStorage


@pytest.fixture
async def registry():
    reg = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(reg)
    return reg


def rt(registry, plural):
    group = "coordination.k8s.io" if plural == "leases" else ""
    return registry.kinds.get(plural, group)


async def test_create_fills_metadata(registry):
    node = await registry.create(rt(registry, "nodes"), "", {"metadata": {"name": "n1"}})
    meta = node["metadata"]
    assert node["kind"] == "Node" and node["apiVersion"] == "v1"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert "namespace" not in meta


async def test_default_namespaces_exist_and_are_active(registry):
    page = await registry.list(rt(registry, "namespaces"), None, ListOptions())
    names = [n["metadata"]["name"] for n in page.items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert all(n["status"]["phase"] == "Active" for n in page.items)
    await ensure_default_namespaces(registry)  # idempotent


async def test_generate_name(registry):
    ns = await registry.create(rt(registry, "namespaces"), "", {"metadata": {"generateName": "t-"}})
    assert ns["metadata"]["name"].startswith("t-") and len(ns["metadata"]["name"]) == 7


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        ({"metadata": {}}, 422, "Invalid"),
        ({"metadata": {"name": "Bad_Name"}}, 422, "Invalid"),
        ({"metadata": {"name": "ok", "resourceVersion": "5"}}, 500, "InternalError"),
    ],
)
async def test_create_rejects_bad_objects(registry, body, code, reason):
    with pytest.raises(errors.APIError) as caught:
        await registry.create(rt(registry, "nodes"), "", body)
    assert (caught.value.code, caught.value.reason) == (code, reason)


async def test_duplicate_create_is_already_exists(registry):
    await registry.create(rt(registry, "nodes"), "", {"metadata": {"name": "n1"}})
    with pytest.raises(errors.APIError) as caught:
        await registry.create(rt(registry, "nodes"), "", {"metadata": {"name": "n1"}})
    assert caught.value.status()["reason"] == "AlreadyExists"
    assert caught.value.message == 'nodes "n1" already exists'


async def test_namespaced_create_needs_the_namespace(registry):
    leases = rt(registry, "leases")
    with pytest.raises(errors.APIError) as caught:
        await registry.create(leases, "nowhere", {"metadata": {"name": "l"}})
    assert caught.value.code == 404 and "namespaces" in caught.value.message
    with pytest.raises(errors.APIError) as caught:
        await registry.create(leases, "default", {"metadata": {"name": "l", "namespace": "x"}})
    assert caught.value.code == 400


async def test_update_with_stale_resource_version_conflicts(registry):
    nodes = rt(registry, "nodes")
    node = await registry.create(nodes, "", {"metadata": {"name": "n1"}})
    node["metadata"]["labels"] = {"a": "1"}
    updated = await registry.update(nodes, "", "n1", node)
    assert updated["metadata"]["labels"] == {"a": "1"}
    node["metadata"]["labels"] = {"a": "2"}  # still carries the old resourceVersion
    with pytest.raises(errors.APIError) as caught:
        await registry.update(nodes, "", "n1", node)
    assert (caught.value.code, caught.value.reason) == (409, "Conflict")


async def test_main_resource_cannot_write_status_and_status_cannot_write_spec(registry):
    nodes = rt(registry, "nodes")
    node = await registry.create(
        nodes, "", {"metadata": {"name": "n1"}, "spec": {}, "status": {"phase": "old"}}
    )
    node["status"] = {"phase": "new"}
    node["spec"] = {"unschedulable": True}
    after_main = await registry.update(nodes, "", "n1", node)
    assert after_main["status"] == {"phase": "old"}
    assert after_main["spec"] == {"unschedulable": True}
    after_main["spec"] = {}
    after_main["status"] = {"phase": "new"}
    after_status = await registry.update(nodes, "", "n1", after_main, "status")
    assert after_status["status"] == {"phase": "new"}
    assert after_status["spec"] == {"unschedulable": True}


async def test_an_unchanged_update_keeps_the_resource_version(registry):
    nodes = rt(registry, "nodes")
    node = await registry.create(nodes, "", {"metadata": {"name": "n1"}})
    again = await registry.update(nodes, "", "n1", node)
    assert again["metadata"]["resourceVersion"] == node["metadata"]["resourceVersion"]


async def test_list_paginates_at_one_revision_and_filters(registry):
    nodes = rt(registry, "nodes")
    for i in range(5):
        labels = {"even": "true"} if i % 2 == 0 else {}
        await registry.create(nodes, "", {"metadata": {"name": f"n{i}", "labels": labels}})
    first = await registry.list(nodes, None, ListOptions(limit=2))
    assert [n["metadata"]["name"] for n in first.items] == ["n0", "n1"]
    assert first.continue_token
    second = await registry.list(
        nodes, None, ListOptions(limit=10, continue_token=first.continue_token)
    )
    assert [n["metadata"]["name"] for n in second.items] == ["n2", "n3", "n4"]
    assert second.resource_version == first.resource_version
    assert second.continue_token is None
    even = await registry.list(nodes, None, ListOptions(label_selector="even=true", limit=2))
    assert [n["metadata"]["name"] for n in even.items] == ["n0", "n2"]
    named = await registry.list(nodes, None, ListOptions(field_selector="metadata.name=n3"))
    assert [n["metadata"]["name"] for n in named.items] == ["n3"]


@pytest.mark.parametrize(
    "options",
    [
        ListOptions(field_selector="spec.nodeName=x"),
        ListOptions(label_selector="a in (b"),
        ListOptions(continue_token="not-a-token"),
    ],
)
async def test_bad_list_options_are_bad_requests(registry, options):
    with pytest.raises(errors.APIError) as caught:
        await registry.list(rt(registry, "nodes"), None, options)
    assert caught.value.code == 400


async def test_delete_with_preconditions(registry):
    nodes = rt(registry, "nodes")
    node = await registry.create(nodes, "", {"metadata": {"name": "n1"}})
    with pytest.raises(errors.APIError) as caught:
        await registry.delete(nodes, "", "n1", DeleteOptions(precondition_uid="other"))
    assert caught.value.code == 409
    deleted, gone = await registry.delete(
        nodes, "", "n1", DeleteOptions(precondition_uid=node["metadata"]["uid"])
    )
    assert gone and deleted["metadata"]["name"] == "n1"
    with pytest.raises(errors.APIError) as caught:
        await registry.get(nodes, "", "n1")
    assert caught.value.code == 404


async def test_watch_replays_then_follows_and_honours_selectors(registry):
    nodes = rt(registry, "nodes")
    await registry.create(nodes, "", {"metadata": {"name": "n1", "labels": {"pool": "a"}}})
    events = await registry.watch(nodes, None, ListOptions(label_selector="pool=a"))
    seen = []

    async def collect():
        async for event in events:
            seen.append((event.type, event.object["metadata"]["name"]))
            if len(seen) == 4:
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.01)
    await registry.create(nodes, "", {"metadata": {"name": "n2", "labels": {"pool": "b"}}})
    await registry.create(nodes, "", {"metadata": {"name": "n3", "labels": {"pool": "a"}}})
    await registry.mutate(
        nodes, "", "n2", lambda n: {**n, "metadata": {**n["metadata"], "labels": {"pool": "a"}}}
    )
    await registry.mutate(
        nodes, "", "n1", lambda n: {**n, "metadata": {**n["metadata"], "labels": {"pool": "c"}}}
    )
    await asyncio.wait_for(task, 2)
    assert seen == [("ADDED", "n1"), ("ADDED", "n3"), ("ADDED", "n2"), ("DELETED", "n1")]


async def test_watch_from_a_resource_version_skips_history(registry):
    nodes = rt(registry, "nodes")
    first = await registry.create(nodes, "", {"metadata": {"name": "n1"}})
    events = await registry.watch(
        nodes, None, ListOptions(resource_version=first["metadata"]["resourceVersion"])
    )
    await registry.create(nodes, "", {"metadata": {"name": "n2"}})
    event = await asyncio.wait_for(events.__anext__(), 2)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "n2")
    await events.aclose()


async def test_watch_rejects_a_bad_resource_version(registry):
    with pytest.raises(errors.APIError) as caught:
        await registry.watch(rt(registry, "nodes"), None, ListOptions(resource_version="abc"))
    assert caught.value.code == 400


async def test_bootstrap_runs_again_on_every_start(registry):
    from control_plane.apiserver.bootstrap import ensure_kubernetes_service

    await ensure_kubernetes_service(registry, "10.96.0.1", "172.18.0.2")
    await ensure_kubernetes_service(registry, "10.96.0.1", "172.18.0.9")
    endpoints = await registry.get(rt(registry, "endpoints"), "default", "kubernetes")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "172.18.0.9"}]
    await ensure_default_namespaces(registry)
    sa = await registry.get(rt(registry, "serviceaccounts"), "kube-system", "default")
    assert sa["metadata"]["name"] == "default"


async def test_watch_from_a_compacted_revision_is_gone(registry):
    nodes = rt(registry, "nodes")
    await registry.create(nodes, "", {"metadata": {"name": "n1"}})
    registry._storage.compacted = 100
    events = await registry.watch(nodes, None, ListOptions(resource_version="5"))
    event = await asyncio.wait_for(events.__anext__(), 2)
    assert event.type == "ERROR"
    assert (event.object["code"], event.object["reason"]) == (410, "Expired")


async def test_mutate_from_the_object_last_seen_writes_at_once_and_reads_again_when_stale(
    registry,
):
    leases = rt(registry, "leases")
    lease = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
    seen = await registry.create(leases, "kube-node-lease", lease)

    def renew(seconds):
        def change(current):
            current["spec"]["leaseDurationSeconds"] = seconds
            return current

        return change

    reads = 0
    real_get = registry.get

    async def counting_get(*args, **kwargs):
        nonlocal reads
        reads += 1
        return await real_get(*args, **kwargs)

    registry.get = counting_get
    renewed = await registry.mutate(leases, "kube-node-lease", "n1", renew(10), last_seen=seen)
    assert reads == 0 and renewed["spec"]["leaseDurationSeconds"] == 10
    # seen is now out of date: the write conflicts, the lease is read again, nothing is lost.
    again = await registry.mutate(leases, "kube-node-lease", "n1", renew(20), last_seen=seen)
    assert reads == 1 and again["spec"]["leaseDurationSeconds"] == 20
    assert int(again["metadata"]["resourceVersion"]) > int(renewed["metadata"]["resourceVersion"])
