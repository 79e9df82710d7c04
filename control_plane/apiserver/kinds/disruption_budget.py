"""policy/v1 PodDisruptionBudgets: how many of an app's pods voluntary disruptions (the
eviction subresource, hence ``kubectl drain``) must leave. The disruption controller keeps
the status that evictions are checked against."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.workload import validate_selector
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

_PERCENT = re.compile(r"^[0-9]+%$")
UNHEALTHY_POD_EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")


def validate_int_or_percent(path: str, value: Any, errors: FieldErrors) -> None:
    """A count (not negative) or a percentage up to 100%."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.invalid(path, value, "must be an integer or percentage (e.g '5%')")
    elif isinstance(value, int):
        errors.non_negative(path, value)
    elif not _PERCENT.match(value):
        errors.invalid(
            path,
            value,
            "a valid percent string must be a numeric string followed by an ending '%' "
            "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        )
    elif int(value[:-1]) > 100:
        errors.invalid(path, value, "must not be greater than 100%")


class PodDisruptionBudgetKind(Kind):
    resource = ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        True,
        short_names=("pdb",),
        subresources=("status",),
    )
    tracks_generation = True
    resets_status_on_create = True
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Min Available", "string", "", 0),
        ("Max Unavailable", "string", "", 0),
        ("Allowed Disruptions", "integer", "", 0),
        AGE,
    ]

    def initial_status(self, obj: Object) -> Object:
        return {
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        }

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if min_available is not None and max_unavailable is not None:
            errors.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
        if min_available is not None:
            validate_int_or_percent("spec.minAvailable", min_available, errors)
        if max_unavailable is not None:
            validate_int_or_percent("spec.maxUnavailable", max_unavailable, errors)
        if spec.get("selector") is not None:
            validate_selector(
                "spec.selector", spec["selector"], errors, "poddisruptionbudget", allow_empty=True
            )
        errors.one_of(
            "spec.unhealthyPodEvictionPolicy",
            spec.get("unhealthyPodEvictionPolicy"),
            UNHEALTHY_POD_EVICTION_POLICIES,
        )

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        return [
            meta.name_of(obj),
            str(spec["minAvailable"]) if "minAvailable" in spec else "N/A",
            str(spec["maxUnavailable"]) if "maxUnavailable" in spec else "N/A",
            int(status.get("disruptionsAllowed", 0)),
            age(obj),
        ]
