"""batch/v1 Jobs: a generated selector and pod labels tied to the job's uid, a template that
restarts Never or OnFailure and does not change, and the 1.33 printer with STATUS."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Object, age
from control_plane.apiserver.kinds.pod_spec import containers_and_images
from control_plane.apiserver.kinds.workload import WorkloadKind
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, human_duration
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import label_selector_string

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"


def _job_status(obj: Object) -> str:
    for condition, text in (
        ("Complete", "Complete"),
        ("Failed", "Failed"),
        ("FailureTarget", "FailureTarget"),
        ("SuccessCriteriaMet", "SuccessCriteriaMet"),
        ("Suspended", "Suspended"),
    ):
        found = meta.condition(obj, condition)
        if found and found.get("status") == "True":
            return text
    return "Running"


def _duration(status: Object) -> str:
    start = status.get("startTime")
    if not start:
        return ""
    end = status.get("completionTime")
    finish = meta.parse_time(end) if end else datetime.datetime.now(datetime.UTC)
    return human_duration((finish - meta.parse_time(start)).total_seconds())


class JobKind(WorkloadKind):
    resource = ResourceType(
        "batch",
        "v1",
        "jobs",
        "job",
        "Job",
        True,
        categories=("all",),
        subresources=("status",),
    )
    restart_policies = ("OnFailure", "Never")
    field_paths: ClassVar[tuple[str, ...]] = ("status.successful",)
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Status", "string", "", 0),
        ("Completions", "string", "", 0),
        ("Duration", "string", "", 0),
        AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ]

    def default_spec(self, spec: Object) -> None:
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("manualSelector", None)
        if spec.get("manualSelector") is None:
            spec.pop("manualSelector")
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector"):
            return
        uid, name = obj["metadata"]["uid"], meta.name_of(obj)
        spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}
        template = spec.setdefault("template", {})
        if isinstance(template, dict):
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {CONTROLLER_UID: uid, JOB_NAME: name, "controller-uid": uid, "job-name": name}
            )

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(obj, errors)
        spec = obj.get("spec") or {}
        for field in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
            errors.non_negative(f"spec.{field}", spec.get(field))
        errors.one_of("spec.completionMode", spec.get("completionMode"), ("NonIndexed", "Indexed"))

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        super().validate_update(old, new, errors)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("template") != new_spec.get("template"):
            errors.immutable("spec.template", new_spec.get("template"))
        if old_spec.get("completions") != new_spec.get("completions"):
            errors.immutable("spec.completions", new_spec.get("completions"))

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        succeeded = int(status.get("succeeded", 0))
        if spec.get("completions") is not None:
            completions = f"{succeeded}/{spec['completions']}"
        else:
            completions = f"{succeeded}/1 of {spec.get('parallelism', 1)}"
        containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
        return [
            meta.name_of(obj),
            _job_status(obj),
            completions,
            _duration(status),
            age(obj),
            containers,
            images,
            label_selector_string(spec.get("selector")) or "<none>",
        ]
