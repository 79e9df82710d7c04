"""batch/v1 CronJobs: a cron schedule (checked with croniter, as the controller reads it),
an optional IANA time zone, and a Job template validated as a Job's spec."""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from croniter import croniter

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.job import JobKind
from control_plane.apiserver.kinds.pod_spec import (
    containers_and_images,
    default_pod_template,
    validate_pod_template,
)
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, since
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import label_selector_string

#: A CronJob's name becomes its Jobs' names plus an 11-character suffix.
MAX_NAME_LENGTH = 52
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


def schedule_error(schedule: str) -> str | None:
    """What is wrong with a schedule, worded as upstream, or None."""
    if "TZ=" in schedule:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if not croniter.is_valid(schedule):
        return f"unparseable schedule {schedule!r}"
    return None


def time_zone_error(name: str) -> str | None:
    if name.strip() != name or not name:
        return "unknown time zone " + name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "unknown time zone " + name
    return None


class CronJobKind(Kind):
    resource = ResourceType(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        True,
        short_names=("cj",),
        categories=("all",),
        subresources=("status",),
    )
    tracks_generation = True
    resets_status_on_create = True
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Schedule", "string", "", 0),
        ("Timezone", "string", "", 0),
        ("Suspend", "boolean", "", 0),
        ("Active", "integer", "", 0),
        ("Last Schedule", "date", "", 0),
        AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ]

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict):
            if isinstance(job_spec.get("template"), dict):
                default_pod_template(job_spec["template"])
            JobKind().default_spec(job_spec)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        name = meta.name_of(obj)
        if len(name) > MAX_NAME_LENGTH:
            errors.invalid(
                "metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters"
            )
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        schedule = spec.get("schedule")
        if not isinstance(schedule, str) or not schedule:
            errors.required("spec.schedule")
        elif problem := schedule_error(schedule):
            errors.invalid("spec.schedule", schedule, problem)
        zone = spec.get("timeZone")
        if zone is not None and (problem := time_zone_error(str(zone))):
            errors.invalid("spec.timeZone", zone, problem)
        errors.one_of("spec.concurrencyPolicy", spec.get("concurrencyPolicy"), CONCURRENCY_POLICIES)
        for field in (
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ):
            errors.non_negative(f"spec.{field}", spec.get(field))
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if not isinstance(job_spec, dict):
            errors.required("spec.jobTemplate.spec")
            return
        for field in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
            errors.non_negative(f"spec.jobTemplate.spec.{field}", job_spec.get(field))
        validate_pod_template(
            "spec.jobTemplate.spec.template",
            job_spec.get("template"),
            errors,
            restart_policies=JobKind.restart_policies,
        )

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        containers, images = containers_and_images(
            (job_spec.get("template") or {}).get("spec") or {}
        )
        last = status.get("lastScheduleTime")
        return [
            meta.name_of(obj),
            spec.get("schedule", ""),
            spec.get("timeZone") or "<none>",
            bool(spec.get("suspend")),
            len(status.get("active") or []),
            since(last) if last else "<none>",
            age(obj),
            containers,
            images,
            label_selector_string(job_spec.get("selector")) or "<none>",
        ]
