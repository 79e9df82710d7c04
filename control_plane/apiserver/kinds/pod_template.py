"""v1 PodTemplates and apps/v1 ControllerRevisions: pod templates kept as objects of their
own, the second one by DaemonSets and StatefulSets as the history ``kubectl rollout
history|undo`` reads."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.pod_spec import (
    containers_and_images,
    default_pod_template,
    validate_pod_template,
)
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors


class PodTemplateKind(Kind):
    resource = ResourceType("", "v1", "podtemplates", "podtemplate", "PodTemplate", True)
    columns: ClassVar[list[Column]] = [
        ("Template", "string", "name", 0),
        ("Containers", "string", "", 0),
        ("Images", "string", "", 0),
        ("Pod Labels", "string", "", 0),
    ]

    def default(self, obj: Object) -> None:
        if isinstance(obj.get("template"), dict):
            default_pod_template(obj["template"])

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        validate_pod_template(
            "template",
            obj.get("template"),
            errors,
            restart_policies=("Always", "OnFailure", "Never"),
        )

    def row(self, obj: Object) -> list[Any]:
        template = obj.get("template") or {}
        containers, images = containers_and_images(template.get("spec") or {})
        labels = (template.get("metadata") or {}).get("labels") or {}
        return [
            meta.name_of(obj),
            containers,
            images,
            ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>",
        ]


class ControllerRevisionKind(Kind):
    resource = ResourceType(
        "apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Controller", "string", "", 0),
        ("Revision", "integer", "", 0),
        AGE,
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        revision = obj.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int):
            errors.required("revision")
        else:
            errors.non_negative("revision", revision)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("data") != new.get("data"):
            errors.immutable("data", new.get("data"))

    def row(self, obj: Object) -> list[Any]:
        owner = next(
            (o for o in obj["metadata"].get("ownerReferences") or [] if o.get("controller")), None
        )
        controller = "<none>"
        if owner:  # as upstream prints it: daemonset.apps/fluentd
            api_version = owner.get("apiVersion", "")
            group = api_version.partition("/")[0] if "/" in api_version else ""
            controller = f"{owner.get('kind', '').lower()}.{group}/{owner.get('name')}"
        return [meta.name_of(obj), controller, obj.get("revision", 0), age(obj)]
