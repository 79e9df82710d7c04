"""ValidatingAdmissionPolicy as a platform team uses it: a CEL rule with params from a
ConfigMap refuses a Deployment with upstream's words, Warn only warns, match conditions,
selectors and exclusions decide what is checked, missing params and failing expressions
do what the binding and failurePolicy say, and a bad policy is refused when created."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.policies.plugin import PolicyAdmission
from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import MemoryStorage, always_admin

BASE = "/apis/admissionregistration.k8s.io/v1"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    policies = PolicyAdmission(registry)
    stop = asyncio.Event()
    task = asyncio.create_task(policies.run(stop))
    await policies.wait_synced()
    registry.validation.append(policies)
    app = build_app(registry, "127.0.0.1:6443", authenticator=always_admin)
    async with TestClient(TestServer(app)) as c:
        yield c
    stop.set()
    await task


def policy(name: str = "max-replicas", **spec) -> dict:
    return {"metadata": {"name": name}, "spec": {
        "matchConstraints": {"resourceRules": [{
            "apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
            "resources": ["deployments"]}]},
        "validations": [{"expression": "object.spec.replicas <= 5"}],
        **spec,
    }}  # fmt: skip


def binding(name: str = "max-replicas-binding", policy_name: str = "max-replicas",
            **spec) -> dict:  # fmt: skip
    return {"metadata": {"name": name}, "spec": {
        "policyName": policy_name, "validationActions": ["Deny"], **spec}}  # fmt: skip


def deployment(name: str, replicas: int, labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }  # fmt: skip


async def install(client: TestClient, the_policy: dict, the_binding: dict) -> None:
    for plural, body in (("validatingadmissionpolicies", the_policy),
                         ("validatingadmissionpolicybindings", the_binding)):  # fmt: skip
        made = await client.post(f"{BASE}/{plural}", json=body)
        assert made.status == 201, await made.text()
    await asyncio.sleep(0.1)  # the plugin learns of them by watch


async def test_a_policy_refuses_with_upstreams_words(client):
    await install(client, policy(), binding())
    refused = await client.post(DEPLOYMENTS, json=deployment("big", 6))
    body = await refused.json()
    assert refused.status == 422 and body["reason"] == "Invalid"
    cause = ("ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' "
             "denied request: failed expression: object.spec.replicas <= 5")  # fmt: skip
    assert body["message"] == f'deployments.apps "big" is forbidden: {cause}'
    assert body["details"]["causes"] == [{"message": cause}]
    assert (await client.post(DEPLOYMENTS, json=deployment("small", 5))).status == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    scaled = await client.patch(f"{DEPLOYMENTS}/small", json={"spec": {"replicas": 9}},
                                headers=merge)  # fmt: skip
    assert scaled.status == 422  # updates too


async def test_params_message_expression_and_reason(client):
    rule = {"expression": "object.spec.replicas <= int(params.data.max)",
            "messageExpression": "'at most ' + params.data.max + ' replicas, asked for ' + "
                                 "string(object.spec.replicas)",
            "reason": "Forbidden"}  # fmt: skip
    param_kind = {"apiVersion": "v1", "kind": "ConfigMap"}
    await client.post(CONFIGMAPS, json={"metadata": {"name": "limits"}, "data": {"max": "3"}})
    ref = {"name": "limits", "parameterNotFoundAction": "Deny"}
    await install(client, policy(paramKind=param_kind, validations=[rule]), binding(paramRef=ref))
    refused = await client.post(DEPLOYMENTS, json=deployment("four", 4))
    body = await refused.json()
    assert refused.status == 403 and body["reason"] == "Forbidden"
    assert body["message"].endswith("denied request: at most 3 replicas, asked for 4")
    assert (await client.post(DEPLOYMENTS, json=deployment("three", 3))).status == 201


@pytest.mark.parametrize(("action", "status"), [("Deny", 422), ("Allow", 201)])
async def test_missing_params_do_what_the_binding_says(client, action, status):
    param_kind = {"apiVersion": "v1", "kind": "ConfigMap"}
    rule = {"expression": "object.spec.replicas <= int(params.data.max)"}
    ref = {"name": "absent", "parameterNotFoundAction": action}
    await install(client, policy(paramKind=param_kind, validations=[rule]), binding(paramRef=ref))
    answer = await client.post(DEPLOYMENTS, json=deployment("d", 1))
    assert answer.status == status
    if status == 422:
        assert "no params found for policy binding with `Deny` parameterNotFoundAction" in (
            await answer.json())["message"]  # fmt: skip


async def test_warn_only_warns(client):
    await install(client, policy(), binding(validationActions=["Warn", "Audit"]))
    created = await client.post(DEPLOYMENTS, json=deployment("big", 6))
    assert created.status == 201
    assert ("Validation failed for ValidatingAdmissionPolicy 'max-replicas' with binding "
            "'max-replicas-binding': failed expression: object.spec.replicas <= 5"
            ) in created.headers["Warning"]  # fmt: skip


async def test_conditions_selectors_and_exclusions_decide_what_is_checked(client):
    conditions = [{"name": "not-exempt",
                   "expression": "!has(object.metadata.labels) || "
                                 "!('exempt' in object.metadata.labels)"}]  # fmt: skip
    the_policy = policy(matchConditions=conditions)
    the_policy["spec"]["matchConstraints"]["excludeResourceRules"] = [{
        "apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
        "resources": ["deployments"], "resourceNames": ["excluded"]}]  # fmt: skip
    await install(client, the_policy, binding(matchResources={
        "objectSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                 "values": ["test"]}]}}))  # fmt: skip
    assert (await client.post(DEPLOYMENTS, json=deployment("a", 6))).status == 422
    exempt = deployment("b", 6, {"exempt": "yes"})
    assert (await client.post(DEPLOYMENTS, json=exempt)).status == 201
    assert (await client.post(DEPLOYMENTS, json=deployment("c", 6, {"tier": "test"}))).status == 201
    assert (await client.post(DEPLOYMENTS, json=deployment("excluded", 6))).status == 201


@pytest.mark.parametrize(("failure_policy", "status"), [("Fail", 422), ("Ignore", 201)])
async def test_an_expression_that_errors_does_what_failure_policy_says(
    client, failure_policy, status
):
    rule = {"expression": "object.spec.nothing.here > 1"}
    await install(client, policy(validations=[rule], failurePolicy=failure_policy), binding())
    answer = await client.post(DEPLOYMENTS, json=deployment("d", 1))
    assert answer.status == status
    if status == 422:
        assert "expression 'object.spec.nothing.here > 1' resulted in error" in (
            await answer.json())["message"]  # fmt: skip


@pytest.mark.parametrize(
    ("plural", "body", "message"),
    [
        ("validatingadmissionpolicies", policy(validations=[{"expression": "object.spec.("}]),
         'spec.validations[0].expression: Invalid value: "object.spec.(": compilation failed'),
        ("validatingadmissionpolicies", policy(validations=[]),
         "spec.validations: Required value: validations or auditAnnotations must contain"),
        ("validatingadmissionpolicies", {"metadata": {"name": "p"}, "spec": {
            "validations": [{"expression": "true"}]}}, "spec.matchConstraints: Required value"),
        ("validatingadmissionpolicybindings", binding(validationActions=["Deny", "Warn"]),
         "must not contain both Deny and Warn"),
        ("validatingadmissionpolicybindings", binding(validationActions=[]),
         "spec.validationActions: Required value"),
        ("validatingadmissionpolicybindings", binding(paramRef={"name": "x"}),
         "spec.paramRef.parameterNotFoundAction: Required value"),
    ],
)  # fmt: skip
async def test_a_bad_policy_or_binding_is_422(client, plural, body, message):
    refused = await client.post(f"{BASE}/{plural}", json=body)
    assert refused.status == 422
    assert message in (await refused.json())["message"]
