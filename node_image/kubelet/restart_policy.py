"""What to do next about one container, from its newest instance, the pod's restart
policy and the CrashLoopBackOff delay, as upstream's computePodActions decides it; the pod
worker then does it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node_image.kubelet import container_config as cc
from node_image.kubelet.pod_status import CREATED, EXITED, RUNNING, ContainerRecord
from node_image.kubelet.restart_backoff import RestartBackoff

Object = dict[str, Any]

#: The container runs as it should.
KEEP = "keep"
#: It runs, but its definition changed: stop it (a new one is made once it has exited).
REPLACE = "replace"
#: It was created and not started: start it.
START = "start"
#: Make a new instance (the first, or a restart).
CREATE = "create"
#: It exited and must wait for its back-off before it runs again.
BACK_OFF = "back-off"
#: It exited and is not to run again.
DONE = "done"


@dataclass(frozen=True)
class Step:
    action: str
    #: The instance to start or stop (START, REPLACE).
    record: ContainerRecord | None = None
    #: The new instance's restart count (CREATE).
    restart_count: int = 0
    #: Seconds left to wait, and the back-off delay in force (BACK_OFF).
    wait: float = 0.0
    delay: float = 0.0


def next_step(
    container: Object,
    latest: ContainerRecord | None,
    sandbox_id: str,
    policy: str,
    *,
    init: bool,
    restart_anyway: bool,
    backoff: RestartBackoff,
) -> Step:
    """``restart_anyway``: the container failed a probe or changed, so it restarts whatever
    the policy; ``backoff`` is advanced when a restart happens now."""
    name = container["name"]
    if latest is not None and latest.sandbox_id != sandbox_id and latest.state != EXITED:
        latest = None  # left behind in a sandbox that is gone
    if latest is None:
        return Step(CREATE)
    if latest.state == RUNNING:
        changed = bool(latest.spec_hash) and latest.spec_hash != cc.spec_hash(container)
        return Step(REPLACE if changed else KEEP, latest)
    if latest.state == CREATED:
        return Step(START, latest)
    if latest.sandbox_id == sandbox_id or latest.succeeded:
        wanted = restart_anyway or (
            latest.exit_code != 0 if init or policy == "OnFailure" else policy == "Always"
        )
        if (init and policy == "Never") or not wanted:
            return Step(DONE, latest)
    wait = backoff.wait(name, latest.started_at, latest.finished_at)
    if wait > 0:
        return Step(BACK_OFF, latest, wait=wait, delay=backoff.delay(name))
    return Step(CREATE, latest, restart_count=latest.restart_count + 1)
