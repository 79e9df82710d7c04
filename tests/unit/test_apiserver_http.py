"""The apiserver's HTTP surface as kubectl sees it, over an in-memory store."""

from __future__ import annotations

import json

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from control_plane.apiserver.app import build_app
from control_plane.apiserver.authentication.user import ANONYMOUS, User
from control_plane.apiserver.authentication.x509 import user_from_peercert
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.metrics_api import MetricsAPI
from control_plane.apiserver.node_addresses import NodeAddressResolver
from control_plane.apiserver.registry import ListOptions, Registry
from ku7s.rpc import openapi_v2_pb2
from tests.unit.fakes import ADMIN, MemoryStorage, always

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    app = build_app(registry, "127.0.0.1:6443", authenticator=always(ADMIN), bookmark_interval=0.2)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def anonymous():
    registry = Registry(MemoryStorage(), builtin_kinds())
    app = build_app(registry, "127.0.0.1:6443", authenticator=always(ANONYMOUS))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_discovery_documents(client):
    api = await (await client.get("/api?timeout=32s")).json()
    assert api["versions"] == ["v1"] and api["serverAddressByClientCIDRs"]
    apis = await (await client.get("/apis")).json()
    names = [g["name"] for g in apis["groups"]]
    assert names == [
        "apps",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "networking.k8s.io",
        "policy",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "metrics.k8s.io",
        "rbac.authorization.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "apiregistration.k8s.io",
    ]
    for group in apis["groups"]:
        assert group["preferredVersion"] == group["versions"][0]
    core = await (await client.get("/api/v1")).json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["nodes"]["shortNames"] == ["no"] and not by_name["nodes"]["namespaced"]
    assert by_name["namespaces"]["shortNames"] == ["ns"]
    assert "nodes/status" in by_name and by_name["nodes"]["singularName"] == "node"
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["pods/binding"]["verbs"] == ["create"]
    apps = await (await client.get("/apis/apps/v1")).json()
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    leases = await (await client.get("/apis/coordination.k8s.io/v1")).json()
    assert leases["groupVersion"] == "coordination.k8s.io/v1"
    assert leases["resources"][0]["namespaced"] is True


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
async def test_aggregated_discovery(client, version):
    accept = (
        f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList,"
        "application/json"
    )
    response = await client.get("/apis", headers={"Accept": accept})
    assert response.headers["Content-Type"].startswith(
        f"application/json;g=apidiscovery.k8s.io;v={version}"
    )
    body = await response.json()
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    apps = next(i for i in body["items"] if i["metadata"]["name"] == "apps")
    deployments = next(
        r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    assert deployments["scope"] == "Namespaced" and deployments["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deployments["subresources"]} == {"status", "scale"}
    core = await (await client.get("/api", headers={"Accept": accept})).json()
    assert core["items"][0]["metadata"]["name"] == ""
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["categories"] == ["all"]


async def test_version_and_openapi(client):
    version = await (await client.get("/version")).json()
    assert (version["major"], version["minor"]) == ("1", "33")
    assert (await client.get("/version/")).status == 200


async def test_openapi_v2_as_json_and_as_client_gos_protobuf(client):
    swagger = await (await client.get("/openapi/v2")).json()
    pod = swagger["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"] == {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}
    containers = swagger["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    patch = swagger["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    body = {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}
    assert {"name": "body", "in": "body", "required": True, "schema": body} in patch["parameters"]
    answer = await client.get("/openapi/v2", headers={
        "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})  # fmt: skip
    assert answer.content_type == "application/octet-stream"
    document = openapi_v2_pb2.Document.FromString(await answer.read())
    assert document.swagger == "2.0"
    named = {d.name: d.value for d in document.definitions.additional_properties}
    deployment = named["io.k8s.api.apps.v1.Deployment"]
    extensions = {e.name: yaml.safe_load(e.value.yaml) for e in deployment.vendor_extension}
    assert extensions["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]  # fmt: skip
    fields = {p.name: p.value for p in deployment.properties.additional_properties}
    assert fields["spec"]._ref == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"


async def test_unknown_paths_get_a_status(client):
    for path in ("/api/v1/widgets", "/apis/nope/v1", "/apis/nope/v1/things", "/nothing"):
        response = await client.get(path)
        body = await response.json()
        assert response.status == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound"


async def test_namespace_table_for_kubectl(client):
    response = await client.get("/api/v1/namespaces?limit=500", headers={"Accept": TABLE})
    table = await response.json()
    assert table["kind"] == "Table" and table["metadata"]["resourceVersion"]
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["cells"][:2] == ["default", "Active"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_crud_round_trip_with_statuses(client):
    created = await client.post("/api/v1/nodes", json={"metadata": {"name": "n1"}})
    assert created.status == 201
    again = await client.post("/api/v1/nodes", json={"metadata": {"name": "n1"}})
    assert again.status == 409 and (await again.json())["reason"] == "AlreadyExists"
    patch = await client.patch(
        "/api/v1/nodes/n1",
        data=json.dumps({"metadata": {"labels": {"a": "b"}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patch.status == 200 and (await patch.json())["metadata"]["labels"] == {"a": "b"}
    apply = await client.patch(
        "/api/v1/nodes/n1",
        data="{}",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert apply.status == 422 and "fieldManager: Required value" in (await apply.json())["message"]
    bad = await client.post(
        "/api/v1/nodes", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400 and (await bad.json())["kind"] == "Status"
    deleted = await client.delete("/api/v1/nodes/n1")
    assert deleted.status == 200
    assert (await deleted.json())["status"] == "Success"
    await client.post("/api/v1/namespaces", json={"metadata": {"name": "ns1"}})
    service = {"metadata": {"name": "s1"}, "spec": {"ports": [{"port": 80}]}}
    await client.post("/api/v1/namespaces/ns1/services", json=service)
    deleted = await client.delete("/api/v1/namespaces/ns1/services/s1")
    assert deleted.status == 200  # services answer with the deleted object, as upstream's
    assert (await deleted.json())["metadata"]["name"] == "s1"
    gone = await client.get("/api/v1/nodes/n1")
    assert gone.status == 404
    assert (await gone.json())["message"] == 'nodes "n1" not found'


async def test_watch_streams_json_lines(client):
    await client.post("/api/v1/nodes", json={"metadata": {"name": "n1"}})
    response = await client.get("/api/v1/nodes?watch=true&timeoutSeconds=1")
    assert response.status == 200
    line = await response.content.readline()
    event = json.loads(line)
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "n1"


async def test_health_endpoints(client):
    for path in ("/healthz", "/livez", "/readyz"):
        response = await client.get(path)
        assert (response.status, await response.text()) == (200, "ok")
    verbose = await client.get("/readyz?verbose")
    assert "[+]etcd ok" in await verbose.text()


async def test_no_credentials_means_401_except_health(anonymous):
    response = await anonymous.get("/api/v1/nodes")
    body = await response.json()
    assert response.status == 401 and body["reason"] == "Unauthorized"
    assert (await anonymous.get("/readyz")).status == 200
    assert (await anonymous.get("/version")).status == 200


def test_user_is_read_from_the_certificate_subject():
    peer = {
        "subject": ((("organizationName", "system:nodes"),), (("commonName", "system:node:w1"),))
    }
    user = user_from_peercert(peer)
    assert user == User("system:node:w1", ("system:nodes", "system:authenticated"))
    assert user_from_peercert(None) is None
    assert user_from_peercert({"subject": ()}) is None


DEPLOY = {
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


async def test_scale_subresource(client):
    await client.post("/apis/apps/v1/namespaces/default/deployments", json=DEPLOY)
    scale = await (
        await client.get("/apis/apps/v1/namespaces/default/deployments/web/scale")
    ).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    response = await client.patch(
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        data=json.dumps({"spec": {"replicas": 5}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (await response.json())["spec"]["replicas"] == 5
    deployment = await (await client.get("/apis/apps/v1/namespaces/default/deployments/web")).json()
    assert deployment["spec"]["replicas"] == 5
    bad = await client.put(
        "/apis/apps/v1/namespaces/default/deployments/web/scale", json={"spec": {"replicas": -1}}
    )
    assert bad.status == 422


async def test_binding_assigns_a_node_once(client):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    await client.post("/api/v1/namespaces/default/pods", json=pod)
    waiting = await client.get("/api/v1/namespaces/default/pods/p/log")
    assert waiting.status == 400 and "waiting to start" in (await waiting.json())["message"]
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    first = await client.post("/api/v1/namespaces/default/pods/p/binding", json=binding)
    assert first.status == 201
    bound = await (await client.get("/api/v1/namespaces/default/pods/p")).json()
    assert bound["spec"]["nodeName"] == "n1"
    assert bound["status"]["conditions"][0]["type"] == "PodScheduled"
    again = await client.post("/api/v1/namespaces/default/pods/p/binding", json=binding)
    assert again.status == 409 and "already assigned" in (await again.json())["message"]
    logs = await client.get("/api/v1/namespaces/default/pods/p/log")  # no kubelet certificate
    assert logs.status == 503 and (await logs.json())["reason"] == "ServiceUnavailable"


async def test_dry_run_and_field_validation(client):
    dry = await client.post(
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        json={"metadata": {"name": "dry"}, "data": {"a": "1"}},
    )
    assert dry.status == 201
    assert (await client.get("/api/v1/namespaces/default/configmaps/dry")).status == 404
    bad_dry = await client.post(
        "/api/v1/namespaces/default/configmaps?dryRun=Some", json={"metadata": {"name": "x"}}
    )
    assert bad_dry.status == 400
    body = {"metadata": {"name": "w"}, "data": {"a": "1"}, "bogus": 1}
    strict = await client.post(
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", json=body
    )
    assert strict.status == 400
    assert (await strict.json())["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogus"'
    )
    warned = await client.post("/api/v1/namespaces/default/configmaps", json=body)
    assert warned.status == 201 and 'unknown field \\"bogus\\"' in warned.headers["Warning"]
    assert "bogus" not in await warned.json()
    wrong = await client.post(
        "/api/v1/namespaces/default/configmaps",
        json={"metadata": {"name": "t"}, "data": ["not", "a", "map"]},
    )
    assert wrong.status == 400 and "cannot unmarshal array" in (await wrong.json())["message"]


async def test_kind_and_version_must_match_the_url(client):
    wrong = await client.post(
        "/api/v1/namespaces/default/configmaps",
        json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}},
    )
    assert (
        wrong.status == 400
        and "does not match the expected kind" in (await wrong.json())["message"]
    )


async def test_bodies_over_three_mebibytes_are_refused(client):
    huge = {"metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    response = await client.post("/api/v1/namespaces/default/configmaps", json=huge)
    assert response.status == 413 and (await response.json())["kind"] == "Status"


async def test_protobuf_only_accept_is_not_acceptable(client):
    response = await client.get(
        "/api/v1/namespaces", headers={"Accept": "application/vnd.kubernetes.protobuf"}
    )
    assert response.status == 406


async def test_delete_collection_by_label(client):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        await client.post(
            "/api/v1/namespaces/default/configmaps",
            json={"metadata": {"name": name, "labels": {"team": team}}},
        )
    response = await client.delete("/api/v1/namespaces/default/configmaps?labelSelector=team%3Dx")
    assert response.status == 200
    left = await (await client.get("/api/v1/namespaces/default/configmaps")).json()
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


async def test_watch_sends_bookmarks_when_asked(client):
    response = await client.get(
        "/api/v1/namespaces?watch=1&allowWatchBookmarks=true&resourceVersion=1&timeoutSeconds=1"
    )
    lines = [json.loads(line) for line in (await response.read()).splitlines() if line]
    assert any(e["type"] == "BOOKMARK" for e in lines)
    bookmark = next(e for e in lines if e["type"] == "BOOKMARK")
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) > 0


async def test_metrics_count_requests_by_verb_resource_scope_and_code(client, anonymous):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert (await client.post("/api/v1/namespaces/default/pods", json=pod)).status == 201
    await client.get("/api/v1/namespaces/default/pods")
    await client.get("/api/v1/namespaces/default/pods/p")
    await client.get("/api/v1/namespaces/default/pods/missing")
    await client.get("/apis/apps/v1/deployments")
    text = await (await client.get("/metrics")).text()
    samples = [
        sample for family in text_string_to_metric_families(text) for sample in family.samples
    ]

    def requests(verb: str, resource: str, scope: str, code: str, group: str = "") -> float:
        wanted = {"verb": verb, "resource": resource, "scope": scope, "code": code, "group": group}
        return sum(
            s.value
            for s in samples
            if s.name == "apiserver_request_total"
            and all(s.labels.get(k) == v for k, v in wanted.items())
            and s.labels["component"] == "apiserver"
        )

    assert requests("CREATE", "pods", "namespace", "201") == 1
    assert requests("LIST", "pods", "namespace", "200") == 1
    assert requests("GET", "pods", "resource", "200") == 1
    assert requests("GET", "pods", "resource", "404") == 1
    assert requests("LIST", "deployments", "cluster", "200", group="apps") == 1
    buckets = {
        s.labels["le"] for s in samples if s.name == "apiserver_request_duration_seconds_bucket"
    }
    assert {"0.005", "60.0", "+Inf"} <= buckets and len(buckets) == 24  # upstream's
    assert 'apiserver_current_inflight_requests{request_kind="mutating"} 0.0' in text
    # Behind the API's credentials, as upstream.
    assert (await anonymous.get("/metrics")).status == 401


def resource_text(stamp_ms: int, node_cpu: float, nginx_cpu: float) -> str:
    return (
        f"node_cpu_usage_seconds_total {node_cpu} {stamp_ms}\n"
        f"node_memory_working_set_bytes 2097152 {stamp_ms}\n"
        'container_cpu_usage_seconds_total{container="nginx",namespace="default",pod="web"} '
        f"{nginx_cpu} {stamp_ms}\n"
        'container_memory_working_set_bytes{container="nginx",namespace="default",pod="web"} '
        f"1048576 {stamp_ms}\n"
    )


async def test_metrics_api_rates_cpu_between_two_readings_for_kubectl_top():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    nodes, pods = registry.kinds.get("nodes"), registry.kinds.get("pods")
    await registry.create(nodes, "", {"metadata": {"name": "w1", "labels": {"zone": "a"}}})
    pod = {
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": "w1", "containers": [{"name": "nginx", "image": "nginx"}]},
    }
    await registry.create(pods, "default", pod)
    stored = await registry.get(pods, "default", "web")
    await registry.update(
        pods, "default", "web", {**stored, "status": {"phase": "Running"}}, subresource="status"
    )
    readings = iter(
        [
            resource_text(1_000_000, 10.0, 1.0),
            resource_text(1_002_000, 13.0, 2.0),  # 2 s later: node 1.5 cores, nginx 0.5
            resource_text(1_004_000, 14.0, 2.5),
        ]
    )

    async def fetch(node: str) -> str:
        assert node == "w1"
        return next(readings)

    now = [100.0]
    api = MetricsAPI(registry, fetch, clock=lambda: now[0], second_reading_after=0)
    [node] = await api.node_metrics(ListOptions())
    assert node["kind"] == "NodeMetrics" and node["metadata"]["labels"] == {"zone": "a"}
    assert node["usage"] == {"cpu": "1500000000n", "memory": "2048Ki"}
    assert node["window"] == "2.000s"
    # Asked again at once: the same readings answer, the kubelet is not read again.
    [again] = await api.node_metrics(ListOptions())
    assert again["usage"] == node["usage"]
    # Later, the next answer pairs a fresh reading with the last one kept.
    now[0] += 2
    [web] = await api.pod_metrics("default", ListOptions(label_selector="app=web"))
    assert web["containers"] == [
        {"name": "nginx", "usage": {"cpu": "250000000n", "memory": "1024Ki"}}
    ]
    assert await api.pod_metrics("default", ListOptions(label_selector="app=other")) == []


async def test_kubelets_are_reached_at_their_nodes_internal_ip():
    registry = Registry(MemoryStorage(), builtin_kinds())
    nodes = registry.kinds.get("nodes")
    addresses = [
        {"type": "InternalIP", "address": "172.30.0.9"},
        {"type": "Hostname", "address": "vm"},
    ]
    await registry.create(
        nodes, "", {"metadata": {"name": "vm"}, "status": {"addresses": addresses}}
    )

    class Fallback:
        async def resolve(self, host, port=0, family=0):
            return [{"hostname": host, "host": "10.0.0.1", "port": port}]

        async def close(self) -> None:
            pass

    resolver = NodeAddressResolver(registry, Fallback())  # type: ignore[arg-type]
    [found] = await resolver.resolve("vm", 10250)
    assert (found["host"], found["port"], found["hostname"]) == ("172.30.0.9", 10250, "vm")
    [other] = await resolver.resolve("not-a-node", 10250)
    assert other["host"] == "10.0.0.1"  # Docker's DNS, as before
