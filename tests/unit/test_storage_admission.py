"""Storage and ingress admission through the HTTP API: the default class is filled in,
claims carry their protection finalizer, and growing a claim needs a class that allows it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.claim_resize import ClaimResize
from control_plane.apiserver.admission.default_class import (
    DEFAULT_INGRESS_CLASS_PLUGIN,
    DEFAULT_STORAGE_CLASS_PLUGIN,
)
from control_plane.apiserver.admission.storage_protection import StorageProtection
from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_classes, ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import ADMIN, MemoryStorage, always

CLAIMS = "/api/v1/namespaces/default/persistentvolumeclaims"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    await ensure_default_classes(registry)
    registry.admission += [
        DEFAULT_STORAGE_CLASS_PLUGIN,
        StorageProtection(),
        ClaimResize(),
        DEFAULT_INGRESS_CLASS_PLUGIN,
    ]
    app = build_app(registry, "127.0.0.1:6443", authenticator=always(ADMIN))
    async with TestClient(TestServer(app)) as c:
        yield c


def claim(name: str, **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


async def test_a_claim_without_a_class_gets_the_default_and_its_finalizer(client):
    made = await (await client.post(CLAIMS, json=claim("data"))).json()
    assert made["spec"]["storageClassName"] == "standard"
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    empty = await (await client.post(CLAIMS, json=claim("none", storageClassName=""))).json()
    assert empty["spec"]["storageClassName"] == ""  # "" means no class, not the default
    ingress = {
        "metadata": {"name": "site"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }
    path = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    made = await (await client.post(path, json=ingress)).json()
    assert made["spec"]["ingressClassName"] == "ku7s"


async def test_growing_a_bound_claim_needs_a_class_that_allows_it(client):
    await client.post(CLAIMS, json=claim("data", volumeName="pv1"))
    await client.patch(
        f"{CLAIMS}/data/status",
        json={"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}},
        headers=MERGE,
    )
    grow = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    answer = await client.patch(f"{CLAIMS}/data", json=grow, headers=MERGE)
    assert answer.status == 403
    assert (
        "storageclass that provisions the pvc must support resize"
        in (await answer.json())["message"]
    )
    await client.patch(
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json={"allowVolumeExpansion": True},
        headers=MERGE,
    )
    assert (await client.patch(f"{CLAIMS}/data", json=grow, headers=MERGE)).status == 200
    shrink = {"spec": {"resources": {"requests": {"storage": "500Mi"}}}}
    answer = await client.patch(f"{CLAIMS}/data", json=shrink, headers=MERGE)
    assert answer.status == 422
    assert "can not be less than status.capacity" in (await answer.json())["message"]
