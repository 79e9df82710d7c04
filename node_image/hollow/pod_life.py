"""A pod's life on a hollow node, on paper: no container runs; the pod's status at any moment
follows from when it was assigned and its script.

The script comes from the node's defaults and the pod's annotations, as KWOK's stages do:

- ``hollow.ku7s.dev/start-delay``: how long its containers take to start (default: the
  node's, 1 s ± jitter);
- ``hollow.ku7s.dev/run-time``: how long each container runs before it exits (default:
  for ever, or the node's job run time for a pod that does not restart);
- ``hollow.ku7s.dev/exit-code``: how the containers exit (default 0);
- ``hollow.ku7s.dev/ready-for``: how long containers stay ready once started (then they
  are running but unready, as after a failing readiness probe).

The status is built by the real kubelet's rules (pod_status), from container records made
up for the moment asked about, with a condition ``ku7s.dev/Hollow`` saying nothing runs.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from ku7s.api import meta
from ku7s.api.meta import HOLLOW_CONDITION
from ku7s.durations import InvalidDuration, parse_duration
from node_image.kubelet.pod_status import (
    EXITED,
    RUNNING,
    ContainerRecord,
    Observed,
    phase,
    pod_status,
    rfc3339,
)

Object = dict[str, Any]

PREFIX = "hollow.ku7s.dev/"
START_DELAY = PREFIX + "start-delay"
RUN_TIME = PREFIX + "run-time"
EXIT_CODE = PREFIX + "exit-code"
READY_FOR = PREFIX + "ready-for"


class ScriptError(ValueError):
    """An annotation of the script cannot be read (the event says which)."""


@dataclass(frozen=True)
class Defaults:
    """A hollow node's script for pods that say nothing."""

    start_delay: float = 1.0
    jitter: float = 0.2
    #: How long the containers of a pod that does not restart (a Job's) run.
    job_run_time: float = 5.0


@dataclass(frozen=True)
class Script:
    start_delay: float
    run_time: float | None = None
    exit_code: int = 0
    ready_for: float | None = None


def parse_seconds(value: str, name: str) -> float:
    """A duration in an annotation or flag (0 allowed); the error names where it was."""
    try:
        return parse_duration(value, zero_allowed=True)
    except InvalidDuration as e:
        raise ScriptError(f"{name}: {e}") from None


def script_of(pod: Object, defaults: Defaults, rng: random.Random) -> Script:
    """The pod's script: its annotations over the node's defaults."""
    notes = meta.annotations_of(pod)
    delay = defaults.start_delay + rng.uniform(-defaults.jitter, defaults.jitter)
    if START_DELAY in notes:
        delay = parse_seconds(notes[START_DELAY], START_DELAY)
    restarts = (pod.get("spec") or {}).get("restartPolicy", "Always") != "Never"
    run_time = None if restarts else defaults.job_run_time
    if RUN_TIME in notes:
        run_time = parse_seconds(notes[RUN_TIME], RUN_TIME)
    exit_code = 0
    if EXIT_CODE in notes:
        try:
            exit_code = int(notes[EXIT_CODE])
        except ValueError:
            raise ScriptError(f"{EXIT_CODE}: {notes[EXIT_CODE]!r} is not a number") from None
    ready_for = parse_seconds(notes[READY_FOR], READY_FOR) if READY_FOR in notes else None
    return Script(max(delay, 0.0), run_time, exit_code, ready_for)


def _container_id(pod_uid: str, name: str, attempt: int) -> str:
    return hashlib.sha256(f"{pod_uid}/{name}/{attempt}".encode()).hexdigest()


class HollowPod:
    """One pod's life, from the moment it was assigned (seconds since the epoch)."""

    def __init__(
        self, pod: Object, script: Script, assigned_at: float, host_ip: str, pod_ip: str
    ) -> None:
        self.pod = pod
        self.script = script
        self.assigned_at = assigned_at
        self._host_ip = host_ip
        self._pod_ip = pod_ip
        spec = pod.get("spec") or {}
        self._policy = spec.get("restartPolicy", "Always")
        self._restarts = self._policy == "Always" or (
            self._policy == "OnFailure" and script.exit_code != 0
        )

    @property
    def pod_ip(self) -> str:
        return self._pod_ip

    @property
    def started_at(self) -> float:
        return self.assigned_at + self.script.start_delay

    def _attempts(self, now: float) -> tuple[int, float, float | None]:
        """(restart count, start of the current run, its end if it has ended)."""
        run = self.script.run_time
        if run is None or now < self.started_at:
            return 0, self.started_at, None
        elapsed = now - self.started_at
        if not self._restarts:
            return 0, self.started_at, self.started_at + run if elapsed >= run else None
        if run <= 0:
            run = 1.0  # a container that ends at once still takes a moment to restart
        count = int(elapsed // run)
        return count, self.started_at + count * run, None

    def observed(self, now: float) -> Observed:
        observed = Observed(
            host_ip=self._host_ip,
            start_time=rfc3339(int(self.assigned_at * 1e9)),
            sandbox_ready=now >= self.started_at,
            pod_ip=self._pod_ip if now >= self.started_at else "",
        )
        spec = self.pod.get("spec") or {}
        uid = meta.uid_of(self.pod)
        started_ns = int(self.started_at * 1e9)
        for init in spec.get("initContainers") or []:
            if now >= self.started_at:
                observed.latest[init["name"]] = ContainerRecord(
                    _container_id(uid, init["name"], 0), init["name"], uid, EXITED,
                    created_at=started_ns, started_at=started_ns, finished_at=started_ns,
                )  # fmt: skip
        count, run_started, ended = self._attempts(now)
        for container in spec.get("containers") or []:
            name = container["name"]
            if now < self.started_at:
                continue
            record = ContainerRecord(
                _container_id(uid, name, count), name, uid,
                EXITED if ended is not None else RUNNING,
                restart_count=count,
                created_at=int(run_started * 1e9),
                started_at=int(run_started * 1e9),
                finished_at=int(ended * 1e9) if ended is not None else 0,
                exit_code=self.script.exit_code if ended is not None else 0,
            )  # fmt: skip
            observed.latest[name] = record
            if count:
                previous_start = run_started - (self.script.run_time or 0)
                observed.previous[name] = ContainerRecord(
                    _container_id(uid, name, count - 1), name, uid, EXITED,
                    restart_count=count - 1,
                    created_at=int(previous_start * 1e9),
                    started_at=int(previous_start * 1e9),
                    finished_at=int(run_started * 1e9),
                    exit_code=self.script.exit_code,
                )  # fmt: skip
            if record.state == RUNNING:
                observed.started.add(name)
                ready_until = (
                    None if self.script.ready_for is None else run_started + self.script.ready_for
                )
                if ready_until is None or now < ready_until:
                    observed.ready.add(name)
        return observed

    def status(self, now: float) -> Object:
        status = pod_status(self.pod, self.observed(now))
        status["conditions"].append(
            {
                "type": HOLLOW_CONDITION,
                "status": "True",
                "reason": "HollowNode",
                "message": "the pod's node is hollow: no container runs",
            }
        )
        return status

    def finished(self, now: float) -> bool:
        return phase(self.pod.get("spec") or {}, self.observed(now)) in ("Succeeded", "Failed")

    def next_change(self, now: float) -> float | None:
        """When the status changes next (None: never, until the pod changes)."""
        moments = [self.started_at]
        run = self.script.run_time
        _, run_started, ended = self._attempts(now)
        if run is not None and ended is None:
            moments.append(run_started + (run if run > 0 or not self._restarts else 1.0))
        if self.script.ready_for is not None:
            moments.append(run_started + self.script.ready_for)
        later = [m for m in moments if m > now]
        return min(later) if later else None
