"""kube_pod_* series (kube-state-metrics' pod-metrics.md)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import Metric

from control_plane.state_metrics.family import Family
from ku7s.api import meta

Object = dict[str, Any]
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
CONDITION_STATES = ("true", "false", "unknown")
POD = ["namespace", "pod", "uid"]


def timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time, as kube-state-metrics reports times."""
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def condition_status(obj: Object, kind: str) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status", "Unknown")).lower()
    return ""


def pod_families(pods: list[Object]) -> Iterator[Metric]:
    info = Family(
        "kube_pod_info",
        "Information about pod.",
        [
            *POD,
            "host_ip",
            "pod_ip",
            "node",
            "created_by_kind",
            "created_by_name",
            "priority_class",
            "host_network",
        ],
    )
    phase = Family("kube_pod_status_phase", "The pods current phase.", [*POD, "phase"])
    ready = Family(
        "kube_pod_status_ready",
        "Describes whether the pod is ready to serve requests.",
        [*POD, "condition"],
    )
    scheduled = Family(
        "kube_pod_status_scheduled",
        "Describes the status of the scheduling process for the pod.",
        [*POD, "condition"],
    )
    owner = Family(
        "kube_pod_owner",
        "Information about the Pod's owner.",
        [*POD, "owner_kind", "owner_name", "owner_is_controller"],
    )
    created = Family("kube_pod_created", "Unix creation timestamp", POD)
    started = Family("kube_pod_start_time", "Start time in unix timestamp for a pod.", POD)
    container = [*POD, "container"]
    restarts = Family(
        "kube_pod_container_status_restarts_total",
        "The number of container restarts per container.",
        container,
        counter=True,
    )
    running = Family(
        "kube_pod_container_status_running",
        "Describes whether the container is currently in running state.",
        container,
    )
    waiting = Family(
        "kube_pod_container_status_waiting",
        "Describes whether the container is currently in waiting state.",
        container,
    )
    waiting_reason = Family(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state.",
        [*container, "reason"],
    )
    terminated = Family(
        "kube_pod_container_status_terminated",
        "Describes whether the container is currently in terminated state.",
        container,
    )
    for pod in pods:
        ids = {
            "namespace": meta.namespace_of(pod),
            "pod": meta.name_of(pod),
            "uid": meta.uid_of(pod),
        }
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        controller: Object = next(
            (o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), {}
        )
        info.add(
            1,
            **ids,
            host_ip=status.get("hostIP", ""),
            pod_ip=status.get("podIP", ""),
            node=spec.get("nodeName", ""),
            created_by_kind=controller.get("kind", "<none>"),
            created_by_name=controller.get("name", "<none>"),
            priority_class=spec.get("priorityClassName", ""),
            host_network=str(bool(spec.get("hostNetwork"))).lower(),
        )
        current = status.get("phase", "")
        for value in PHASES:
            phase.add(float(value == current), **ids, phase=value)
        for family, kind in ((ready, "Ready"), (scheduled, "PodScheduled")):
            found = condition_status(pod, kind)
            if found:
                for state in CONDITION_STATES:
                    family.add(float(found == state), **ids, condition=state)
        for ref in pod["metadata"].get("ownerReferences") or [{}]:
            owner.add(
                1,
                **ids,
                owner_kind=ref.get("kind", "<none>"),
                owner_name=ref.get("name", "<none>"),
                owner_is_controller=str(bool(ref.get("controller"))).lower() if ref else "<none>",
            )
        created_at = timestamp(pod["metadata"].get("creationTimestamp"))
        if created_at is not None:
            created.add(created_at, **ids)
        start = timestamp(status.get("startTime"))
        if start is not None:
            started.add(start, **ids)
        for state in status.get("containerStatuses") or []:
            row = {**ids, "container": state.get("name", "")}
            now = state.get("state") or {}
            restarts.add(state.get("restartCount", 0), **row)
            running.add(float("running" in now), **row)
            waiting.add(float("waiting" in now), **row)
            terminated.add(float("terminated" in now), **row)
            if "waiting" in now and (now["waiting"] or {}).get("reason"):
                waiting_reason.add(1, **row, reason=now["waiting"]["reason"])
    for family in (
        info,
        phase,
        ready,
        scheduled,
        owner,
        created,
        started,
        restarts,
        running,
        waiting,
        waiting_reason,
        terminated,
    ):
        yield family.metric
