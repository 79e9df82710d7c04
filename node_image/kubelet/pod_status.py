"""A pod's status as the kubelet reports it, computed from what the runtime holds.

Pure functions of the pod, the runtime's containers and the worker's notes (why a
container waits, which are ready), so that the rules upstream's kubelet follows for phase,
conditions and container states can be tested without a runtime.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ku7s.rpc import cri_pb2

Object = dict[str, Any]

RUNNING, EXITED, CREATED = (
    cri_pb2.CONTAINER_RUNNING,
    cri_pb2.CONTAINER_EXITED,
    cri_pb2.CONTAINER_CREATED,
)


def rfc3339(nanoseconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(nanoseconds / 1e9, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerRecord:
    """One instance of a container in the runtime, with the details the status needs."""

    id: str
    name: str
    sandbox_id: str
    state: int
    restart_count: int = 0
    spec_hash: str = ""
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image_ref: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == EXITED and self.exit_code == 0

    def terminated(self) -> Object:
        reason = self.reason or ("Completed" if self.exit_code == 0 else "Error")
        state: Object = {
            "exitCode": self.exit_code,
            "reason": reason,
            "containerID": f"containerd://{self.id}",
        }
        if self.message:
            state["message"] = self.message
        if self.started_at:
            state["startedAt"] = rfc3339(self.started_at)
        if self.finished_at:
            state["finishedAt"] = rfc3339(self.finished_at)
        return {"terminated": state}


@dataclass
class Observed:
    """What the pod worker knows beyond the runtime's containers."""

    #: The newest instance of each container (by name) in the current sandbox.
    latest: dict[str, ContainerRecord] = field(default_factory=dict)
    #: The instance before it, for lastState.
    previous: dict[str, ContainerRecord] = field(default_factory=dict)
    #: Why a container has no running instance: (reason, message), e.g. CrashLoopBackOff.
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Containers whose readiness probe passes (or that have none and run).
    ready: set[str] = field(default_factory=set)
    #: Containers whose startup probe passed (or that have none and run).
    started: set[str] = field(default_factory=set)
    sandbox_ready: bool = False
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str = ""
    #: Set when the pod is being stopped for good.
    terminating: bool = False


class ProbeState(Protocol):
    """How a running container's probes stand (ku7s' ContainerProbes)."""

    @property
    def ready(self) -> bool: ...

    @property
    def started(self) -> bool: ...


def observe(
    observed: Observed, records: Iterable[ContainerRecord], probes: Mapping[str, ProbeState]
) -> None:
    """Update what the status is made of from the runtime's container instances: the
    newest and the one before of each container, and which running ones are ready and
    started (by their probes, keyed by instance id; one without probes is both)."""
    by_name: dict[str, list[ContainerRecord]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    observed.latest, observed.previous = {}, {}
    for name, instances in by_name.items():
        instances.sort(key=lambda r: (r.restart_count, r.created_at))
        observed.latest[name] = instances[-1]
        if len(instances) > 1:
            observed.previous[name] = instances[-2]
    observed.ready, observed.started = set(), set()
    for name, record in observed.latest.items():
        if record.state != RUNNING:
            continue
        state = probes.get(record.id)
        if state is None or state.ready:
            observed.ready.add(name)
        if state is None or state.started:
            observed.started.add(name)


def _container_status(spec: Object, observed: Observed, default_wait: str) -> Object:
    name = spec["name"]
    latest = observed.latest.get(name)
    previous = observed.previous.get(name)
    status: Object = {
        "name": name,
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": False,
        "restartCount": latest.restart_count if latest else 0,
        "started": False,
        "state": {"waiting": {"reason": default_wait}},
        "lastState": {},
    }
    if latest is not None:
        status["containerID"] = f"containerd://{latest.id}"
        status["imageID"] = latest.image_ref
    waiting = observed.waiting.get(name)
    if latest is not None and latest.state == RUNNING and waiting is None:
        status["state"] = {
            "running": {"startedAt": rfc3339(latest.started_at or latest.created_at)}
        }
        status["ready"] = name in observed.ready
        status["started"] = name in observed.started
        if previous is not None and previous.state == EXITED:
            status["lastState"] = previous.terminated()
    elif latest is not None and latest.state == EXITED and waiting is None:
        status["state"] = latest.terminated()
        if previous is not None and previous.state == EXITED:
            status["lastState"] = previous.terminated()
    else:
        reason, message = waiting or (default_wait, "")
        status["state"] = {
            "waiting": {"reason": reason, **({"message": message} if message else {})}
        }
        ran = latest if latest is not None and latest.state == EXITED else previous
        if ran is not None and ran.state == EXITED:
            status["lastState"] = ran.terminated()
    return status


def phase(spec: Object, observed: Observed) -> str:
    """Pending, Running, Succeeded or Failed, by upstream's rules."""
    policy = spec.get("restartPolicy", "Always")
    for init in spec.get("initContainers") or []:
        latest = observed.latest.get(init["name"])
        if latest is not None and latest.succeeded:
            continue
        if latest is not None and latest.state == EXITED and policy == "Never":
            return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for container in spec.get("containers") or []:
        latest = observed.latest.get(container["name"])
        if latest is not None and latest.state == RUNNING:
            running += 1
        elif latest is not None and latest.state == EXITED:
            stopped += 1
            succeeded += latest.succeeded
        elif container["name"] in observed.previous:
            stopped += 1  # waiting to restart
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Object:
    condition: Object = {"type": kind, "status": "True" if ok else "False"}
    if not ok and reason:
        condition["reason"] = reason
    if not ok and message:
        condition["message"] = message
    return condition


def pod_status(pod: Object, observed: Observed) -> Object:
    """The status to report; lastTransitionTime comes from stamp_transitions()."""
    spec = pod.get("spec") or {}
    inits = spec.get("initContainers") or []
    containers = spec.get("containers") or []
    pending_inits = [
        c["name"]
        for c in inits
        if not (observed.latest.get(c["name"]) and observed.latest[c["name"]].succeeded)
    ]
    init_statuses = [_container_status(c, observed, "PodInitializing") for c in inits]
    app_wait = "PodInitializing" if pending_inits else "ContainerCreating"
    app_statuses = [_container_status(c, observed, app_wait) for c in containers]
    current_phase = phase(spec, observed)
    unready = [s["name"] for s in app_statuses if not s["ready"]]
    finished = current_phase in ("Succeeded", "Failed")
    if finished:
        ready_condition = _condition("ContainersReady", False, "PodCompleted")
    elif unready:
        ready_condition = _condition(
            "ContainersReady",
            False,
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    else:
        ready_condition = _condition("ContainersReady", True)
    conditions = [
        _condition("PodReadyToStartContainers", observed.sandbox_ready and not finished),
        (
            _condition(
                "Initialized",
                False,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(pending_inits)}]",
            )
            if pending_inits
            else _condition("Initialized", True)
        ),
        ready_condition,
        {**ready_condition, "type": "Ready"},
    ]
    status: Object = {
        "phase": current_phase,
        "conditions": conditions,
        "hostIP": observed.host_ip,
        "hostIPs": [{"ip": observed.host_ip}] if observed.host_ip else [],
        "containerStatuses": app_statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if observed.pod_ip:
        status["podIP"] = observed.pod_ip
        status["podIPs"] = [{"ip": observed.pod_ip}]
    if observed.start_time:
        status["startTime"] = observed.start_time
    return status


def stamp_transitions(status: Object, previous: Object | None, now: str) -> Object:
    """Give each condition a lastTransitionTime: the old one while its status holds."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    for condition in status.get("conditions") or []:
        old = before.get(condition["type"])
        if (
            old is not None
            and old.get("status") == condition["status"]
            and old.get("lastTransitionTime")
        ):
            condition["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            condition["lastTransitionTime"] = now
        condition.setdefault("lastProbeTime", None)
    return status
