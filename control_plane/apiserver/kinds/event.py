"""Events, in both API versions: core/v1 Events and events.k8s.io/v1 Events are one stored
object (the core form, as upstream), converted on the way in and out."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import NAME, Kind, Object
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, since
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

_TYPES = ("Normal", "Warning")

#: events.k8s.io/v1 field -> core/v1 field.
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def _last_seen(event: Object) -> str:
    last = (
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or event["metadata"].get("creationTimestamp")
    )
    count = event.get("count") or 0
    if count > 1 and event.get("firstTimestamp"):
        return f"{since(last)} (x{count} over {since(event['firstTimestamp'])})"
    return since(last)


class EventKind(Kind):
    resource = ResourceType(
        "",
        "v1",
        "events",
        "event",
        "Event",
        True,
        short_names=("ev",),
    )
    field_paths: ClassVar[tuple[str, ...]] = (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    )
    columns: ClassVar[list[Column]] = [
        ("Last Seen", "string", "", 0),
        ("Type", "string", "", 0),
        ("Reason", "string", "", 0),
        ("Object", "string", "", 0),
        ("Subobject", "string", "", 1),
        ("Source", "string", "", 1),
        ("Message", "string", "", 0),
        ("First Seen", "string", "", 1),
        ("Count", "string", "", 1),
        ("Name", "string", "name", 1),
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        involved = obj.get("involvedObject")
        if not isinstance(involved, dict):
            errors.required("involvedObject")
        elif obj["metadata"].get("namespace") and involved.get("namespace") not in (
            None,
            "",
            obj["metadata"]["namespace"],
        ):
            errors.invalid(
                "involvedObject.namespace",
                involved.get("namespace"),
                "does not match event.namespace",
            )
        errors.one_of("type", obj.get("type"), _TYPES)

    def field(self, obj: Object, path: str) -> str:
        if path == "source":
            return str((obj.get("source") or {}).get("component", ""))
        return super().field(obj, path)

    def row(self, obj: Object) -> list[Any]:
        involved = obj.get("involvedObject") or {}
        source = obj.get("source") or {}
        return [
            _last_seen(obj),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            involved.get("fieldPath", ""),
            ", ".join(v for v in (source.get("component"), source.get("host")) if v)
            or obj.get("reportingComponent", ""),
            obj.get("message", ""),
            since(obj.get("firstTimestamp") or obj.get("eventTime")),
            str(obj.get("count") or 1),
            meta.name_of(obj),
        ]


class EventsV1Kind(EventKind):
    resource = ResourceType(
        "events.k8s.io",
        "v1",
        "events",
        "event",
        "Event",
        True,
        short_names=("ev",),
        storage_name="events",
    )
    field_paths: ClassVar[tuple[str, ...]] = (
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    )
    columns: ClassVar[list[Column]] = [NAME, ("Created At", "date", "", 0)]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(self.to_storage(dict(obj)), errors)

    def to_storage(self, obj: Object) -> Object:
        stored = {_RENAMES.get(k, k): v for k, v in obj.items()}
        stored["apiVersion"], stored["kind"] = "v1", "Event"
        return stored

    def from_storage(self, obj: Object) -> Object:
        back = {v: k for k, v in _RENAMES.items()}
        converted = {back.get(k, k): v for k, v in obj.items()}
        converted["apiVersion"], converted["kind"] = "events.k8s.io/v1", "Event"
        return converted

    def field(self, obj: Object, path: str) -> str:
        return Kind.field(self, obj, path)

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("metadata", {}).get("creationTimestamp", "")]
