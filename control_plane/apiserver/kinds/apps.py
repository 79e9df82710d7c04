"""apps/v1: Deployments, ReplicaSets, DaemonSets and StatefulSets."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Object, age
from control_plane.apiserver.kinds.pod_spec import containers_and_images
from control_plane.apiserver.kinds.workload import WorkloadKind, replicas_cells
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import label_selector_string

_WIDE: list[Column] = [
    ("Containers", "string", "", 1),
    ("Images", "string", "", 1),
    ("Selector", "string", "", 1),
]


def default_rolling_update(spec: Object, field: str, rolling: dict[str, Any]) -> None:
    """A RollingUpdate strategy unless told otherwise, with these defaults for its knobs."""
    strategy = spec.setdefault(field, {})
    if not isinstance(strategy, dict):
        return
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        knobs = strategy.setdefault("rollingUpdate", {})
        if isinstance(knobs, dict):
            for key, value in rolling.items():
                knobs.setdefault(key, value)


def _wide_cells(obj: Object) -> list[Any]:
    spec = obj.get("spec") or {}
    containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
    return [containers, images, label_selector_string(spec.get("selector")) or "<none>"]


class DeploymentKind(WorkloadKind):
    resource = ResourceType(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        True,
        short_names=("deploy",),
        categories=("all",),
        subresources=("status", "scale"),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Ready", "string", "", 0),
        ("Up-to-date", "integer", "", 0),
        ("Available", "integer", "", 0),
        AGE,
        *_WIDE,
    ]

    def default_spec(self, spec: Object) -> None:
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_rolling_update(spec, "strategy", {"maxUnavailable": "25%", "maxSurge": "25%"})

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(obj, errors)
        strategy = (obj.get("spec") or {}).get("strategy") or {}
        errors.one_of("spec.strategy.type", strategy.get("type"), ("Recreate", "RollingUpdate"))
        if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
            errors.forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )

    def row(self, obj: Object) -> list[Any]:
        desired, _, ready, updated, available = replicas_cells(obj)
        return [
            meta.name_of(obj),
            f"{ready}/{desired}",
            updated,
            available,
            age(obj),
            *_wide_cells(obj),
        ]


class ReplicaSetKind(WorkloadKind):
    resource = ResourceType(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        True,
        short_names=("rs",),
        categories=("all",),
        subresources=("status", "scale"),
    )
    field_paths: ClassVar[tuple[str, ...]] = ("status.replicas",)
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        AGE,
        *_WIDE,
    ]

    def default_spec(self, spec: Object) -> None:
        spec.setdefault("replicas", 1)

    def initial_status(self, obj: Object) -> Object:
        return {"replicas": 0}  # a required field of ReplicaSetStatus

    def row(self, obj: Object) -> list[Any]:
        desired, current, ready, _, _ = replicas_cells(obj)
        return [meta.name_of(obj), desired, current, ready, age(obj), *_wide_cells(obj)]


class DaemonSetKind(WorkloadKind):
    resource = ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        True,
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        ("Up-to-date", "integer", "", 0),
        ("Available", "integer", "", 0),
        ("Node Selector", "string", "", 0),
        AGE,
        *_WIDE,
    ]

    def default_spec(self, spec: Object) -> None:
        spec.setdefault("revisionHistoryLimit", 10)
        default_rolling_update(spec, "updateStrategy", {"maxUnavailable": 1, "maxSurge": 0})

    def initial_status(self, obj: Object) -> Object:
        # The counts DaemonSetStatus requires.
        return {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }

    def row(self, obj: Object) -> list[Any]:
        status = obj.get("status") or {}
        node_selector = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get(
            "nodeSelector"
        ) or {}
        return [
            meta.name_of(obj),
            status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0),
            status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>",
            age(obj),
            *_wide_cells(obj),
        ]


_STATEFULSET_UPDATABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
    "revisionHistoryLimit",
)


class StatefulSetKind(WorkloadKind):
    resource = ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        True,
        short_names=("sts",),
        categories=("all",),
        subresources=("status", "scale"),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Ready", "string", "", 0),
        AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
    ]

    def default_spec(self, spec: Object) -> None:
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
        default_rolling_update(spec, "updateStrategy", {"partition": 0})

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(obj, errors)
        spec = obj.get("spec") or {}
        errors.one_of(
            "spec.podManagementPolicy",
            spec.get("podManagementPolicy"),
            ("OrderedReady", "Parallel"),
        )

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        fixed = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_UPDATABLE}
        if fixed != {k: v for k, v in new_spec.items() if k not in _STATEFULSET_UPDATABLE}:
            errors.forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', "
                "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
                "and 'minReadySeconds' are forbidden",
            )

    def initial_status(self, obj: Object) -> Object:
        return {"replicas": 0, "availableReplicas": 0}  # required by StatefulSetStatus

    def row(self, obj: Object) -> list[Any]:
        desired, _, ready, _, _ = replicas_cells(obj)
        containers, images, _ = _wide_cells(obj)
        return [meta.name_of(obj), f"{ready}/{desired}", age(obj), containers, images]
