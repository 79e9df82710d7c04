"""The CronJob controller: at each time its schedule names (in its time zone) a CronJob
creates a Job from its template, unless suspended, past its starting deadline, or
forbidden by its concurrency policy; it keeps the active Jobs and the last schedule and
success times in status, and deletes finished Jobs beyond the history limits. It wakes
at the next scheduled time rather than polling."""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from typing import Any, ClassVar

from croniter import croniter

from control_plane.controllers import pod_control as pc
from control_plane.controllers.job import finished
from control_plane.controllers.pod_owner import apps_path, patch_status
from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("cronjob-controller")

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
UTC = datetime.UTC


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _has(job: Object, condition: str) -> bool:
    return (meta.condition(job, condition) or {}).get("status") == "True"


def _started(job: Object) -> str:
    return (job.get("status") or {}).get("startTime") or job["metadata"]["creationTimestamp"]


def zone_of(cronjob: Object) -> datetime.tzinfo:
    name = (cronjob.get("spec") or {}).get("timeZone")
    return zoneinfo.ZoneInfo(name) if name else UTC


def most_recent_time(cronjob: Object, now: datetime.datetime) -> datetime.datetime | None:
    """The latest scheduled time at or before now that has not been run, or None."""
    spec, status = cronjob.get("spec") or {}, cronjob.get("status") or {}
    zone = zone_of(cronjob)
    last = status.get("lastScheduleTime") or cronjob["metadata"]["creationTimestamp"]
    since = meta.parse_time(last)
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        since = max(since, now - datetime.timedelta(seconds=int(deadline)))
    # croniter's previous time is strictly before its start: start a second later.
    latest = croniter(spec["schedule"], (now + datetime.timedelta(seconds=1)).astimezone(zone))
    previous: datetime.datetime = latest.get_prev(datetime.datetime)
    return previous if previous > since else None


def next_time(cronjob: Object, now: datetime.datetime) -> datetime.datetime:
    spec = cronjob.get("spec") or {}
    return croniter(spec["schedule"], now.astimezone(zone_of(cronjob))).get_next(datetime.datetime)


def job_name(cronjob: Object, scheduled: datetime.datetime) -> str:
    """Upstream's name: the CronJob's and the scheduled time in minutes since the epoch."""
    return f"{meta.name_of(cronjob)}-{int(scheduled.timestamp()) // 60}"


class CronJobController(Controller):
    name: ClassVar[str] = "cronjob"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.cronjobs = self.factory.informer("/apis/batch/v1/cronjobs")
        self.jobs = self.factory.informer("/apis/batch/v1/jobs")
        self.jobs.add_index("controller", pc.controller_uid)
        self.cronjobs.on_change(lambda _, cronjob: self.queue.add(object_key(cronjob)))
        self.jobs.on_change(self._job_changed)
        self.informers = [self.cronjobs, self.jobs]
        self._events = EventRecorder(client, "cronjob-controller")

    def _job_changed(self, _: str, job: Object) -> None:
        ref = pc.controller_of(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{meta.namespace_of(job)}/{ref.get('name')}")

    async def reconcile(self, key: str) -> None:
        cronjob = self.cronjobs.get(key)
        if cronjob is None:
            return
        spec, status = cronjob.get("spec") or {}, cronjob.get("status") or {}
        jobs = self.jobs.by_index("controller", meta.uid_of(cronjob))
        running = [j for j in jobs if not finished(j)]
        new_status = {
            "active": [self._reference(j) for j in running] or None,
            "lastScheduleTime": status.get("lastScheduleTime"),
            "lastSuccessfulTime": self._last_success(jobs, status.get("lastSuccessfulTime")),
        }
        await self._clean_up(spec, jobs)
        now = datetime.datetime.now(UTC)
        if not cronjob["metadata"].get("deletionTimestamp") and not spec.get("suspend"):
            try:
                scheduled = most_recent_time(cronjob, now)
            except (KeyError, ValueError, zoneinfo.ZoneInfoNotFoundError) as e:
                self._events.record(cronjob, "Warning", "InvalidSchedule", f"invalid schedule: {e}")
                return
            if scheduled is not None:
                started, created = await self._run(cronjob, scheduled, running, now)
                if started:  # a time skipped (Forbid) stays due until the running job ends
                    new_status["lastScheduleTime"] = _rfc3339(scheduled)
                if created is not None:
                    new_status["active"] = [
                        *(new_status["active"] or []),
                        self._reference(created),
                    ]
            wait = (next_time(cronjob, now) - now).total_seconds()
            self.queue.add_after(key, max(0.1, wait + 0.1))
        path = apps_path("cronjobs", cronjob, "batch/v1")
        await patch_status(self.client, path, status, new_status)

    async def _run(
        self,
        cronjob: Object,
        scheduled: datetime.datetime,
        running: list[Object],
        now: datetime.datetime,
    ) -> tuple[bool, Object | None]:
        """Start the Job for the scheduled time, as the concurrency policy allows: whether
        the time is done with, and the Job made now if one was."""
        spec = cronjob.get("spec") or {}
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and (now - scheduled).total_seconds() > int(deadline):
            self._events.record(
                cronjob,
                "Warning",
                "MissedSchedule",
                f"Missed scheduled time to start a job: {_rfc3339(scheduled)}",
            )
            return True, None
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and running:
            log.info("%s: not starting a job, one is still running", meta.name_of(cronjob))
            return False, None
        if policy == "Replace":
            for job in running:
                await self._delete(job)
                self._events.record(
                    cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta.name_of(job)}"
                )
        job = self._job(cronjob, scheduled)
        try:
            created = await self.client.create(
                f"/apis/batch/v1/namespaces/{meta.namespace_of(cronjob)}/jobs", job
            )
        except APIStatusError as e:
            if e.code == 409:  # made already, by an earlier pass
                return True, None
            raise
        self._events.record(
            cronjob, "Normal", "SuccessfulCreate", f"Created job {meta.name_of(created)}"
        )
        return True, created

    @staticmethod
    def _job(cronjob: Object, scheduled: datetime.datetime) -> Object:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        metadata = template.get("metadata") or {}
        annotations = dict(metadata.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP] = scheduled.isoformat()
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job_name(cronjob, scheduled),
                "labels": dict(metadata.get("labels") or {}),
                "annotations": annotations,
                "ownerReferences": [pc.controller_ref(cronjob)],
            },
            "spec": meta.clone(template.get("spec") or {}),
        }

    @staticmethod
    def _reference(job: Object) -> Object:
        return {
            "kind": "Job",
            "namespace": meta.namespace_of(job),
            "name": meta.name_of(job),
            "uid": meta.uid_of(job),
            "apiVersion": "batch/v1",
            "resourceVersion": meta.resource_version(job),
        }

    @staticmethod
    def _last_success(jobs: list[Object], known: str | None) -> str | None:
        times: list[str] = [
            j["status"]["completionTime"]
            for j in jobs
            if _has(j, "Complete") and (j.get("status") or {}).get("completionTime")
        ]
        if known:
            times.append(known)
        return max(times, key=meta.parse_time) if times else None

    async def _clean_up(self, spec: Object, jobs: list[Object]) -> None:
        """Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit go,
        oldest first."""
        for condition, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            ended = [j for j in jobs if _has(j, condition)]
            ended.sort(key=_started)
            for job in ended[: max(0, len(ended) - int(limit))]:
                await self._delete(job)

    async def _delete(self, job: Object) -> None:
        try:
            await self.client.delete(
                apps_path("jobs", job, "batch/v1"), {"propagationPolicy": "Background"}
            )
        except APIStatusError as e:
            if e.code != 404:
                raise
