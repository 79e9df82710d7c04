"""Per-kind defaults, validation and printing, as kubectl users see them."""

from __future__ import annotations

import pytest

from control_plane.apiserver import errors
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.kinds.pod import qos_class
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import MemoryStorage

POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
DEPLOYMENT = {
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


@pytest.fixture
async def registry():
    reg = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(reg)
    return reg


async def invalid(registry, plural, body, group=""):
    with pytest.raises(errors.APIError) as caught:
        await registry.create(registry.kinds.get(plural, group), "default", body)
    assert caught.value.code == 422, caught.value.message
    return caught.value


async def test_pod_defaults_and_initial_status(registry):
    pod = await registry.create(registry.kinds.get("pods"), "default", POD)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["serviceAccountName"] == "default"
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert {t["key"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


async def test_pod_validation_names_the_fields(registry):
    error = await invalid(
        registry,
        "pods",
        {
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {"name": "Bad_Name"},
                    {"name": "x", "image": "y", "ports": [{"containerPort": 70000}]},
                ],
                "restartPolicy": "Sometimes",
            },
        },
    )
    fields = {c["field"] for c in error.details["causes"]}
    assert {
        "spec.containers[0].name",
        "spec.containers[0].image",
        "spec.containers[1].ports[0].containerPort",
        "spec.restartPolicy",
    } <= fields
    assert error.message.startswith('Pod "p" is invalid: [')


async def test_pod_spec_is_immutable_except_images(registry):
    pods = registry.kinds.get("pods")
    await registry.create(pods, "default", POD)
    await registry.mutate(
        pods,
        "default",
        "p",
        lambda p: {
            **p,
            "spec": {
                **p["spec"],
                "containers": [{**p["spec"]["containers"][0], "image": "nginx:1.26"}],
            },
        },
    )
    with pytest.raises(errors.APIError) as caught:
        await registry.mutate(
            pods, "default", "p", lambda p: {**p, "spec": {**p["spec"], "restartPolicy": "Never"}}
        )
    assert caught.value.code == 422 and "pod updates may not change" in caught.value.message


def test_qos_classes():
    def spec(**resources):
        return {"containers": [{"name": "c", "resources": resources}]}

    assert qos_class(spec()) == "BestEffort"
    assert qos_class(spec(requests={"cpu": "1"})) == "Burstable"
    both = {"cpu": "1", "memory": "1Gi"}
    assert qos_class(spec(limits=both, requests=both)) == "Guaranteed"


def test_pod_printer_cells():
    kinds = builtin_kinds()
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.5",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
                {
                    "name": "b",
                    "ready": False,
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                },
            ],
        },
    }
    row = kinds.get("pods").row(pod)
    assert row[:4] == ["p", "1/2", "CrashLoopBackOff", "3"]
    assert row[5:7] == ["10.244.0.5", "n1"]
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    assert kinds.get("pods").row(pod)[2] == "Terminating"


async def test_deployment_defaults_selector_checks_and_generation(registry):
    deployments = registry.kinds.get("deployments", "apps")
    created = await registry.create(deployments, "default", DEPLOYMENT)
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["replicas"] == 1
    assert created["spec"]["strategy"]["rollingUpdate"] == {
        "maxUnavailable": "25%",
        "maxSurge": "25%",
    }
    scaled = await registry.mutate(
        deployments, "default", "web", lambda d: {**d, "spec": {**d["spec"], "replicas": 3}}
    )
    assert scaled["metadata"]["generation"] == 2
    labelled = await registry.mutate(
        deployments,
        "default",
        "web",
        lambda d: {**d, "metadata": {**d["metadata"], "labels": {"x": "y"}}},
    )
    assert labelled["metadata"]["generation"] == 2  # metadata only
    with pytest.raises(errors.APIError) as caught:
        await registry.mutate(
            deployments,
            "default",
            "web",
            lambda d: {**d, "spec": {**d["spec"], "selector": {"matchLabels": {"app": "other"}}}},
        )
    assert "field is immutable" in caught.value.message
    mismatch = {
        **DEPLOYMENT,
        "metadata": {"name": "w2"},
        "spec": {**DEPLOYMENT["spec"], "selector": {"matchLabels": {"app": "nope"}}},
    }
    error = await invalid(registry, "deployments", mismatch, "apps")
    assert "`selector` does not match template `labels`" in error.message
    assert error.message.startswith('Deployment.apps "w2" is invalid')


async def test_job_gets_a_generated_selector(registry):
    jobs = registry.kinds.get("jobs", "batch")
    job = await registry.create(
        jobs,
        "default",
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
    )
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "j"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (1, 1)
    error = await invalid(
        registry,
        "jobs",
        {
            "metadata": {"name": "j2"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        },
        "batch",
    )
    assert "spec.template.spec.restartPolicy" in error.message


async def test_secret_string_data_becomes_base64_data(registry):
    secret = await registry.create(
        registry.kinds.get("secrets"),
        "default",
        {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}},
    )
    assert secret["data"] == {"password": "aHVudGVyMg=="} and "stringData" not in secret
    assert secret["type"] == "Opaque"


async def test_service_validation(registry):
    error = await invalid(
        registry,
        "services",
        {
            "metadata": {"name": "1bad"},
            "spec": {"ports": [{"port": 80}, {"port": 0}], "type": "Magic"},
        },
    )
    fields = {c["field"] for c in error.details["causes"]}
    assert {"metadata.name", "spec.type", "spec.ports[1].port", "spec.ports[1].name"} <= fields


async def test_namespace_gets_a_default_service_account(registry):
    await registry.create(registry.kinds.get("namespaces"), "", {"metadata": {"name": "team"}})
    sa = await registry.get(registry.kinds.get("serviceaccounts"), "team", "default")
    assert sa["metadata"]["namespace"] == "team"


async def test_events_in_both_versions_are_one_object(registry):
    core = registry.kinds.get("events")
    v1 = registry.kinds.get("events", "events.k8s.io")
    await registry.create(
        v1,
        "default",
        {
            "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "hello",
            "reason": "Started",
            "type": "Normal",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "ku7s",
            "reportingInstance": "x",
            "action": "Start",
        },
    )
    as_core = await registry.get(core, "default", "e")
    assert as_core["message"] == "hello" and as_core["involvedObject"]["name"] == "p"
    as_v1 = await registry.get(v1, "default", "e")
    assert as_v1["apiVersion"] == "events.k8s.io/v1" and as_v1["note"] == "hello"
