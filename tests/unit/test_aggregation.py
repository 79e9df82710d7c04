"""Aggregated APIs as metrics-server and other extension API servers meet them: an
APIService hands a group-version to a Service; the API server checks it (Available with
upstream's reasons), merges what it serves into discovery and proxies requests to it over
TLS with the front-proxy's client certificate and the user in X-Remote-* headers. The
built-in metrics.k8s.io is handed over the same way and taken back when the APIService
goes."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.aggregation.api_services import APIServices
from control_plane.apiserver.aggregation.front_proxy import FrontProxyCredentials
from control_plane.apiserver.aggregation.proxy import AggregationProxy
from control_plane.apiserver.app import build_app
from control_plane.apiserver.authentication.user import User
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from ku7s.pki import CertificateAuthority
from tests.unit.fakes import MemoryStorage
from tests.unit.https_server import https_server

USER = User("jane", ("developers", "system:authenticated"), extra={"scopes.example/x": ("a",)})
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


class Extension:
    """An extension API server: serves hellos in greet.example.com/v1 and metrics nodes,
    echoing who the front proxy said the user is."""

    async def discovery(self, request: web.Request) -> web.Response:
        group_version = request.match_info["group"] + "/" + request.match_info["version"]
        return web.json_response({"kind": "APIResourceList", "apiVersion": "v1",
                                  "groupVersion": group_version, "resources": [
            {"name": "hellos", "singularName": "hello", "namespaced": True, "kind": "Hello",
             "verbs": ["get", "list", "watch"], "shortNames": ["hi"]},
            {"name": "hellos/status", "singularName": "", "namespaced": True, "kind": "Hello",
             "verbs": ["get"]}]})  # fmt: skip

    async def anything(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peercert")  # type: ignore[union-attr]
        subject = dict(x[0] for x in peer["subject"])
        seen = {
            "path": request.path_qs,
            "user": request.headers.get("X-Remote-User"),
            "groups": request.headers.getall("X-Remote-Group", []),
            "extra": request.headers.get("X-Remote-Extra-scopes.example%2Fx"),
            "authorization": request.headers.get("Authorization"),
            "client": subject.get("commonName"),
        }
        if request.query.get("watch"):
            response = web.StreamResponse()
            response.content_type = "application/json"
            await response.prepare(request)
            for i in range(2):
                await response.write(json.dumps({"type": "ADDED", "i": i}).encode() + b"\n")
                await asyncio.sleep(0.05)
            return response
        return web.json_response(seen)


async def as_user(request) -> User:
    return USER


@pytest.fixture
async def setup(tmp_path):
    credentials = FrontProxyCredentials(tmp_path)
    extension = Extension()
    routes = {"/apis/{group}/{version}": extension.discovery,
              "/apis/{group}/{version}/{tail:.*}": extension.anything}  # fmt: skip
    async with https_server(routes, dns_names=("agg.default.svc",), method="GET",
                            client_ca_pem=credentials.ca_pem) as (base, bundle):  # fmt: skip
        port = int(base.rsplit(":", 1)[1])
        registry = Registry(MemoryStorage(), builtin_kinds())
        await ensure_default_namespaces(registry)
        api_services = APIServices(registry, credentials)
        stop = asyncio.Event()
        task = asyncio.create_task(api_services.run(stop))
        await api_services.wait_synced()
        proxy = AggregationProxy(api_services)
        app = build_app(registry, "127.0.0.1:6443", authenticator=as_user, aggregation=proxy)
        async with TestClient(TestServer(app)) as client:
            await client.post("/api/v1/namespaces/default/services", json={
                "metadata": {"name": "agg"}, "spec": {"ports": [{"port": 443}]}})  # fmt: skip
            await client.post("/api/v1/namespaces/default/endpoints", json={
                "metadata": {"name": "agg"}, "subsets": [{
                    "addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}]})  # fmt: skip
            yield client, bundle
        stop.set()
        await task
        await proxy.close()


def api_service(group: str, version: str, bundle: str, service: str = "agg") -> dict:
    return {"metadata": {"name": f"{version}.{group}"}, "spec": {
        "group": group, "version": version, "caBundle": bundle,
        "groupPriorityMinimum": 100, "versionPriority": 100,
        "service": {"namespace": "default", "name": service}}}  # fmt: skip


async def condition(client: TestClient, name: str, status: str, reason: str = "") -> dict:
    async with asyncio.timeout(5):
        while True:
            got = await (await client.get(f"{APISERVICES}/{name}")).json()
            found = [c for c in (got.get("status") or {}).get("conditions") or []
                     if c["type"] == "Available"]  # fmt: skip
            if found and found[0]["status"] == status and reason in ("", found[0]["reason"]):
                return found[0]
            await asyncio.sleep(0.05)


async def test_built_in_group_versions_are_local_api_services(setup):
    client, _ = setup
    local = await condition(client, "v1.apps", "True")
    assert local["reason"] == "Local"
    names = [a["metadata"]["name"] for a in (await (await client.get(APISERVICES)).json())["items"]]
    assert "v1." in names and "v1.apiregistration.k8s.io" in names


async def test_an_aggregated_api_is_checked_discovered_and_proxied(setup):
    client, bundle = setup
    made = await client.post(APISERVICES, json=api_service("greet.example.com", "v1", bundle))
    assert made.status == 201, await made.text()
    available = await condition(client, "v1.greet.example.com", "True")
    assert (available["reason"], available["message"]) == ("Passed", "all checks passed")

    groups = await (await client.get("/apis")).json()
    assert "greet.example.com" in [g["name"] for g in groups["groups"]]
    assert (await (await client.get("/apis/greet.example.com")).json())["versions"] == [
        {"groupVersion": "greet.example.com/v1", "version": "v1"}]  # fmt: skip
    merged = await (await client.get("/apis", headers={"Accept": AGGREGATED})).json()
    greet = next(i for i in merged["items"] if i["metadata"]["name"] == "greet.example.com")
    hellos = greet["versions"][0]["resources"][0]
    assert hellos["resource"] == "hellos" and hellos["shortNames"] == ["hi"]
    assert hellos["subresources"][0]["subresource"] == "status"

    answer = await client.get("/apis/greet.example.com/v1/namespaces/default/hellos?limit=5",
                              headers={"Authorization": "Bearer secret"})  # fmt: skip
    seen = await answer.json()
    assert seen == {
        "path": "/apis/greet.example.com/v1/namespaces/default/hellos?limit=5",
        "user": "jane", "groups": ["developers", "system:authenticated"], "extra": "a",
        "authorization": None, "client": "front-proxy-client",
    }  # fmt: skip
    watched = await client.get("/apis/greet.example.com/v1/hellos?watch=1")
    lines = [json.loads(line) for line in (await watched.text()).splitlines()]
    assert [e["i"] for e in lines] == [0, 1]


async def test_an_api_service_pointing_nowhere_is_unavailable_and_answers_503(setup):
    client, bundle = setup
    await client.post(APISERVICES, json=api_service("nowhere.example.com", "v1", bundle, "none"))
    unavailable = await condition(client, "v1.nowhere.example.com", "False")
    assert unavailable["reason"] == "ServiceNotFound"
    assert unavailable["message"] == 'service/none in "default" is not present'
    answer = await client.get("/apis/nowhere.example.com/v1/things")
    body = await answer.json()
    assert answer.status == 503 and body["reason"] == "ServiceUnavailable"
    assert body["message"] == "the server is currently unable to handle the request"
    listed = await (await client.get(APISERVICES, headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})).json()  # fmt: skip
    row = next(r for r in listed["rows"] if r["cells"][0] == "v1.nowhere.example.com")
    assert row["cells"][1:3] == ["default/none", "False (ServiceNotFound)"]


async def test_a_wrong_ca_fails_the_discovery_check(setup):
    client, _ = setup
    other = base64.b64encode(CertificateAuthority.create("other").cert_pem).decode()
    await client.post(APISERVICES, json=api_service("greet.example.com", "v1", other))
    failed = await condition(client, "v1.greet.example.com", "False")
    assert failed["reason"] == "FailedDiscoveryCheck"
    assert "certificate verify failed" in failed["message"]


async def test_metrics_are_handed_over_and_taken_back(setup):
    client, bundle = setup
    name = "v1beta1.metrics.k8s.io"
    local = await (await client.get(f"{APISERVICES}/{name}")).json()
    assert "service" not in local["spec"]  # served by ku7s itself until handed over
    handed = {**local, "spec": api_service("metrics.k8s.io", "v1beta1", bundle)["spec"]}
    assert (await client.put(f"{APISERVICES}/{name}", json=handed)).status == 200
    await condition(client, name, "True", "Passed")
    answer = await (await client.get("/apis/metrics.k8s.io/v1beta1/nodes")).json()
    assert answer["client"] == "front-proxy-client"  # the extension server answered
    await client.delete(f"{APISERVICES}/v1beta1.metrics.k8s.io")
    await asyncio.sleep(0.1)
    resources = await (await client.get("/apis/metrics.k8s.io/v1beta1")).json()
    assert "nodes" in [r["name"] for r in resources["resources"]]  # ku7s' own again


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metadata": {"name": "v2.greet.example.com"}}, 'must be `spec.version+"."+spec.group`'),
        ({"spec": {"insecureSkipTLSVerify": True}}, "may not be true if caBundle is present"),
        ({"spec": {"versionPriority": 0}}, "spec.versionPriority: Invalid value: 0"),
    ],
)
async def test_a_bad_api_service_is_422(setup, change, message):
    client, bundle = setup
    body = api_service("greet.example.com", "v1", bundle)
    for part, values in change.items():
        body[part].update(values)
    refused = await client.post(APISERVICES, json=body)
    assert refused.status == 422 and message in (await refused.json())["message"]
