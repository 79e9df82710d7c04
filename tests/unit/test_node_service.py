"""The node service's registration and heartbeat rules, and the lease monitor."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json

import pytest

from control_plane.apiserver import errors
from control_plane.apiserver.bootstrap import ensure_default_namespaces
from control_plane.apiserver.kinds import builtin_kinds
from control_plane.apiserver.node_service import node_objects
from control_plane.apiserver.node_service.ipam import PodCIDRAllocator
from control_plane.apiserver.node_service.lease_monitor import NodeLeaseMonitor
from control_plane.apiserver.node_service.pod_feed import PodFeed
from control_plane.apiserver.node_service.pod_reports import PodReports, merged_status
from control_plane.apiserver.node_service.service import NodeService
from control_plane.apiserver.node_service.tokens import BootstrapTokens
from control_plane.apiserver.registry import DeleteOptions, ListOptions, Registry
from ku7s import pki
from ku7s.api import meta
from ku7s.rpc import node_pb2
from tests.unit.fakes import MemoryStorage


def registration(name="w1", labels=None, taints=()):
    return node_pb2.Registration(
        node_name=name,
        labels={"kubernetes.io/hostname": name, **(labels or {})},
        taints=[node_pb2.Taint(key=k, value=v, effect=e) for k, v, e in taints],
        capacity={"cpu": "1", "memory": "524288Ki", "pods": "110"},
        allocatable={"cpu": "1", "memory": "524288Ki", "pods": "110"},
        addresses=[node_pb2.NodeAddress(type="InternalIP", address="172.18.0.3")],
        node_info=node_pb2.NodeSystemInfo(
            kubelet_version="v1.33.0", container_runtime_version="containerd://1.6"
        ),
    )


@pytest.fixture
async def service(tmp_path):
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    token = pki.new_bootstrap_token()
    (tmp_path / "tokens").write_text(token + "\n")
    svc = NodeService(
        registry,
        pki.CertificateAuthority.create("t"),
        BootstrapTokens(tmp_path / "tokens"),
        PodCIDRAllocator("10.244.0.0/16"),
    )
    svc.test_registry = registry
    svc.test_token = token
    return svc


async def node(service, name="w1"):
    return await service.test_registry.get(service.test_registry.kinds.get("nodes"), "", name)


async def test_registration_assigns_distinct_pod_cidrs(service):
    assert await service._register(registration("w1")) == "10.244.0.0/24"
    assert await service._register(registration("w2")) == "10.244.1.0/24"
    # A kubelet that registers again keeps its CIDR.
    assert await service._register(registration("w1")) == "10.244.0.0/24"
    w1 = await node(service)
    assert w1["spec"]["podCIDRs"] == ["10.244.0.0/24"]
    assert w1["status"]["capacity"]["memory"] == "524288Ki"
    assert meta.condition(w1, "Ready")["status"] == "False"


async def test_a_deleted_nodes_cidr_is_handed_out_again_once_the_others_run_out(tmp_path):
    registry = Registry(MemoryStorage(), builtin_kinds())
    await ensure_default_namespaces(registry)
    (tmp_path / "tokens").write_text(pki.new_bootstrap_token() + "\n")
    svc = NodeService(
        registry,
        pki.CertificateAuthority.create("t"),
        BootstrapTokens(tmp_path / "tokens"),
        PodCIDRAllocator("10.244.0.0/23"),  # room for two nodes
    )
    assert await svc._register(registration("w1")) == "10.244.0.0/24"
    assert await svc._register(registration("w2")) == "10.244.1.0/24"
    await registry.delete(registry.kinds.get("nodes"), "", "w1")
    assert await svc._register(registration("w3")) == "10.244.0.0/24"
    with pytest.raises(errors.APIError, match="no free /24"):
        await svc._register(registration("w4"))


async def test_heartbeats_drive_ready_and_the_lease(service):
    await service._register(registration())
    await service._heartbeat("w1", node_pb2.Heartbeat(ready=True))
    assert meta.is_node_ready(await node(service))
    await service._heartbeat(
        "w1",
        node_pb2.Heartbeat(
            ready=False, reason="KubeletNotReady", message="network plugin not ready"
        ),
    )
    ready = meta.condition(await node(service), "Ready")
    assert (ready["status"], ready["message"]) == ("False", "network plugin not ready")
    await service.mark_unknown("w1", "test")
    assert meta.condition(await node(service), "Ready")["status"] == "Unknown"
    # The next heartbeat heals a node the monitor marked while it was silent.
    await service._heartbeat("w1", node_pb2.Heartbeat(ready=True))
    assert meta.is_node_ready(await node(service))
    leases = service.test_registry.kinds.get("leases", "coordination.k8s.io")
    lease = await service.test_registry.get(leases, "kube-node-lease", "w1")
    assert lease["spec"]["holderIdentity"] == "w1"
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"


async def test_an_unchanged_ready_condition_is_refreshed_now_and_then(service):
    await service._register(registration())
    await service._heartbeat("w1", node_pb2.Heartbeat(ready=True))
    first = meta.condition(await node(service), "Ready")
    await service._heartbeat("w1", node_pb2.Heartbeat(ready=True))
    assert meta.condition(await node(service), "Ready") == first  # fresh: not rewritten
    service._timing = dataclasses.replace(service._timing, status_report_seconds=0)
    nodes = service.test_registry.kinds.get("nodes")
    rv = (await node(service))["metadata"]["resourceVersion"]
    await asyncio.sleep(1.05)  # timestamps have whole seconds
    await service._heartbeat("w1", node_pb2.Heartbeat(ready=True))
    refreshed = await service.test_registry.get(nodes, "", "w1")
    assert refreshed["metadata"]["resourceVersion"] != rv
    assert meta.condition(refreshed, "Ready")["lastHeartbeatTime"] > first["lastHeartbeatTime"]
    assert meta.condition(refreshed, "Ready")["lastTransitionTime"] == first["lastTransitionTime"]


async def test_reregistration_keeps_user_labels_and_removed_taints(service):
    await service._register(registration(taints=[("dedicated", "gpu", "NoSchedule")]))
    nodes = service.test_registry.kinds.get("nodes")

    def edit(n):
        n["metadata"]["labels"]["team"] = "blue"
        n["spec"]["taints"] = []
        return n

    await service.test_registry.mutate(nodes, "", "w1", edit)
    await service._register(registration(taints=[("dedicated", "gpu", "NoSchedule")]))
    w1 = await node(service)
    assert w1["metadata"]["labels"]["team"] == "blue"
    assert w1["spec"]["taints"] == []


async def test_marking_a_deleted_node_is_harmless(service):
    await service.mark_unknown("never-existed", "test")


def test_tokens_are_checked_exactly(tmp_path):
    token = pki.new_bootstrap_token()
    (tmp_path / "tokens").write_text(f"# comment\n{token}\n")
    tokens = BootstrapTokens(tmp_path / "tokens")
    assert tokens.accepts(token)
    assert not tokens.accepts(token[:-1] + ("y" if token.endswith("x") else "x"))
    assert not tokens.accepts("")
    assert not BootstrapTokens(tmp_path / "missing").accepts(token)


async def test_lease_monitor_marks_expired_nodes(service):
    await service._register(registration("w1"))
    await service._register(registration("w2"))
    for name in ("w1", "w2"):
        await service._heartbeat(name, node_pb2.Heartbeat(ready=True))
    marked = []

    async def mark(name, why):
        marked.append(name)
        await service.mark_unknown(name, why)

    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    fresh = NodeLeaseMonitor(service.test_registry, mark, clock=lambda: soon)
    assert await fresh.check_once() == []
    expired = NodeLeaseMonitor(service.test_registry, mark, clock=lambda: later)
    assert await expired.check_once() == ["w1", "w2"]
    assert marked == ["w1", "w2"]
    # Already NotReady nodes are not marked again.
    assert await expired.check_once() == []
    assert expired.interval == 0.5  # two nodes: the base interval
    # Checks space out as nodes grow (here a second per node, to show it with two).
    spaced = NodeLeaseMonitor(service.test_registry, mark, seconds_per_node=1, clock=lambda: soon)
    await spaced.check_once()
    assert spaced.interval == 2.0


def test_with_ready_moves_transition_time_only_on_change():
    node = node_objects.new_node(registration(), "10.244.0.0/24")
    ready = node_objects.with_ready(node, "True", "KubeletReady", "ok")
    first = meta.condition(ready, "Ready")["lastTransitionTime"]
    again = node_objects.with_ready(ready, "True", "KubeletReady", "ok")
    assert meta.condition(again, "Ready")["lastTransitionTime"] == first


def _pod(name, node_name=None, **status):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": name}, "spec": spec, **({"status": status} if status else {})}


async def test_pod_feed_sends_the_nodes_pods_then_changes(service):
    registry = service.test_registry
    pods = registry.kinds.get("pods")
    await registry.create(pods, "default", _pod("mine", "w1"))
    await registry.create(pods, "default", _pod("theirs", "w2"))
    sent: list = []
    feed = PodFeed(registry, "w1", retry_interval=0.01)
    task = asyncio.create_task(feed.run(sent.append))
    try:
        for _ in range(100):
            if any(m.WhichOneof("kind") == "pods_synced" for m in sent):
                break
            await asyncio.sleep(0.01)
        kinds = [m.WhichOneof("kind") for m in sent]
        assert kinds == ["pod", "pods_synced"]
        assert json.loads(sent[0].pod.pod_json)["metadata"]["name"] == "mine"
        await registry.create(pods, "default", _pod("later", "w1"))
        await registry.delete(pods, "default", "mine", DeleteOptions(grace_period_seconds=0))
        for _ in range(100):
            if any(m.WhichOneof("kind") == "pod_removed" for m in sent):
                break
            await asyncio.sleep(0.01)
        assert [m.WhichOneof("kind") for m in sent[2:]] == ["pod", "pod_removed"]
        assert sent[3].pod_removed.name == "mine"
    finally:
        task.cancel()


async def test_reports_write_status_events_and_confirm_deletion(service):
    registry = service.test_registry
    pods = registry.kinds.get("pods")
    created = await registry.create(pods, "default", _pod("p", "w1"))
    uid = created["metadata"]["uid"]
    reports = PodReports(registry, "w1")
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    await reports.status(
        node_pb2.PodStatusReport(
            namespace="default", name="p", uid=uid, status_json=json.dumps(status).encode()
        )
    )
    stored = await registry.get(pods, "default", "p")
    assert stored["status"]["phase"] == "Running"
    # Another node cannot report on it.
    other = PodReports(registry, "w2")
    await other.status(
        node_pb2.PodStatusReport(
            namespace="default", name="p", uid=uid, status_json=b'{"phase": "Failed"}'
        )
    )
    assert (await registry.get(pods, "default", "p"))["status"]["phase"] == "Running"
    for _ in range(2):
        await reports.event(
            node_pb2.EventReport(
                namespace="default",
                pod_name="p",
                pod_uid=uid,
                type="Warning",
                reason="BackOff",
                message="again",
            )
        )
    events = await registry.list(registry.kinds.get("events"), "default", ListOptions())
    assert [e["count"] for e in events.items] == [2]
    await registry.delete(pods, "default", "p")  # bound: graceful, waits for the kubelet
    await reports.terminated(node_pb2.PodTerminated(namespace="default", name="p", uid=uid))
    assert await registry.find(pods, "default", "p") is None


def test_merged_status_keeps_other_conditions_and_finished_phases():
    current = {
        "status": {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
        }
    }
    reported = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    merged = merged_status(current, reported)
    assert [c["type"] for c in merged["conditions"]] == ["PodScheduled", "Ready"]
    assert merged["qosClass"] == "BestEffort" and merged["phase"] == "Running"
    done = {"status": {"phase": "Succeeded"}}
    assert merged_status(done, {"phase": "Running"})["phase"] == "Succeeded"


async def test_a_node_reads_its_pods_claims_and_the_volumes_pinned_to_it(service):
    registry = service.test_registry
    await service._register(registration("w1"))
    await service._register(registration("w2"))
    volumes, claims, pods = (
        registry.kinds.get(p) for p in ("persistentvolumes", "persistentvolumeclaims", "pods")
    )

    def pinned(name, node_name, claim=None):
        spec = {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": f"/tmp/{name}"},
        }
        if node_name:
            term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}
            spec["nodeAffinity"] = {
                "required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}
            }
        if claim:
            spec["claimRef"] = {"namespace": "default", "name": claim}
        return {"metadata": {"name": name}, "spec": spec}

    await registry.create(volumes, "", pinned("on-w1", "w1"))
    await registry.create(volumes, "", pinned("anywhere", "", claim="data"))
    await registry.create(
        claims,
        "default",
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
         "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "anywhere"}},
    )  # fmt: skip
    await registry.create(
        pods,
        "default",
        {"metadata": {"name": "p"}, "spec": {"nodeName": "w2", "containers": [
            {"name": "c", "image": "busybox"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}},
    )  # fmt: skip
    assert await service._volume_readable("w1", "on-w1")
    assert not await service._volume_readable("w2", "on-w1")
    assert await service._volume_readable("w2", "anywhere")  # its pod uses the claim
    assert not await service._volume_readable("w1", "anywhere")
    assert await service._volume_readable("w1", "gone")  # answered as not found
    assert await service._referenced("w2", "persistentvolumeclaims", "default", "data")
    assert not await service._referenced("w1", "persistentvolumeclaims", "default", "data")
