"""Node and Lease objects as the node service writes them from a kubelet's messages."""

from __future__ import annotations

import copy
from typing import Any

from ku7s.api import meta
from ku7s.rpc import node_pb2

Object = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
_KUBELET_PORT = 10250

#: Labels the kubelet owns; others (set with kubectl label) are left alone on re-registration.
_WELL_KNOWN_PREFIXES = ("kubernetes.io/", "beta.kubernetes.io/", "node.kubernetes.io/")


def _pressure(kind: str, reason: str, message: str, now: str) -> Object:
    return {
        "type": kind,
        "status": "False",
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def ready_condition(status: str, reason: str, message: str, now: str) -> Object:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def _status_from(reg: node_pb2.Registration) -> Object:
    info = reg.node_info
    return {
        "capacity": dict(reg.capacity),
        "allocatable": dict(reg.allocatable),
        "addresses": [{"type": a.type, "address": a.address} for a in reg.addresses],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": _KUBELET_PORT}},
        "nodeInfo": {
            "machineID": info.machine_id,
            "systemUUID": info.system_uuid,
            "bootID": info.boot_id,
            "kernelVersion": info.kernel_version,
            "osImage": info.os_image,
            "containerRuntimeVersion": info.container_runtime_version,
            "kubeletVersion": info.kubelet_version,
            "kubeProxyVersion": info.kube_proxy_version,
            "operatingSystem": info.operating_system,
            "architecture": info.architecture,
        },
    }


def _initial_conditions(now: str) -> list[Object]:
    return [
        _pressure(
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            now,
        ),
        _pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
        _pressure(
            "PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now
        ),
        ready_condition(
            "False",
            "KubeletNotReady",
            "container runtime status check may not have completed yet",
            now,
        ),
    ]


def new_node(reg: node_pb2.Registration, pod_cidr: str) -> Object:
    now = meta.now_rfc3339()
    spec: Object = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    if reg.provider_id:
        spec["providerID"] = reg.provider_id
    if reg.taints:
        spec["taints"] = [
            {k: v for k, v in (("key", t.key), ("value", t.value), ("effect", t.effect)) if v}
            for t in reg.taints
        ]
    status = _status_from(reg)
    status["conditions"] = _initial_conditions(now)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": reg.node_name,
            "labels": dict(reg.labels),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": status,
    }


def reregistered(node: Object, reg: node_pb2.Registration, pod_cidr: str) -> Object:
    """The Node after its kubelet registers again (restart): fresh status, same identity.

    Taints are set only when a node is first created, as the kubelet does, so taints
    removed with kubectl stay removed.
    """
    node = copy.deepcopy(node)
    labels = {
        k: v
        for k, v in (node["metadata"].get("labels") or {}).items()
        if not k.startswith(_WELL_KNOWN_PREFIXES) or k in reg.labels
    }
    labels.update(reg.labels)
    node["metadata"]["labels"] = labels
    spec = node.setdefault("spec", {})
    spec.setdefault("podCIDR", pod_cidr)
    spec.setdefault("podCIDRs", [spec["podCIDR"]])
    if reg.provider_id:
        spec["providerID"] = reg.provider_id
    status = node.setdefault("status", {})
    status.update(_status_from(reg))
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    now = meta.now_rfc3339()
    for fresh in _initial_conditions(now):
        old = conditions.get(fresh["type"])
        if old and old.get("status") == fresh["status"]:
            fresh["lastTransitionTime"] = old.get("lastTransitionTime", now)
        conditions[fresh["type"]] = fresh
    status["conditions"] = list(conditions.values())
    return node


def with_ready(node: Object, status: str, reason: str, message: str) -> Object:
    """The Node with its Ready condition set; lastTransitionTime moves only on a change."""
    node = copy.deepcopy(node)
    now = meta.now_rfc3339()
    conditions = node.setdefault("status", {}).setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == "Ready":
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c.update(status=status, reason=reason, message=message, lastHeartbeatTime=now)
            return node
    conditions.append(ready_condition(status, reason, message, now))
    return node


def new_lease(node: Object, duration_seconds: int) -> Object:
    now = meta.now_rfc3339_micro()
    name = node["metadata"]["name"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": NODE_LEASE_NAMESPACE,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": name,
                    "uid": node["metadata"]["uid"],
                }
            ],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": now,
        },
    }


def renewed(lease: Object, node: Object, duration_seconds: int) -> Object:
    fresh = new_lease(node, duration_seconds)
    lease = copy.deepcopy(lease)
    lease["spec"] = {**(lease.get("spec") or {}), **fresh["spec"]}
    lease["metadata"]["ownerReferences"] = fresh["metadata"]["ownerReferences"]
    return lease
