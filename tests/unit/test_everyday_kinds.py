"""The everyday kinds beyond the core, through the HTTP API: validation answers, the
eviction subresource against disruption budgets, priority admission, and the v1 view of
HorizontalPodAutoscalers."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from control_plane.apiserver.admission.priority import PriorityAdmission
from control_plane.apiserver.admission.scale_targets import ScaleTargetCheck
from control_plane.apiserver.app import build_app
from control_plane.apiserver.bootstrap import (
    ensure_default_namespaces,
    ensure_system_priority_classes,
)
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.registry import Registry
from tests.unit.fakes import ADMIN, MemoryStorage, always

PDB = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def client():
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    await ensure_system_priority_classes(registry)
    registry.admission.append(PriorityAdmission(registry))  # unsynced: reads etcd on a miss
    registry.admission.append(ScaleTargetCheck())
    app = build_app(registry, "127.0.0.1:6443", authenticator=always(ADMIN))
    async with TestClient(TestServer(app)) as c:
        yield c


def _pod(name: str, labels: dict[str, str], **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


async def _running_ready(client: TestClient, name: str) -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    answer = await client.patch(
        f"{PODS}/{name}/status",
        json={"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert answer.status == 200, await answer.text()


async def _evict(client: TestClient, name: str) -> tuple[int, dict[str, object]]:
    answer = await client.post(
        f"{PODS}/{name}/eviction",
        json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}},
    )
    return answer.status, await answer.json()


async def test_a_budget_with_both_bounds_is_refused_with_the_field(client):
    answer = await client.post(
        PDB,
        json={
            "metadata": {"name": "both"},
            "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {}},
        },
    )
    body = await answer.json()
    assert answer.status == 422
    assert body["details"]["causes"][0]["field"] == "spec"
    assert "minAvailable and maxUnavailable cannot be both set" in body["message"]
    assert (await client.get(f"{PDB}/both")).status == 404


async def test_eviction_honours_the_budget(client):
    for name in ("a", "b"):
        assert (await client.post(PODS, json=_pod(name, {"app": "web"}))).status == 201
        await _running_ready(client, name)
    budget = {
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    assert (await client.post(PDB, json=budget)).status == 201

    # The controller has not looked at the budget yet: no eviction.
    status, body = await _evict(client, "a")
    assert status == 429 and "still being processed" in str(body["details"])

    # One disruption allowed (as the controller would write), then none.
    status_patch = {
        "status": {
            "observedGeneration": 1,
            "disruptionsAllowed": 1,
            "currentHealthy": 2,
            "desiredHealthy": 1,
            "expectedPods": 2,
        }
    }
    answer = await client.patch(
        f"{PDB}/web/status",
        json=status_patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert answer.status == 200
    status, body = await _evict(client, "a")
    assert status == 201 and body["status"] == "Success"
    assert (await client.get(f"{PODS}/a")).status == 404
    left = await (await client.get(f"{PDB}/web")).json()
    assert left["status"]["disruptionsAllowed"] == 0 and "a" in left["status"]["disruptedPods"]

    status, body = await _evict(client, "b")
    assert status == 429
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert (await client.get(f"{PODS}/b")).status == 200


async def test_pods_no_budget_protects_are_evicted_at_once(client):
    assert (await client.post(PODS, json=_pod("lonely", {"app": "other"}))).status == 201
    await _running_ready(client, "lonely")
    status, _ = await _evict(client, "lonely")
    assert status == 201
    assert (await client.get(f"{PODS}/lonely")).status == 404


async def test_priority_comes_from_the_class_and_an_unknown_class_is_forbidden(client):
    answer = await client.post(
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        json={"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"},
    )
    assert answer.status == 201
    created = await (await client.post(PODS, json=_pod("p", {}, priorityClassName="high"))).json()
    assert created["spec"]["priority"] == 1000
    assert created["spec"]["preemptionPolicy"] == "Never"
    plain = await (await client.post(PODS, json=_pod("q", {}))).json()
    assert plain["spec"]["priority"] == 0
    critical = await (
        await client.post(PODS, json=_pod("r", {}, priorityClassName="system-node-critical"))
    ).json()
    assert critical["spec"]["priority"] == 2_000_001_000
    answer = await client.post(PODS, json=_pod("s", {}, priorityClassName="nope"))
    assert answer.status == 403
    assert "no PriorityClass with name nope was found" in (await answer.json())["message"]


async def test_a_user_class_above_a_billion_and_a_changed_value_are_refused(client):
    path = "/apis/scheduling.k8s.io/v1/priorityclasses"
    answer = await client.post(path, json={"metadata": {"name": "huge"}, "value": 2_000_000_000})
    assert answer.status == 422
    answer = await client.post(path, json={"metadata": {"name": "mid"}, "value": 5})
    assert answer.status == 201
    answer = await client.patch(
        f"{path}/mid", json={"value": 6}, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert answer.status == 422


@pytest.mark.parametrize(
    ("schedule", "zone", "field"),
    [
        ("61 * * * *", None, "spec.schedule"),
        ("TZ=UTC * * * * *", None, "spec.schedule"),
        ("@hourly", "Mars/Olympus", "spec.timeZone"),
    ],
)
async def test_bad_cron_jobs_get_422_with_the_field(client, schedule, zone, field):
    spec: dict[str, object] = {
        "schedule": schedule,
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            }
        },
    }
    if zone:
        spec["timeZone"] = zone
    answer = await client.post(
        "/apis/batch/v1/namespaces/default/cronjobs",
        json={"metadata": {"name": "cj"}, "spec": spec},
    )
    body = await answer.json()
    assert answer.status == 422, body
    assert body["details"]["causes"][0]["field"] == field


async def test_negative_quota_and_limit_range_out_of_order_are_refused(client):
    answer = await client.post(
        "/api/v1/namespaces/default/resourcequotas",
        json={"metadata": {"name": "q"}, "spec": {"hard": {"pods": "-1"}}},
    )
    body = await answer.json()
    assert answer.status == 422 and body["details"]["causes"][0]["field"] == "spec.hard[pods]"
    answer = await client.post(
        "/api/v1/namespaces/default/limitranges",
        json={
            "metadata": {"name": "l"},
            "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]},
        },
    )
    assert answer.status == 422


async def test_hpa_v1_is_the_v2_object_with_one_cpu_target(client):
    hpa = {
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 60,
        },
    }
    answer = await client.post(
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", json=hpa
    )
    assert answer.status == 201, await answer.text()
    v2 = await (
        await client.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")
    ).json()
    assert v2["spec"]["minReplicas"] == 1
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    v1 = await (
        await client.get("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web")
    ).json()
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60 and "metrics" not in v1["spec"]
    bad = {**hpa, "metadata": {"name": "bad"}, "spec": {**hpa["spec"], "minReplicas": 6}}
    answer = await client.post(
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", json=bad
    )
    assert answer.status == 422


@pytest.fixture
async def guarded():
    """An API server with the limit ranger and quota admission following their kinds."""
    import asyncio

    from control_plane.apiserver.admission.limit_ranger import LimitRanger
    from control_plane.apiserver.admission.resource_quota import QuotaAdmission

    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    ranger, quotas = LimitRanger(registry), QuotaAdmission(registry)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in (ranger, quotas)]
    for plugin in (ranger, quotas):
        await plugin.wait_synced()
    registry.admission.append(ranger)
    registry.validation.append(quotas)
    app = build_app(registry, "127.0.0.1:6443", authenticator=always(ADMIN))
    async with TestClient(TestServer(app)) as c:
        yield c
    stop.set()
    await asyncio.gather(*tasks)


async def _eventually(check) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def test_a_quota_refuses_the_pod_over_it(guarded):
    quotas = "/api/v1/namespaces/default/resourcequotas"
    answer = await guarded.post(
        quotas, json={"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
    )
    assert answer.status == 201
    # What the quota controller writes first.
    answer = await guarded.patch(
        f"{quotas}/q/status",
        json={"status": {"hard": {"pods": "1"}, "used": {"pods": "0"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert answer.status == 200

    async def first_pod_admitted() -> bool:
        return (await guarded.post(PODS, json=_pod("one", {}))).status == 201

    await _eventually(first_pod_admitted)

    async def written(count: str) -> bool:  # the usage is written just after the create
        quota = await (await guarded.get(f"{quotas}/q")).json()
        return bool(quota["status"]["used"] == {"pods": count})

    await _eventually(lambda: written("1"))
    answer = await guarded.post(PODS, json=_pod("two", {}))
    body = await answer.json()
    assert answer.status == 403
    assert body["message"] == (
        'pods "two" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, '
        "limited: pods=1"
    )


async def test_limit_ranges_default_and_bound_containers(guarded):
    ranges = "/api/v1/namespaces/default/limitranges"
    limits = {
        "type": "Container",
        "default": {"cpu": "500m"},
        "defaultRequest": {"cpu": "100m"},
        "max": {"cpu": "1"},
    }
    answer = await guarded.post(
        ranges, json={"metadata": {"name": "l"}, "spec": {"limits": [limits]}}
    )
    assert answer.status == 201

    async def defaulted() -> bool:
        answer = await guarded.post(PODS, json=_pod("d", {}), params={"dryRun": "All"})
        resources = (await answer.json())["spec"]["containers"][0]["resources"]
        return resources == {"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}}

    await _eventually(defaulted)
    big = _pod("big", {})
    big["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2"}}  # type: ignore[index]
    answer = await guarded.post(PODS, json=big)
    assert answer.status == 403
    assert (
        "maximum cpu usage per Container is 1, but limit is 2" in (await answer.json())["message"]
    )


async def test_an_autoscaler_of_a_kind_without_scale_is_refused(client):
    hpa = {
        "metadata": {"name": "cm"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"},
            "maxReplicas": 3,
        },
    }
    path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
    answer = await client.post(path, json=hpa)
    body = await answer.json()
    assert answer.status == 422
    assert body["details"]["causes"][0]["field"] == "spec.scaleTargetRef.kind"
    assert "v1 ConfigMap has no scale subresource" in body["message"]
    assert (await client.get(f"{path}/cm")).status == 404


async def test_concurrent_creates_never_go_over_a_quota(guarded):
    import asyncio

    quotas = "/api/v1/namespaces/default/resourcequotas"
    hard = {"pods": "10"}
    await guarded.post(quotas, json={"metadata": {"name": "q"}, "spec": {"hard": hard}})
    await guarded.patch(
        f"{quotas}/q/status",
        json={"status": {"hard": hard, "used": {"pods": "0"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    async def synced() -> bool:
        answer = await guarded.post(PODS, json=_pod("probe", {}), params={"dryRun": "All"})
        return answer.status == 201

    await _eventually(synced)
    answers = await asyncio.gather(*(guarded.post(PODS, json=_pod(f"p{i}", {})) for i in range(25)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [201] * 10 + [403] * 15

    async def written() -> bool:
        quota = await (await guarded.get(f"{quotas}/q")).json()
        return bool(quota["status"]["used"] == {"pods": "10"})

    await _eventually(written)


async def test_a_recount_written_by_the_controller_gives_usage_back(guarded):
    quotas = "/api/v1/namespaces/default/resourcequotas"
    hard = {"pods": "2"}
    await guarded.post(quotas, json={"metadata": {"name": "q"}, "spec": {"hard": hard}})
    merge = {"Content-Type": "application/merge-patch+json"}
    await guarded.patch(
        f"{quotas}/q/status", json={"status": {"hard": hard, "used": {"pods": "0"}}}, headers=merge
    )

    async def admitted(name: str) -> bool:
        return (await guarded.post(PODS, json=_pod(name, {}))).status == 201

    await _eventually(lambda: admitted("a"))
    assert await admitted("b")
    assert not await admitted("c")
    # One pod went; the controller's recount says so.
    await guarded.delete(f"{PODS}/a")
    await guarded.patch(
        f"{quotas}/q/status", json={"status": {"used": {"pods": "1"}}}, headers=merge
    )
    await _eventually(lambda: admitted("c"))
    assert not await admitted("d")


async def test_volumes_and_claims_start_pending_and_a_volume_needs_a_source(client):
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    answer = await client.post("/api/v1/namespaces/default/persistentvolumeclaims", json=claim)
    created = await answer.json()
    assert answer.status == 201
    assert created["status"] == {"phase": "Pending"}
    assert created["spec"]["volumeMode"] == "Filesystem"
    volume = {
        "metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
    }
    answer = await client.post("/api/v1/persistentvolumes", json=volume)
    assert answer.status == 422 and "must specify a volume type" in (await answer.json())["message"]
    volume["spec"]["hostPath"] = {"path": "/data"}  # type: ignore[index]
    created = await (await client.post("/api/v1/persistentvolumes", json=volume)).json()
    assert created["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert created["status"] == {"phase": "Pending"}
