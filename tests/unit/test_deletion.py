"""Deletion as kube-apiserver does it: finalizers, propagation, grace periods, namespaces."""

from __future__ import annotations

import pytest

from control_plane.apiserver import errors
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import DeleteOptions, Registry
from tests.unit.fakes import MemoryStorage


@pytest.fixture
async def registry():
    reg = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(reg)
    return reg


async def cm(registry, name="c", **metadata):
    return await registry.create(
        registry.kinds.get("configmaps"), "default", {"metadata": {"name": name, **metadata}}
    )


async def test_finalizers_hold_the_object_until_removed(registry):
    configmaps = registry.kinds.get("configmaps")
    await cm(registry, finalizers=["example.com/hold"])
    held, gone = await registry.delete(configmaps, "default", "c")
    assert not gone and held["metadata"]["deletionTimestamp"]
    with pytest.raises(errors.APIError) as caught:  # no new finalizers while deleting
        await registry.mutate(
            configmaps,
            "default",
            "c",
            lambda o: {
                **o,
                "metadata": {**o["metadata"], "finalizers": ["example.com/hold", "x.io/y"]},
            },
        )
    assert caught.value.code == 422
    await registry.mutate(
        configmaps, "default", "c", lambda o: {**o, "metadata": {**o["metadata"], "finalizers": []}}
    )
    assert await registry.find(configmaps, "default", "c") is None


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")]
)
async def test_propagation_policies_add_their_finalizer(registry, policy, finalizer):
    configmaps = registry.kinds.get("configmaps")
    await cm(registry)
    held, gone = await registry.delete(
        configmaps, "default", "c", DeleteOptions(propagation_policy=policy)
    )
    assert not gone and held["metadata"]["finalizers"] == [finalizer]


async def test_bound_pods_terminate_gracefully_unbound_go_at_once(registry):
    pods = registry.kinds.get("pods")
    body = {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await registry.create(pods, "default", {"metadata": {"name": "free"}, **body})
    _, gone = await registry.delete(pods, "default", "free")
    assert gone
    await registry.create(
        pods, "default", {"metadata": {"name": "bound"}, "spec": {**body["spec"], "nodeName": "n1"}}
    )
    held, gone = await registry.delete(pods, "default", "bound")
    assert not gone and held["metadata"]["deletionGracePeriodSeconds"] == 30
    _, gone = await registry.delete(pods, "default", "bound", DeleteOptions(grace_period_seconds=0))
    assert gone


async def test_dry_run_delete_and_create_store_nothing(registry):
    configmaps = registry.kinds.get("configmaps")
    await registry.create(configmaps, "default", {"metadata": {"name": "d"}}, dry_run=True)
    assert await registry.find(configmaps, "default", "d") is None
    await cm(registry)
    await registry.delete(configmaps, "default", "c", DeleteOptions(dry_run=True))
    assert await registry.find(configmaps, "default", "c") is not None


async def test_namespace_deletion_waits_for_its_finalizer(registry):
    namespaces = registry.kinds.get("namespaces")
    await registry.create(namespaces, "", {"metadata": {"name": "team"}})
    held, gone = await registry.delete(namespaces, "", "team")
    assert not gone and held["status"]["phase"] == "Terminating"
    with pytest.raises(errors.APIError) as caught:
        await registry.create(
            registry.kinds.get("configmaps"), "team", {"metadata": {"name": "late"}}
        )
    assert caught.value.code == 403 and "being terminated" in caught.value.message
    await registry.mutate(
        namespaces, "", "team", lambda ns: {**ns, "spec": {"finalizers": []}}, "finalize"
    )
    assert await registry.find(namespaces, "", "team") is None


async def test_bad_propagation_policy(registry):
    await cm(registry)
    with pytest.raises(errors.APIError) as caught:
        await registry.delete(
            registry.kinds.get("configmaps"),
            "default",
            "c",
            DeleteOptions(propagation_policy="Sideways"),
        )
    assert caught.value.code == 422


class RacingStorage(MemoryStorage):
    """Someone else writes the object just before each of the first `races` deletes or
    updates (a scheduler binding a pod the client is deleting)."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    async def _race(self, key: str) -> None:
        if self.races > 0:
            self.races -= 1
            current = await super().get(key)
            current["metadata"].setdefault("labels", {})["raced"] = str(self.races)
            await super().update(key, current, expected_revision=int(
                current["metadata"]["resourceVersion"]))  # fmt: skip

    async def delete(self, key, *, expected_revision=None):
        await self._race(key)
        return await super().delete(key, expected_revision=expected_revision)

    async def update(self, key, value, *, expected_revision):
        await self._race(key)
        return await super().update(key, value, expected_revision=expected_revision)


async def test_a_delete_that_races_another_write_is_tried_again_unless_preconditioned():
    storage = RacingStorage(races=0)
    registry = Registry(storage, builtin_kinds())
    await ensure_default_namespaces(registry)
    configmaps = registry.kinds.get("configmaps")
    made = await cm(registry, "a")
    await cm(registry, "b", finalizers=["example.com/hold"])
    storage.races = 2
    _, gone = await registry.delete(configmaps, "default", "a")
    assert gone and storage.races == 0
    storage.races = 1
    held, gone = await registry.delete(configmaps, "default", "b")  # an update, retried too
    assert not gone and held["metadata"]["deletionTimestamp"]
    made = await cm(registry, "c")
    storage.races = 1
    with pytest.raises(errors.APIError) as caught:  # the client said which version it meant
        await registry.delete(configmaps, "default", "c", DeleteOptions(
            precondition_uid=made["metadata"]["uid"]))  # fmt: skip
    assert caught.value.reason == "Conflict"
