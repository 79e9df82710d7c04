"""kube_deployment_* series (kube-state-metrics' deployment-metrics.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import Metric

from control_plane.state_metrics.family import Family
from control_plane.state_metrics.pods import CONDITION_STATES, timestamp
from ku7s.api import meta

Object = dict[str, Any]
DEPLOYMENT = ["namespace", "deployment"]
#: series name -> (help, where the value is in the object)
REPLICAS = {
    "kube_deployment_spec_replicas": ("Number of desired pods for a deployment.", "spec.replicas"),
    "kube_deployment_status_replicas": (
        "The number of replicas per deployment.",
        "status.replicas",
    ),
    "kube_deployment_status_replicas_ready": (
        "The number of ready replicas per deployment.",
        "status.readyReplicas",
    ),
    "kube_deployment_status_replicas_available": (
        "The number of available replicas per deployment.",
        "status.availableReplicas",
    ),
    "kube_deployment_status_replicas_unavailable": (
        "The number of unavailable replicas per deployment.",
        "status.unavailableReplicas",
    ),
    "kube_deployment_status_replicas_updated": (
        "The number of updated replicas per deployment.",
        "status.updatedReplicas",
    ),
    "kube_deployment_status_observed_generation": (
        "The generation observed by the deployment controller.",
        "status.observedGeneration",
    ),
    "kube_deployment_metadata_generation": (
        "Sequence number representing a specific generation of the desired state.",
        "metadata.generation",
    ),
}


def field(obj: Object, path: str) -> float:
    value: Any = obj
    for part in path.split("."):
        value = (value or {}).get(part)
    return float(value or 0)


def deployment_families(deployments: list[Object]) -> Iterator[Metric]:
    families = {name: Family(name, text, DEPLOYMENT) for name, (text, _) in REPLICAS.items()}
    condition = Family(
        "kube_deployment_status_condition",
        "The current status conditions of a deployment.",
        [*DEPLOYMENT, "condition", "status", "reason"],
    )
    created = Family("kube_deployment_created", "Unix creation timestamp", DEPLOYMENT)
    for deployment in deployments:
        ids = {"namespace": meta.namespace_of(deployment), "deployment": meta.name_of(deployment)}
        for name, (_, path) in REPLICAS.items():
            families[name].add(field(deployment, path), **ids)
        for cond in (deployment.get("status") or {}).get("conditions") or []:
            current = str(cond.get("status", "Unknown")).lower()
            for state in CONDITION_STATES:
                condition.add(
                    float(current == state),
                    **ids,
                    condition=cond.get("type", ""),
                    status=state,
                    reason=cond.get("reason", ""),
                )
        created_at = timestamp(deployment["metadata"].get("creationTimestamp"))
        if created_at is not None:
            created.add(created_at, **ids)
    yield from (f.metric for f in families.values())
    yield condition.metric
    yield created.metric
