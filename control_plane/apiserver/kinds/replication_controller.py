"""v1 ReplicationControllers: the ReplicaSet's predecessor, with a plain label map for a
selector (defaulted from the template's labels) that the Python client's examples still use."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Object, age
from control_plane.apiserver.kinds.pod_spec import containers_and_images, validate_pod_template
from control_plane.apiserver.kinds.workload import WorkloadKind, replicas_cells
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api.field_errors import FieldErrors


def selector_string(selector: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items()))


class ReplicationControllerKind(WorkloadKind):
    resource = ResourceType(
        "",
        "v1",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        True,
        short_names=("rc",),
        categories=("all",),
        subresources=("status", "scale"),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        AGE,
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ]

    def initial_status(self, obj: Object) -> Object:
        return {"replicas": 0}  # not optional in the API: the Python client insists

    def default_spec(self, spec: Object) -> None:
        spec.setdefault("replicas", 1)
        spec.setdefault("minReadySeconds", 0)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if not spec.get("selector") and isinstance(labels, dict) and labels:
            spec["selector"] = dict(labels)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not selector:
            errors.required("spec.selector")
        else:
            errors.labels("spec.selector", selector)
        errors.non_negative("spec.replicas", spec.get("replicas"))
        errors.non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
        template = spec.get("template")
        if template is None:
            errors.required("spec.template")
            return
        validate_pod_template("spec.template", template, errors, restart_policies=("Always",))
        labels = ((template or {}).get("metadata") or {}).get("labels") or {}
        if isinstance(selector, dict) and any(labels.get(k) != v for k, v in selector.items()):
            errors.invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        """Unlike a ReplicaSet's, a controller's selector may change."""

    def replicas(self, obj: Object) -> tuple[int, int, str]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        return (
            spec.get("replicas", 0),
            status.get("replicas", 0),
            selector_string(spec.get("selector")),
        )

    def row(self, obj: Object) -> list[Any]:
        desired, current, ready, _, _ = replicas_cells(obj)
        spec = obj.get("spec") or {}
        containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
        selector = selector_string(spec.get("selector")) or "<none>"
        return [
            obj["metadata"]["name"],
            desired,
            current,
            ready,
            age(obj),
            containers,
            images,
            selector,
        ]
