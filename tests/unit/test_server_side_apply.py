"""Server-side apply and managedFields over HTTP, as kubectl --server-side and controllers
meet them: ownership recorded for every write, conflicts named with their managers,
forcing, keyed lists merged between managers, removal of what a manager stops applying."""

from __future__ import annotations

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import MemoryStorage, always_admin

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    app = build_app(registry, "127.0.0.1:6443", authenticator=always_admin)
    async with TestClient(TestServer(app)) as c:
        yield c


def deployment(replicas: int | None = 2, containers=(("web", "nginx:1"),), labels=None) -> dict:
    spec: dict = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": n, "image": i} for n, i in containers]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    metadata: dict = {"name": "web"}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


async def apply(client: TestClient, body: dict, manager: str, force: bool = False):
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    return await client.patch(f"{DEPLOYMENTS}/web{query}", data=yaml.safe_dump(body),
                              headers=APPLY)  # fmt: skip


def managers(obj: dict) -> dict[str, str]:
    return {e["manager"]: e["operation"] for e in obj["metadata"].get("managedFields", [])}


async def test_apply_creates_then_conflicts_are_named_and_force_takes_the_field(client):
    created = await apply(client, deployment(labels={"team": "a"}), "alice")
    assert created.status == 201, await created.text()
    body = await created.json()
    assert managers(body) == {"alice": "Apply"}
    entry = body["metadata"]["managedFields"][0]
    assert entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "apps/v1"
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers['k:{"name":"web"}'] == {".": {}, "f:image": {}, "f:name": {}}

    bob = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 5}}  # fmt: skip
    refused = await apply(client, bob, "bob")
    status = await refused.json()
    assert refused.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "alice" using apps/v1: .spec.replicas'
    )
    assert status["details"]["causes"][0]["field"] == ".spec.replicas"
    same = await apply(client, {**bob, "spec": {"replicas": 2}}, "bob")  # same value: shared
    assert same.status == 200
    forced = await apply(client, bob, "bob", force=True)
    assert (await forced.json())["spec"]["replicas"] == 5
    # alice stops applying replicas and the label: bob's replicas stay, her label goes.
    again = await (await apply(client, deployment(replicas=None), "alice")).json()
    assert again["spec"]["replicas"] == 5 and "labels" not in again["metadata"]
    assert managers(again) == {"alice": "Apply", "bob": "Apply"}


async def test_keyed_lists_merge_between_managers_and_dropped_items_go(client):
    await apply(client, deployment(containers=(("web", "nginx:1"),)), "alice")
    sidecar = deployment(replicas=None, containers=(("log", "busybox"),))
    merged = await (await apply(client, sidecar, "bob")).json()
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "log"]
    dropped = deployment(replicas=None, containers=())
    dropped["spec"]["template"]["spec"]["containers"] = []
    after = await (await apply(client, sidecar | {"spec": dropped["spec"]}, "bob")).json()
    assert [c["name"] for c in after["spec"]["template"]["spec"]["containers"]] == ["web"]


async def test_updates_are_recorded_and_an_update_conflicts_with_a_later_apply(client):
    await apply(client, deployment(), "alice")
    patched = await client.patch(
        f"{DEPLOYMENTS}/web", json={"spec": {"replicas": 3}},
        headers={"Content-Type": "application/merge-patch+json", "User-Agent": "scaler/1.0"},
    )  # fmt: skip
    body = await patched.json()
    assert managers(body) == {"alice": "Apply", "scaler": "Update"}
    refused = await apply(client, deployment(replicas=2), "alice")
    assert refused.status == 409
    assert (
        'conflict with "scaler" using apps/v1: .spec.replicas' in (await refused.json())["message"]
    )


async def test_bad_apply_requests(client):
    missing = await client.patch(f"{DEPLOYMENTS}/web", data=yaml.safe_dump(deployment()),
                                 headers=APPLY)  # fmt: skip
    assert missing.status == 422
    wrong_name = await apply(client, {**deployment(), "metadata": {"name": "other"}}, "alice")
    assert (
        wrong_name.status == 400
        and "does not match the name on the URL" in (await wrong_name.json())["message"]
    )
    no_kind = await apply(client, {"metadata": {"name": "web"}}, "alice")
    assert no_kind.status == 400
    force_on_merge = await client.patch(
        f"{DEPLOYMENTS}/web?force=true", json={},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert force_on_merge.status == 422
