"""Conversion webhooks as an operator with two versions meets them: objects written in one
version are kept in the storage version and read in any served version through the
definition's webhook (a real HTTPS server), a list in one review, and a webhook that fails
or answers wrongly fails the request with a 500 naming the kind."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.webhooks.client import WebhookClient
from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.custom_resources.registrar import CustomResourceRegistrar
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import MemoryStorage, always_admin
from tests.unit.https_server import https_server

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
V1 = "/apis/example.com/v1/namespaces/default/widgets"
V2 = "/apis/example.com/v2/namespaces/default/widgets"


def crd(url: str, bundle: str) -> dict:
    def version(name: str, spec: dict, storage: bool) -> dict:
        schema = {"type": "object", "properties": {
            "spec": {"type": "object", "properties": spec}}}  # fmt: skip
        return {"name": name, "served": True, "storage": storage,
                "schema": {"openAPIV3Schema": schema}}  # fmt: skip

    return {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [version("v1", {"size": {"type": "integer"}}, True),
                         version("v2", {"length": {"type": "string"}}, False)],
            "conversion": {"strategy": "Webhook", "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"url": url, "caBundle": bundle}}},
        },
    }  # fmt: skip


class Converter:
    """v1 spec.size: 3  <->  v2 spec.length: "3cm"; `mode` makes it misbehave."""

    def __init__(self) -> None:
        self.reviews: list[dict] = []
        self.mode = "ok"

    async def convert(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        wanted = review["request"]["desiredAPIVersion"]
        converted = [self._one(copy.deepcopy(o), wanted) for o in review["request"]["objects"]]
        result = {"status": "Success"}
        if self.mode == "failure":
            result = {"status": "Failure", "message": "cannot convert widgets today"}
        if self.mode == "garbage":
            return web.Response(text="no")
        response = {"uid": review["request"]["uid"], "convertedObjects": converted,
                    "result": result}  # fmt: skip
        return web.json_response({"apiVersion": "apiextensions.k8s.io/v1",
                                  "kind": "ConversionReview", "response": response})  # fmt: skip

    def _one(self, obj: dict, wanted: str) -> dict:
        spec = obj.get("spec") or {}
        if wanted.endswith("/v2") and "size" in spec:
            spec["length"] = f"{spec.pop('size')}cm"
        elif wanted.endswith("/v1") and "length" in spec:
            spec["size"] = int(spec.pop("length").removesuffix("cm"))
        obj["apiVersion"] = "example.com/v0" if self.mode == "wrong-version" else wanted
        obj["metadata"]["name"] = "renamed"  # not the converter's to change: restored
        obj["metadata"].setdefault("labels", {})["converted"] = "yes"
        return obj


@pytest.fixture
async def setup():
    hook = Converter()
    async with https_server({"/convert": hook.convert}) as (base, bundle):
        storage = MemoryStorage()
        registry = Registry(storage, builtin_kinds())
        await ensure_default_namespaces(registry)
        webhooks = WebhookClient(registry)
        registrar = CustomResourceRegistrar(registry, webhooks)
        stop = asyncio.Event()
        task = asyncio.create_task(registrar.run(stop))
        await registrar.wait_synced()
        app = build_app(registry, "127.0.0.1:6443", authenticator=always_admin)
        async with TestClient(TestServer(app)) as client:
            made = await client.post(CRDS, json=crd(f"{base}/convert", bundle))
            assert made.status == 201, await made.text()
            async with asyncio.timeout(3):
                while (await client.get(V2)).status != 200:
                    await asyncio.sleep(0.02)
            yield client, hook, storage
        stop.set()
        await task
        await webhooks.close()


async def test_an_object_written_in_one_version_is_read_in_another(setup):
    client, hook, storage = setup
    created = await client.post(V2, json={"metadata": {"name": "w"}, "spec": {"length": "3cm"}})
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["apiVersion"] == "example.com/v2" and body["spec"] == {"length": "3cm"}
    assert body["metadata"]["name"] == "w" and body["metadata"]["labels"] == {"converted": "yes"}
    stored = await storage.get("/registry/example.com/widgets/default/w")
    assert stored["apiVersion"] == "example.com/v1" and stored["spec"] == {"size": 3}
    as_v1 = await (await client.get(f"{V1}/w")).json()
    assert as_v1["apiVersion"] == "example.com/v1" and as_v1["spec"] == {"size": 3}
    hook.reviews.clear()
    await client.post(V1, json={"metadata": {"name": "x"}, "spec": {"size": 5}})
    assert hook.reviews == []  # the storage version needs no webhook
    listed = await (await client.get(V2)).json()
    assert [i["spec"] for i in listed["items"]] == [{"length": "3cm"}, {"length": "5cm"}]
    assert len(hook.reviews) == 1 and len(hook.reviews[0]["request"]["objects"]) == 2


async def test_a_watch_in_another_version_sees_converted_objects(setup):
    client, _, _ = setup
    async with client.get(V2, params={"watch": "true", "resourceVersion": "1"}) as watching:
        await client.post(V1, json={"metadata": {"name": "w"}, "spec": {"size": 7}})
        line = await asyncio.wait_for(watching.content.readline(), 3)
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["apiVersion"] == "example.com/v2"
    assert event["object"]["spec"] == {"length": "7cm"}


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("failure", "conversion webhook for example.com/v1, Kind=Widget failed: "
                    "cannot convert widgets today"),
        ("garbage", "conversion webhook for example.com/v1, Kind=Widget failed: Post "),
        ("wrong-version", 'conversion webhook for example.com/v1, Kind=Widget failed: '
                          'invalid apiVersion "example.com/v0", expected "example.com/v2"'),
    ],
)  # fmt: skip
async def test_a_failing_webhook_fails_the_request_naming_the_kind(setup, mode, message):
    client, hook, _ = setup
    await client.post(V1, json={"metadata": {"name": "w"}, "spec": {"size": 1}})
    hook.mode = mode
    answer = await client.get(f"{V2}/w")
    body = await answer.json()
    assert answer.status == 500 and body["reason"] == "InternalError"
    # as kubectl shows it for cert-manager's webhook when it is down, for instance
    assert body["message"].startswith(f"Internal error occurred: {message}"), body["message"]
    assert (await client.get(f"{V1}/w")).status == 200  # the storage version still reads
