"""scheduling.k8s.io/v1 PriorityClasses: the names pods give for their priority. Two system
classes exist in every cluster; a user's class may not go above a billion, and a class's
value and preemption policy never change (pods carry copies of them)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
SYSTEM_PREFIX = "system-"

#: The classes every cluster starts with, as upstream makes them.
SYSTEM_PRIORITY_CLASSES: list[Object] = [
    {
        "metadata": {"name": "system-node-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY + 1000,
        "description": "Used for system critical pods that must not be moved from their "
        "current node.",
    },
    {
        "metadata": {"name": "system-cluster-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY,
        "description": "Used for system critical pods that must run in the cluster, but can "
        "be moved to another node if necessary.",
    },
]
_SYSTEM_VALUES = {c["metadata"]["name"]: c["value"] for c in SYSTEM_PRIORITY_CLASSES}


class PriorityClassKind(Kind):
    resource = ResourceType(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        False,
        short_names=("pc",),
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Value", "integer", "", 0),
        ("Global-Default", "boolean", "", 0),
        AGE,
        ("PreemptionPolicy", "string", "", 0),
    ]

    def default(self, obj: Object) -> None:
        obj.setdefault("value", 0)
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        name, value = meta.name_of(obj), obj.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            errors.invalid("value", value, "must be an integer")
        elif name.startswith(SYSTEM_PREFIX):
            if _SYSTEM_VALUES.get(name) != value:
                errors.forbidden(
                    "metadata.name",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for "
                    "system use only. error: name is not a known system priority class",
                )
        elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errors.forbidden(
                "value",
                f"maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        errors.one_of("preemptionPolicy", obj.get("preemptionPolicy"), PREEMPTION_POLICIES)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        for field in ("value", "preemptionPolicy"):
            if old.get(field) != new.get(field):
                errors.forbidden(field, "may not be changed in an update.")

    def row(self, obj: Object) -> list[Any]:
        return [
            meta.name_of(obj),
            obj.get("value", 0),
            bool(obj.get("globalDefault")),
            age(obj),
            obj.get("preemptionPolicy", "PreemptLowerPriority"),
        ]
