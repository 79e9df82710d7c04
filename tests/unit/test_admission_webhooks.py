"""Admission webhooks as an operator's users meet them: a real HTTPS webhook (checked
against the configuration's caBundle) that denies with its message, mutates with a JSON
patch, warns; rules, selectors and match conditions deciding who is asked; failurePolicy
deciding what an unreachable or garbage-answering webhook means."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.webhooks.client import WebhookClient
from control_plane.apiserver.admission.webhooks.plugin import WebhookAdmission
from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from ku7s.pki import CertificateAuthority
from tests.unit.fakes import MemoryStorage, always_admin
from tests.unit.https_server import https_server

VALIDATING = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
MUTATING = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


class Webhook:
    """A webhook server: denies config maps labelled deny, adds a label, answers garbage."""

    def __init__(self) -> None:
        self.reviews: list[dict] = []

    async def validate(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        obj = review["request"]["object"] or review["request"]["oldObject"]
        denied = (obj["metadata"].get("labels") or {}).get("deny") == "yes"
        response = {"uid": review["request"]["uid"], "allowed": not denied,
                    "warnings": ["checked by the test webhook"]}  # fmt: skip
        if denied:
            message = "config maps labelled deny are not allowed"
            response["status"] = {"code": 403, "reason": "Forbidden", "message": message}
        return web.json_response({"apiVersion": "admission.k8s.io/v1",
                                  "kind": "AdmissionReview", "response": response})  # fmt: skip

    async def mutate(self, request: web.Request) -> web.Response:
        review = await request.json()
        patch = [{"op": "add", "path": "/data/added-by-webhook", "value": "yes"}]
        response = {"uid": review["request"]["uid"], "allowed": True, "patchType": "JSONPatch",
                    "patch": base64.b64encode(json.dumps(patch).encode()).decode()}  # fmt: skip
        return web.json_response({"apiVersion": "admission.k8s.io/v1",
                                  "kind": "AdmissionReview", "response": response})  # fmt: skip

    async def count(self, request: web.Request) -> web.Response:
        """Counts its calls in a label, so a second call shows."""
        review = await request.json()
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        calls = int(labels.get("counted", "0")) + 1
        patch = [{"op": "add", "path": "/metadata/labels", "value": {**labels,
                  "counted": str(calls)}}]  # fmt: skip
        response = {"uid": review["request"]["uid"], "allowed": True, "patchType": "JSONPatch",
                    "patch": base64.b64encode(json.dumps(patch).encode()).decode()}  # fmt: skip
        return web.json_response({"apiVersion": "admission.k8s.io/v1",
                                  "kind": "AdmissionReview", "response": response})  # fmt: skip

    async def garbage(self, request: web.Request) -> web.Response:
        return web.Response(text="not json")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2.5)
        return web.Response(text="late")


@pytest.fixture
async def setup():
    hook = Webhook()
    routes = {"/validate": hook.validate, "/mutate": hook.mutate, "/count": hook.count,
              "/garbage": hook.garbage, "/slow": hook.slow}  # fmt: skip
    async with https_server(routes) as (base, bundle):
        registry = Registry(MemoryStorage(), builtin_kinds())
        await ensure_default_namespaces(registry)
        webhook_client = WebhookClient(registry)
        webhooks = WebhookAdmission(registry, webhook_client)
        stop = asyncio.Event()
        following = asyncio.create_task(webhooks.run(stop))
        await webhooks.wait_synced()
        registry.admission.append(webhooks)
        registry.validation.append(webhooks)
        app = build_app(registry, "127.0.0.1:6443", authenticator=always_admin)
        async with TestClient(TestServer(app)) as client:
            yield client, hook, base, bundle
        stop.set()
        await following
        await webhook_client.close()


def configuration(name: str, url: str, bundle: str, **webhook) -> dict:
    return {
        "metadata": {"name": name},
        "webhooks": [{
            "name": f"{name}.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": url, "caBundle": bundle},
            "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""],
                       "apiVersions": ["v1"], "resources": ["configmaps"]}],
            **webhook,
        }],
    }  # fmt: skip


async def settle() -> None:
    await asyncio.sleep(0.1)  # the plugin learns of configurations by watch


async def test_a_validating_webhook_denies_with_its_message_and_warns(setup):
    client, hook, base, bundle = setup
    made = await client.post(VALIDATING, json=configuration("deny", f"{base}/validate", bundle))
    assert made.status == 201, await made.text()
    await settle()
    labelled = {"metadata": {"name": "a", "labels": {"deny": "yes"}}}
    denied = await client.post(CONFIGMAPS, json=labelled)
    body = await denied.json()
    assert denied.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'admission webhook "deny.example.com" denied the request: config maps labelled deny '
        "are not allowed"
    )
    allowed = await client.post(CONFIGMAPS, json={"metadata": {"name": "b"}})
    assert allowed.status == 201
    assert "checked by the test webhook" in allowed.headers["Warning"]
    review = hook.reviews[-1]
    assert review["request"]["operation"] == "CREATE"
    assert review["request"]["userInfo"]["username"] == "kubernetes-admin"
    assert review["request"]["namespace"] == "default"
    assert (await client.delete(f"{CONFIGMAPS}/b")).status == 200
    assert hook.reviews[-1]["request"]["operation"] == "DELETE"


async def test_a_mutating_webhook_patches_before_validation(setup):
    client, _, base, bundle = setup
    await client.post(MUTATING, json=configuration("add", f"{base}/mutate", bundle))
    await settle()
    created = await (await client.post(CONFIGMAPS, json={"metadata": {"name": "m"},
                                                         "data": {"a": "b"}})).json()  # fmt: skip
    assert created["data"] == {"a": "b", "added-by-webhook": "yes"}


@pytest.mark.parametrize(("policy", "calls"), [("IfNeeded", "2"), ("Never", "1")])
async def test_a_webhook_is_asked_again_if_needed_after_a_later_one_changed_the_object(
    setup, policy, calls
):
    client, _, base, bundle = setup
    # configurations are asked in name order: "a-count" first, then "b-add" changes data
    await client.post(MUTATING, json=configuration("a-count", f"{base}/count", bundle,
                                                   reinvocationPolicy=policy))  # fmt: skip
    await client.post(MUTATING, json=configuration("b-add", f"{base}/mutate", bundle))
    await settle()
    created = await (await client.post(CONFIGMAPS, json={"metadata": {"name": "m"},
                                                         "data": {"a": "b"}})).json()  # fmt: skip
    assert created["data"] == {"a": "b", "added-by-webhook": "yes"}
    assert created["metadata"]["labels"] == {"counted": calls}


async def test_selectors_and_conditions_decide_who_is_asked(setup):
    client, hook, base, bundle = setup
    config = configuration(
        "picky", f"{base}/validate", bundle,
        objectSelector={"matchLabels": {"checked": "yes"}},
        matchConditions=[{"name": "not-skipped",
                          "expression": "!has(object.metadata.annotations)"}],
    )  # fmt: skip
    await client.post(VALIDATING, json=config)
    await settle()
    await client.post(CONFIGMAPS, json={"metadata": {"name": "unlabelled"}})
    await client.post(CONFIGMAPS, json={"metadata": {"name": "annotated", "labels": {
        "checked": "yes"}, "annotations": {"a": "b"}}})  # fmt: skip
    assert hook.reviews == []
    await client.post(CONFIGMAPS, json={"metadata": {"name": "labelled", "labels": {
        "checked": "yes"}}})  # fmt: skip
    assert [r["request"]["name"] for r in hook.reviews] == ["labelled"]


@pytest.mark.parametrize(
    ("path", "detail"),
    [("/garbage", "the answer is not JSON"), ("/slow", "context deadline exceeded")],
)
async def test_failure_policy_decides_about_a_broken_webhook(setup, path, detail):
    client, _, base, bundle = setup
    await client.post(VALIDATING, json=configuration("broken", f"{base}{path}", bundle,
                                                     timeoutSeconds=1))  # fmt: skip
    await settle()
    failed = await client.post(CONFIGMAPS, json={"metadata": {"name": "x"}})
    body = await failed.json()
    assert failed.status == 500 and body["reason"] == "InternalError"
    assert body["message"].startswith(
        'Internal error occurred: failed calling webhook "broken.example.com": failed to call '
        f'webhook: Post "{base}{path}?timeout=1s"'
    )
    assert detail in body["message"]
    ignoring = configuration("broken", f"{base}{path}", bundle, timeoutSeconds=1,
                             failurePolicy="Ignore")  # fmt: skip
    current = await (await client.get(f"{VALIDATING}/broken")).json()
    ignoring["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    assert (await client.put(f"{VALIDATING}/broken", json=ignoring)).status == 200
    await settle()
    assert (await client.post(CONFIGMAPS, json={"metadata": {"name": "y"}})).status == 201


async def test_an_unknown_ca_is_a_failed_call(setup):
    client, _, base, _ = setup
    other = base64.b64encode(CertificateAuthority.create("other").cert_pem).decode()
    await client.post(VALIDATING, json=configuration("untrusted", f"{base}/validate", other))
    await settle()
    failed = await client.post(CONFIGMAPS, json={"metadata": {"name": "x"}})
    assert failed.status == 500 and "certificate verify failed" in (await failed.json())["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "short.name"}, "should be a domain with at least three segments"),
        ({"sideEffects": "Some"}, 'webhooks[0].sideEffects: Unsupported value: "Some"'),
        ({"timeoutSeconds": 31}, "the timeout value must be between 1 and 30 seconds"),
        ({"reinvocationPolicy": "Always"}, 'reinvocationPolicy: Unsupported value: "Always"'),
        ({"clientConfig": {}}, "exactly one of url or service is required"),
        ({"clientConfig": {"url": "http://x.example.com"}}, "'https' is the only allowed"),
    ],
)
async def test_a_bad_configuration_is_422(setup, change, message):
    client, _, base, bundle = setup
    config = configuration("bad", f"{base}/validate", bundle)
    config["webhooks"][0].update(change)
    refused = await client.post(MUTATING, json=config)  # mutating ones have every field
    assert refused.status == 422 and message in (await refused.json())["message"]
