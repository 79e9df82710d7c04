"""The Job controller: run pods until spec.completions of them succeed, at most
spec.parallelism at a time; give up after backoffLimit failures (or activeDeadlineSeconds),
then remove what still runs. The job's conditions say how it ended."""

from __future__ import annotations

import datetime
import logging
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import (
    PodOwnerController,
    apps_path,
    patch_status,
)
from ku7s.api import meta
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("job-controller")


def _condition(kind: str, reason: str, message: str, now: str) -> Object:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def finished(job: Object) -> bool:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


class JobController(PodOwnerController):
    name: ClassVar[str] = "job"
    owner_kind: ClassVar[str] = "Job"
    owner_path: ClassVar[str] = "/apis/batch/v1/jobs"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.jobs = self.owners
        self._events = EventRecorder(client, "job-controller")

    async def reconcile(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            self.expectations.forget(key)
            return
        spec = job.get("spec") or {}
        status = dict(job.get("status") or {})
        now = meta.now_rfc3339()
        pods = await self._owned.claim(job, spec.get("selector"))
        active = [p for p in pods if pc.is_active(p)]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        # Pods already deleted still count, as the job's status remembers them.
        succeeded = max(succeeded, int(status.get("succeeded", 0)))
        failed = max(failed, int(status.get("failed", 0)))
        if finished(job):
            await self._ttl(job)
            return
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", 6))
        conditions = list(status.get("conditions") or [])
        outcome: Object | None = None
        if failed > backoff_limit:
            outcome = _condition(
                "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now
            )
        elif self._past_deadline(job):
            outcome = _condition(
                "Failed", "DeadlineExceeded", "Job was active longer than specified deadline", now
            )
        elif (completions is not None and succeeded >= int(completions)) or (
            completions is None and succeeded > 0 and not active
        ):
            outcome = _condition(
                "Complete", "CompletionsReached", "Reached expected number of succeeded pods", now
            )
        if outcome is not None:
            if active:
                await self._scaler.delete(key, active)
            kind = outcome["type"]
            # Since 1.31 a finishing job first gets its target condition, then the final one.
            target = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            conditions += [{**outcome, "type": target}, outcome]
            self._events.record(
                job,
                "Normal" if kind == "Complete" else "Warning",
                "Completed" if kind == "Complete" else outcome["reason"],
                "Job completed" if kind == "Complete" else outcome["message"],
            )
        elif self.expectations.satisfied(key) and not job["metadata"].get("deletionTimestamp"):
            remaining = (int(completions) - succeeded) if completions is not None else parallelism
            want = (
                max(0, min(parallelism, remaining))
                if completions is not None
                else (parallelism if succeeded == 0 else 0)
            )
            if len(active) < want:
                template = spec.get("template") or {}
                new = [pc.pod_from_template(template, job) for _ in range(want - len(active))]
                await self._scaler.create(key, meta.namespace_of(job), new)
            elif len(active) > want:
                doomed = sorted(active, key=pc.deletion_rank)[: len(active) - want]
                await self._scaler.delete(key, doomed)
        new_status: Object = {
            "active": len([p for p in active if not pc.is_terminating(p)])
            if outcome is None
            else 0,
            "succeeded": succeeded,
            "failed": failed,
            "ready": sum(1 for p in active if pc.is_ready(p)) if outcome is None else 0,
            "startTime": status.get("startTime") or now,
            "conditions": conditions,
        }
        if outcome is not None and outcome["type"] == "Complete":
            new_status["completionTime"] = now
        await patch_status(
            self.client, apps_path("jobs", job, "batch/v1"), job.get("status") or {}, new_status
        )
        deadline = spec.get("activeDeadlineSeconds")
        if outcome is None and deadline is not None:
            self.queue.add_after(key, 1.0)

    def _past_deadline(self, job: Object) -> bool:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        started = (job.get("status") or {}).get("startTime")
        if deadline is None or not started:
            return False
        elapsed = datetime.datetime.now(datetime.UTC) - meta.parse_time(started)
        return elapsed.total_seconds() >= int(deadline)

    async def _ttl(self, job: Object) -> None:
        """ttlSecondsAfterFinished: a finished job (and its pods) go after that long."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        ended = next(
            (
                c.get("lastTransitionTime")
                for c in (job.get("status") or {}).get("conditions") or []
                if c.get("type") in ("Complete", "Failed")
            ),
            None,
        )
        if not ended:
            return
        left = (
            int(ttl)
            - (datetime.datetime.now(datetime.UTC) - meta.parse_time(ended)).total_seconds()
        )
        if left > 0:
            self.queue.add_after(object_key(job), left + 0.05)
            return
        try:
            await self.client.delete(
                apps_path("jobs", job, "batch/v1"), {"propagationPolicy": "Background"}
            )
        except APIStatusError as e:
            if e.code != 404:
                raise
