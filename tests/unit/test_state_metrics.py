"""kube-state-metrics' series from objects, without a cluster: names and labels as upstream's
docs give them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from control_plane.state_metrics.collector import StateMetrics
from ku7s.client.informer import InformerFactory

POD = {
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "u1",
        "creationTimestamp": "2026-11-29T00:00:00Z",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}],
    },
    "spec": {"nodeName": "w1"},
    "status": {
        "phase": "Running",
        "podIP": "10.244.1.2",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {"name": "nginx", "restartCount": 3, "state": {"running": {}}},
            {"name": "side", "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}},
        ],
    },
}
NODE = {
    "metadata": {"name": "w1"},
    "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
    "status": {
        "conditions": [{"type": "Ready", "status": "False"}],
        "allocatable": {"cpu": "1500m", "memory": "1Gi", "pods": "110"},
        "nodeInfo": {"kubeletVersion": "v1.33.0"},
    },
}
DEPLOYMENT = {
    "metadata": {"name": "web", "namespace": "shop", "generation": 4},
    "spec": {"replicas": 3},
    "status": {
        "replicas": 3,
        "readyReplicas": 2,
        "unavailableReplicas": 1,
        "observedGeneration": 4,
    },
}


def test_pods_nodes_and_deployments_as_kube_state_metrics_names_them():
    state = StateMetrics(InformerFactory(None))  # type: ignore[arg-type]
    state.pods._apply("ADDED", POD)
    state.nodes._apply("ADDED", NODE)
    state.deployments._apply("ADDED", DEPLOYMENT)
    registry = CollectorRegistry()
    registry.register(state)
    value = registry.get_sample_value
    pod = {"namespace": "shop", "pod": "web-1", "uid": "u1"}
    assert value("kube_pod_status_phase", {**pod, "phase": "Running"}) == 1
    assert value("kube_pod_status_phase", {**pod, "phase": "Pending"}) == 0
    assert value("kube_pod_status_ready", {**pod, "condition": "true"}) == 1
    nginx = {**pod, "container": "nginx"}
    assert value("kube_pod_container_status_restarts_total", nginx) == 3
    assert value("kube_pod_container_status_running", nginx) == 1
    side = {**pod, "container": "side", "reason": "ErrImagePull"}
    assert value("kube_pod_container_status_waiting_reason", side) == 1
    owner = {
        **pod,
        "owner_kind": "ReplicaSet",
        "owner_name": "web-abc",
        "owner_is_controller": "true",
    }
    assert value("kube_pod_owner", owner) == 1
    assert value("kube_pod_created", pod) == 1795910400.0
    assert (
        value("kube_node_status_condition", {"node": "w1", "condition": "Ready", "status": "false"})
        == 1
    )
    cpu = {"node": "w1", "resource": "cpu", "unit": "core"}
    assert value("kube_node_status_allocatable", cpu) == 1.5
    assert (
        value("kube_node_status_allocatable", {"node": "w1", "resource": "memory", "unit": "byte"})
        == 2**30
    )
    taint = {"node": "w1", "key": "k", "value": "v", "effect": "NoSchedule"}
    assert value("kube_node_spec_taint", taint) == 1
    deployment = {"namespace": "shop", "deployment": "web"}
    assert value("kube_deployment_spec_replicas", deployment) == 3
    assert value("kube_deployment_status_replicas_ready", deployment) == 2
    assert value("kube_deployment_status_replicas_unavailable", deployment) == 1
    assert value("kube_deployment_metadata_generation", deployment) == 4
