"""Custom resources over HTTP as kubectl and operators meet them: a definition checked and
established, its kind served at once, objects pruned, defaulted and validated by the
schema with upstream's messages, printer columns, status and scale, and clean-up when the
definition goes."""

from __future__ import annotations

import asyncio
import copy

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.custom_resources.registrar import CustomResourceRegistrar
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import MemoryStorage, always_admin

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "replicas": {"type": "integer"},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "phase": {"type": "string"}},
        },
    },
}
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"],
                  "categories": ["all"]},
        "versions": [
            {
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": SCHEMA},
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas",
                              "statusReplicasPath": ".status.replicas"},
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                ],
            },
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": SCHEMA}},
        ],
    },
}  # fmt: skip


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    registrar = CustomResourceRegistrar(registry)
    stop = asyncio.Event()
    task = asyncio.create_task(registrar.run(stop))
    await registrar.wait_synced()
    app = build_app(registry, "127.0.0.1:6443", authenticator=always_admin)
    async with TestClient(TestServer(app)) as c:
        yield c
    stop.set()
    await task


async def eventually(check, timeout: float = 3.0):
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.02)


async def established(client: TestClient, name: str = "widgets.example.com") -> dict:
    async def check():
        crd = await (await client.get(f"{CRDS}/{name}")).json()
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        return crd if conditions.get("Established") == "True" else None

    return await eventually(check)


async def test_a_definition_is_served_at_once_with_its_names(client: TestClient):
    created = await client.post(CRDS, json=WIDGET_CRD)
    assert created.status == 201, await created.text()
    crd = await established(client)
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    resources = await (await client.get("/apis/example.com/v1")).json()
    widgets = next(r for r in resources["resources"] if r["name"] == "widgets")
    assert widgets["shortNames"] == ["wd"] and widgets["categories"] == ["all"]
    assert {r["name"] for r in resources["resources"]} == {
        "widgets", "widgets/status", "widgets/scale"
    }  # fmt: skip
    group = await (await client.get("/apis/example.com")).json()
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]


async def test_objects_are_pruned_defaulted_validated_and_converted(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": 2, "junk": 1, "extra": {"kept": True}}, "stray": 1}  # fmt: skip
    created = await client.post(WIDGETS, json=body)
    assert created.status == 201, await created.text()
    widget = await created.json()
    assert widget["spec"] == {"size": 2, "color": "red", "extra": {"kept": True}}
    assert "stray" not in widget and widget["metadata"]["generation"] == 1
    as_beta = await (await client.get(WIDGETS.replace("/v1/", "/v1beta1/") + "/a")).json()
    assert as_beta["apiVersion"] == "example.com/v1beta1" and as_beta["spec"]["size"] == 2

    bad = {**body, "metadata": {"name": "b"}, "spec": {"size": 0, "color": "pink"}}
    refused = await client.post(WIDGETS, json=bad)
    status = await refused.json()
    assert refused.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'Widget.example.com "b" is invalid: [spec.color: Unsupported value: "pink": supported '
        'values: "red", "blue", spec.size: Invalid value: 0: spec.size in body should be '
        "greater than or equal to 1]"
    )
    missing = await client.post(WIDGETS, json={**body, "metadata": {"name": "c"}, "spec": {}})
    assert "spec.size: Required value" in (await missing.json())["message"]


async def test_table_status_and_scale(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": 3, "replicas": 1}}  # fmt: skip
    widget = await (await client.post(WIDGETS, json=body)).json()
    # A status write changes only the status, and leaves the generation alone.
    widget["status"] = {"phase": "Ready", "replicas": 1}
    widget["spec"]["size"] = 99
    written = await (await client.put(f"{WIDGETS}/a/status", json=widget)).json()
    assert written["spec"]["size"] == 3 and written["status"]["phase"] == "Ready"
    assert written["metadata"]["generation"] == 1
    table = await (await client.get(WIDGETS, headers={"Accept": TABLE})).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Phase"]
    assert table["rows"][0]["cells"] == ["a", 3, "Ready"]
    scale = await (await client.get(f"{WIDGETS}/a/scale")).json()
    assert scale["spec"]["replicas"] == 1 and scale["status"]["replicas"] == 1
    scaled = await client.patch(
        f"{WIDGETS}/a/scale", json={"spec": {"replicas": 4}},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert scaled.status == 200, await scaled.text()
    widget = await (await client.get(f"{WIDGETS}/a")).json()
    assert widget["spec"]["replicas"] == 4 and widget["metadata"]["generation"] == 2


async def test_deleting_the_definition_deletes_its_objects_first(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}
    for name in ("a", "b"):
        await client.post(WIDGETS, json={**body, "metadata": {"name": name}})
    deleting = await client.delete(f"{CRDS}/widgets.example.com")
    assert deleting.status == 200

    async def gone():
        return (await client.get(f"{CRDS}/widgets.example.com")).status == 404

    await eventually(gone)
    assert (await client.get(WIDGETS)).status == 404
    assert (await client.get("/apis/example.com/v1")).status == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["metadata"].update(name="gadgets.example.com"),
         'metadata.name: Invalid value: "gadgets.example.com": must be '
         'spec.names.plural+"."+spec.group'),
        (lambda c: c["spec"].update(group="apps"),
         'spec.group: Invalid value: "apps": should be a domain with at least one dot'),
        (lambda c: c["spec"]["versions"][1].update(storage=True),
         'spec.versions: Invalid value: ["v1","v1beta1"]: must have exactly one version '
         "marked as storage version"),
        (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
            "spec"]["properties"]["size"].pop("type"),
         "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: "
         "Required value: must not be empty for specified object fields"),
        (lambda c: c["spec"].update(scope="Global"),
         'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'),
    ],
)  # fmt: skip
async def test_a_bad_definition_is_422_naming_the_field(client: TestClient, change, message):
    crd = copy.deepcopy(WIDGET_CRD)
    change(crd)
    refused = await client.post(CRDS, json=crd)
    assert refused.status == 422
    assert message in (await refused.json())["message"]


async def test_a_protected_group_needs_approval(client: TestClient):
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = "widgets.apps.k8s.io"
    crd["spec"]["group"] = "apps.k8s.io"
    refused = await client.post(CRDS, json=crd)
    assert refused.status == 422
    assert (
        "metadata.annotations[api-approved.kubernetes.io]: Required value"
        in (await refused.json())["message"]
    )


async def test_a_kind_already_used_in_the_group_is_not_accepted(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    twin = copy.deepcopy(WIDGET_CRD)
    twin["metadata"]["name"] = "things.example.com"
    twin["spec"]["names"] = {"plural": "things", "kind": "Widget"}
    assert (await client.post(CRDS, json=twin)).status == 201

    async def refused():
        crd = await (await client.get(f"{CRDS}/things.example.com")).json()
        conditions = {c["type"]: c for c in crd["status"].get("conditions") or []}
        names = conditions.get("NamesAccepted")
        return names if names and names["status"] == "False" else None

    names = await eventually(refused)
    assert names["message"] == '"Widget" is already in use'
    assert (await client.get("/apis/example.com/v1/namespaces/default/things")).status == 404


async def test_strategic_merge_patch_is_415_and_merge_patch_works(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": 1}}  # fmt: skip
    await client.post(WIDGETS, json=body)
    strategic = await client.patch(
        f"{WIDGETS}/a", json={"spec": {"size": 2}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )  # fmt: skip
    assert strategic.status == 415
    assert (
        "accepted media types include: application/json-patch+json"
        in (await strategic.json())["message"]
    )
    merged = await client.patch(
        f"{WIDGETS}/a", json={"spec": {"size": 2}},
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert (await merged.json())["spec"]["size"] == 2


async def test_openapi_v3_describes_built_in_and_custom_kinds(client: TestClient):
    index = await (await client.get("/openapi/v3")).json()
    assert "apis/example.com/v1" not in index["paths"]
    core = await (await client.get(index["paths"]["api/v1"]["serverRelativeURL"])).json()
    pod = core["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    containers = core["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    index = await (await client.get("/openapi/v3")).json()
    document = await (await client.get("/openapi/v3/apis/example.com/v1")).json()
    assert "apis/example.com/v1" in index["paths"]
    widget = document["components"]["schemas"]["com.example.v1.Widget"]
    assert widget["properties"]["spec"]["properties"]["size"]["type"] == "integer"
    patch = document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


async def test_strict_field_validation_names_a_custom_resources_unknown_field(client: TestClient):
    await client.post(CRDS, json=WIDGET_CRD)
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": 1, "sise": 2}}  # fmt: skip
    refused = await client.post(f"{WIDGETS}?fieldValidation=Strict", json=body)
    assert refused.status == 400
    assert (await refused.json())["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.sise"'
    )
    warned = await client.post(WIDGETS, json=body)
    assert warned.status == 201 and "spec.sise" in warned.headers["Warning"]


def with_rules(crd: dict, rules: list[dict], mode_rules: list[dict] | None = None) -> dict:
    crd = copy.deepcopy(crd)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"] = rules
    spec["properties"]["maxReplicas"] = {"type": "integer"}
    spec["properties"]["mode"] = {"type": "string", "x-kubernetes-validations": mode_rules or []}
    return crd


async def test_cel_rules_with_messages_and_transition_rules(client: TestClient):
    crd = with_rules(
        WIDGET_CRD,
        [{"rule": "!has(self.replicas) || self.replicas <= self.maxReplicas",
          "message": "replicas must not exceed maxReplicas"},
         {"rule": "self.size < 100",
          "messageExpression": "'size ' + string(self.size) + ' is too big'"}],
        [{"rule": "self == oldSelf", "message": "mode is immutable"}],
    )  # fmt: skip
    assert (await client.post(CRDS, json=crd)).status == 201
    await established(client)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"},
            "spec": {"size": 200, "replicas": 3, "maxReplicas": 2, "mode": "fast"}}  # fmt: skip
    refused = await client.post(WIDGETS, json=body)
    assert refused.status == 422
    message = (await refused.json())["message"]
    assert 'spec: Invalid value: "object": replicas must not exceed maxReplicas' in message
    assert 'spec: Invalid value: "object": size 200 is too big' in message
    body["spec"].update(size=2, replicas=1)
    widget = await (await client.post(WIDGETS, json=body)).json()
    widget["spec"]["mode"] = "slow"
    changed = await client.put(f"{WIDGETS}/a", json=widget)
    assert changed.status == 422
    assert (
        'spec.mode: Invalid value: "string": mode is immutable' in (await changed.json())["message"]
    )


async def test_a_rule_that_does_not_compile_is_422(client: TestClient):
    crd = with_rules(WIDGET_CRD, [{"rule": "self.replicas <="}])
    refused = await client.post(CRDS, json=crd)
    assert refused.status == 422
    assert (
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]"
        '.rule: Invalid value: "self.replicas <=": compilation failed'
    ) in (await refused.json())["message"]


async def test_field_selectors_on_name_and_selectable_fields(client: TestClient):
    crd = copy.deepcopy(WIDGET_CRD)
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.color"}]
    assert (await client.post(CRDS, json=crd)).status == 201
    await established(client)
    for name, color in (("a", "red"), ("b", "blue")):
        await client.post(WIDGETS, json={"apiVersion": "example.com/v1", "kind": "Widget",
                                         "metadata": {"name": name},
                                         "spec": {"size": 1, "color": color}})  # fmt: skip

    async def names(selector: str) -> list[str]:
        listed = await (await client.get(f"{WIDGETS}?fieldSelector={selector}")).json()
        return [w["metadata"]["name"] for w in listed["items"]]

    assert await names("spec.color=blue") == ["b"]
    assert await names("metadata.name=a") == ["a"]
    refused = await client.get(f"{WIDGETS}?fieldSelector=spec.size=1")
    assert refused.status == 400
    assert (await refused.json())["message"] == "field label not supported: spec.size"
    bad = copy.deepcopy(WIDGET_CRD)
    bad["metadata"]["name"], bad["spec"]["names"] = "things.example.com", {
        "plural": "things", "kind": "Thing"}  # fmt: skip
    bad["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": "spec.color"}]
    refused = await client.post(CRDS, json=bad)
    assert (
        refused.status == 422 and "must be a simple JSON path" in (await refused.json())["message"]
    )


async def test_list_types_and_embedded_resources(client: TestClient):
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {
                      "name": {"type": "string"}, "port": {"type": "integer"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True},
    }}}}  # fmt: skip
    crd = copy.deepcopy(WIDGET_CRD)
    crd["spec"]["versions"] = [{"name": "v1", "served": True, "storage": True,
                                "schema": {"openAPIV3Schema": schema}}]  # fmt: skip
    await client.post(CRDS, json=crd)
    await established(client)
    template = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    good = {"metadata": {"name": "good"}, "spec": {
        "ports": [{"name": "a", "port": 1}, {"name": "b", "port": 1}], "tags": ["x", "y"],
        "template": template}}  # fmt: skip
    assert (await client.post(WIDGETS, json=good)).status == 201
    bad = {"metadata": {"name": "bad"}, "spec": {
        "ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}], "tags": ["x", "x"],
        "template": {"metadata": {"name": "x"}}}}  # fmt: skip
    refused = await client.post(WIDGETS, json=bad)
    message = (await refused.json())["message"]
    assert refused.status == 422
    assert 'spec.ports[1]: Duplicate value: {"name":"a"}' in message, message
    assert 'spec.tags[1]: Duplicate value: "x"' in message
    assert "spec.template.apiVersion: Required value: must not be empty" in message
    assert "spec.template.kind: Required value: must not be empty" in message
