"""v1 ResourceQuotas and LimitRanges: a namespace's ceilings (enforced at admission, with
usage kept in the quota's status by its controller) and its per-container defaults and
bounds."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.quantity import QuantityError, parse_quantity

QUOTA_SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)
LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def validate_quantities(path: str, values: Any, errors: FieldErrors) -> None:
    """A map of resource name to a quantity that is not negative."""
    if values is None:
        return
    if not isinstance(values, dict):
        errors.invalid(path, values, "must be a map of resource names to quantities")
        return
    for name, value in values.items():
        errors.qualified_name(f"{path}[{name}]", name)
        try:
            quantity = parse_quantity(value)
        except (QuantityError, AttributeError):
            errors.invalid(f"{path}[{name}]", value, "quantities must be valid")
            continue
        if quantity < 0:
            errors.invalid(f"{path}[{name}]", value, "must be greater than or equal to 0")


def usage_cells(status: Object) -> tuple[str, str]:
    """kubectl's REQUEST and LIMIT cells: 'pods: 1/10, requests.cpu: 0/1'."""
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
        (limits if name.startswith("limits.") else requests).append(cell)
    return ", ".join(requests), ", ".join(limits)


class ResourceQuotaKind(Kind):
    resource = ResourceType(
        "",
        "v1",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        True,
        short_names=("quota",),
        subresources=("status",),
    )
    resets_status_on_create = True
    columns: ClassVar[list[Column]] = [
        NAME,
        AGE,
        ("Request", "string", "", 0),
        ("Limit", "string", "", 0),
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec") or {}
        validate_quantities("spec.hard", spec.get("hard"), errors)
        for i, scope in enumerate(spec.get("scopes") or []):
            errors.one_of(f"spec.scopes[{i}]", scope, QUOTA_SCOPES)
        status = obj.get("status") or {}
        validate_quantities("status.hard", status.get("hard"), errors)
        validate_quantities("status.used", status.get("used"), errors)

    def row(self, obj: Object) -> list[Any]:
        requests, limits = usage_cells(obj.get("status") or {})
        return [meta.name_of(obj), age(obj), requests, limits]


class LimitRangeKind(Kind):
    resource = ResourceType(
        "", "v1", "limitranges", "limitrange", "LimitRange", True, short_names=("limits",)
    )

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        limits = (obj.get("spec") or {}).get("limits")
        if not isinstance(limits, list):
            errors.required("spec.limits")
            return
        for i, item in enumerate(limits):
            path = f"spec.limits[{i}]"
            if not isinstance(item, dict):
                errors.invalid(path, item, "must be an object")
                continue
            errors.one_of(f"{path}.type", item.get("type"), LIMIT_TYPES, required=True)
            for part in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                validate_quantities(f"{path}.{part}", item.get(part), errors)
            self._ordered(path, item, errors)

    @staticmethod
    def _ordered(path: str, item: Object, errors: FieldErrors) -> None:
        """min <= defaultRequest <= default <= max, for each resource named in several."""

        def value(part: str, name: str) -> Any:
            try:
                return parse_quantity((item.get(part) or {})[name])
            except (KeyError, QuantityError, AttributeError, TypeError):
                return None

        names = {
            n for part in ("max", "min", "default", "defaultRequest") for n in item.get(part) or {}
        }
        for name in sorted(names):
            low, high = value("min", name), value("max", name)
            if low is not None and high is not None and low > high:
                errors.invalid(
                    f"{path}.min[{name}]",
                    item["min"][name],
                    f"min value {item['min'][name]} is greater than max value {item['max'][name]}",
                )
            for part in ("default", "defaultRequest"):
                v = value(part, name)
                if v is None:
                    continue
                if low is not None and v < low:
                    errors.invalid(
                        f"{path}.{part}[{name}]",
                        item[part][name],
                        f"min value {item['min'][name]} is greater than {part} value "
                        f"{item[part][name]}",
                    )
                if high is not None and v > high:
                    errors.invalid(
                        f"{path}.{part}[{name}]",
                        item[part][name],
                        f"{part} value {item[part][name]} is greater than max value "
                        f"{item['max'][name]}",
                    )
