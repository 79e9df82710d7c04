"""kube_node_* series (kube-state-metrics' node-metrics.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import Metric

from control_plane.state_metrics.family import Family
from control_plane.state_metrics.pods import CONDITION_STATES, timestamp
from ku7s.api import meta
from ku7s.api.quantity import QuantityError, parse_quantity

Object = dict[str, Any]
#: The unit kube-state-metrics gives each resource.
UNITS = {"cpu": "core", "memory": "byte", "pods": "integer", "ephemeral-storage": "byte"}


def node_families(nodes: list[Object]) -> Iterator[Metric]:
    info = Family(
        "kube_node_info",
        "Information about a cluster node.",
        [
            "node",
            "kernel_version",
            "os_image",
            "container_runtime_version",
            "kubelet_version",
            "kubeproxy_version",
            "provider_id",
            "pod_cidr",
            "internal_ip",
            "system_uuid",
        ],
    )
    condition = Family(
        "kube_node_status_condition",
        "The condition of a cluster node.",
        ["node", "condition", "status"],
    )
    unschedulable = Family(
        "kube_node_spec_unschedulable", "Whether a node can schedule new pods.", ["node"]
    )
    taint = Family(
        "kube_node_spec_taint", "The taint of a cluster node.", ["node", "key", "value", "effect"]
    )
    capacity = Family(
        "kube_node_status_capacity",
        "The capacity for different resources of a node.",
        ["node", "resource", "unit"],
    )
    allocatable = Family(
        "kube_node_status_allocatable",
        "The allocatable for different resources of a node that are available for scheduling.",
        ["node", "resource", "unit"],
    )
    created = Family("kube_node_created", "Unix creation timestamp", ["node"])
    for node in nodes:
        name = meta.name_of(node)
        spec, status = node.get("spec") or {}, node.get("status") or {}
        system = status.get("nodeInfo") or {}
        internal = next(
            (
                a.get("address", "")
                for a in status.get("addresses") or []
                if a.get("type") == "InternalIP"
            ),
            "",
        )
        info.add(
            1,
            node=name,
            kernel_version=system.get("kernelVersion", ""),
            os_image=system.get("osImage", ""),
            container_runtime_version=system.get("containerRuntimeVersion", ""),
            kubelet_version=system.get("kubeletVersion", ""),
            kubeproxy_version=system.get("kubeProxyVersion", ""),
            provider_id=spec.get("providerID", ""),
            pod_cidr=spec.get("podCIDR", ""),
            internal_ip=internal,
            system_uuid=system.get("systemUUID", ""),
        )
        for cond in status.get("conditions") or []:
            current = str(cond.get("status", "Unknown")).lower()
            for state in CONDITION_STATES:
                condition.add(
                    float(current == state), node=name, condition=cond.get("type", ""), status=state
                )
        unschedulable.add(float(bool(spec.get("unschedulable"))), node=name)
        for t in spec.get("taints") or []:
            taint.add(
                1,
                node=name,
                key=t.get("key", ""),
                value=t.get("value", ""),
                effect=t.get("effect", ""),
            )
        for family, amounts in (
            (capacity, status.get("capacity")),
            (allocatable, status.get("allocatable")),
        ):
            for resource, amount in sorted((amounts or {}).items()):
                try:
                    value = float(parse_quantity(str(amount)))
                except QuantityError:
                    continue
                family.add(
                    value,
                    node=name,
                    resource=resource.replace("-", "_"),
                    unit=UNITS.get(resource, "integer"),
                )
        created_at = timestamp(node["metadata"].get("creationTimestamp"))
        if created_at is not None:
            created.add(created_at, node=name)
    for family in (info, condition, unschedulable, taint, capacity, allocatable, created):
        yield family.metric
