"""Pods: defaults as upstream, status reset to Pending on create, a spec that only changes
its images after creation, graceful deletion once bound, and the printer kubectl shows."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.pod_spec import default_pod_spec, validate_pod_spec
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, since
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

#: Tolerations the DefaultTolerationSeconds admission plugin adds to every pod.
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
_UPDATABLE = (
    "spec.containers[*].image",
    "spec.initContainers[*].image",
    "spec.activeDeadlineSeconds",
    "spec.tolerations (only additions to existing tolerations)",
    "spec.terminationGracePeriodSeconds (allow it to be set to 1 if it was previously negative)",
)


def qos_class(spec: Object) -> str:
    containers = [
        c
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
        if isinstance(c, dict)
    ]
    requests_any = guaranteed = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if limits or requests:
            requests_any = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits.get(name)) != limits.get(name):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod_status_cells(pod: Object) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS as kubectl's pod printer computes them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase", "")
    restarts, ready, last_restart = 0, 0, ""
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, container in enumerate(init_statuses):
        restarts += int(container.get("restartCount", 0))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        initializing = True
        if terminated:
            reason = "Init:" + (
                terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            )
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    if not initializing:
        restarts, has_running = 0, False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount", 0))
            finished = ((container.get("lastState") or {}).get("terminated") or {}).get(
                "finishedAt"
            )
            if finished and finished > last_restart:
                last_restart = finished
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated:
                reason = terminated.get("reason") or (
                    f"Signal:{terminated['signal']}"
                    if terminated.get("signal")
                    else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if meta.condition(pod, "Ready") else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restart_text = str(restarts)
    if restarts and last_restart:
        restart_text = f"{restarts} ({since(last_restart)} ago)"
    return f"{ready}/{len(spec.get('containers') or [])}", reason, restart_text


def _masked_spec(spec: Object) -> Object:
    masked = copy.deepcopy(spec)
    for kind in ("containers", "initContainers"):
        for container in masked.get(kind) or []:
            if isinstance(container, dict):
                container.pop("image", None)
    for part in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        masked.pop(part, None)
    return masked


class PodKind(Kind):
    returns_deleted_object = True
    resource = ResourceType(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        short_names=("po",),
        categories=("all",),
        subresources=("status", "binding", "eviction", "log", "exec", "attach", "portforward"),
    )
    resets_status_on_create = True
    graceful = True
    watch_index = "spec.nodeName"
    field_paths: ClassVar[tuple[str, ...]] = (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        AGE,
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]

    def __init__(self, toleration_seconds: dict[str, int] | None = None) -> None:
        self._toleration_seconds = toleration_seconds or {
            NOT_READY_TAINT: DEFAULT_TOLERATION_SECONDS,
            UNREACHABLE_TAINT: DEFAULT_TOLERATION_SECONDS,
        }

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        tolerations = spec.setdefault("tolerations", [])
        if isinstance(tolerations, list):
            for key, seconds in self._toleration_seconds.items():
                if not any(
                    isinstance(t, dict)
                    and t.get("key") == key
                    and t.get("effect") in (None, "", "NoExecute")
                    for t in tolerations
                ):
                    tolerations.append(
                        {
                            "key": key,
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": seconds,
                        }
                    )

    def prepare_for_update(self, old: Object, new: Object, subresource: str | None) -> Object:
        if subresource == "binding":  # the node and the PodScheduled condition, nothing else
            result = copy.deepcopy(old)
            result.setdefault("spec", {})["nodeName"] = (new.get("spec") or {}).get("nodeName")
            result["status"] = new.get("status", {})
            return result
        return super().prepare_for_update(old, new, subresource)

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        validate_pod_spec("spec", obj.get("spec"), errors)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if _masked_spec(old_spec) != _masked_spec(new_spec):
            errors.forbidden(
                "spec",
                "pod updates may not change fields other than "
                + ",".join(f"`{f}`" for f in _UPDATABLE),
            )
        old_tolerations = old_spec.get("tolerations") or []
        new_tolerations = new_spec.get("tolerations") or []
        if any(t not in new_tolerations for t in old_tolerations):
            errors.forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )

    def row(self, obj: Object) -> list[Any]:
        ready, status, restarts = _pod_status_cells(obj)
        spec, pod_status = obj.get("spec") or {}, obj.get("status") or {}
        ips = pod_status.get("podIPs") or []
        gates = spec.get("readinessGates") or []
        if gates:
            true = {
                c.get("type")
                for c in pod_status.get("conditions") or []
                if c.get("status") == "True"
            }
            gate_text = f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
        else:
            gate_text = "<none>"
        return [
            meta.name_of(obj),
            ready,
            status,
            restarts,
            age(obj),
            (ips[0].get("ip") if ips else pod_status.get("podIP")) or "<none>",
            spec.get("nodeName") or "<none>",
            pod_status.get("nominatedNodeName") or "<none>",
            gate_text,
        ]


def bind(pod: Object, node_name: str) -> Object:
    """The pod once the scheduler's Binding lands: its node set, PodScheduled true."""
    pod = copy.deepcopy(pod)
    pod.setdefault("spec", {})["nodeName"] = node_name
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": meta.now_rfc3339(),
        }
    )
    return pod
