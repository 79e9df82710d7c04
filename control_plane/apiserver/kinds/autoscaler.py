"""HorizontalPodAutoscalers: autoscaling/v2, stored, and autoscaling/v1 served from the
same objects (its single CPU target is the v2 form's CPU utilization metric)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

METRIC_TYPES = ("Object", "Pods", "Resource", "ContainerResource", "External")
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
POLICY_TYPES = ("Pods", "Percent")
SELECT_POLICIES = ("Max", "Min", "Disabled")
DEFAULT_CPU_UTILIZATION = 80
MAX_STABILIZATION_WINDOW = 3600
MAX_PERIOD_SECONDS = 1800

_SOURCE_FIELD = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "External": "external",
}


def cpu_metric(utilization: int) -> Object:
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


def default_rules(rules: Object | None, up: bool) -> Object:
    """Upstream's defaults for the parts of one direction's scaling rules left out."""
    result = dict(rules or {})
    result.setdefault("stabilizationWindowSeconds", 0 if up else 300)
    result.setdefault("selectPolicy", "Max")
    if not result.get("policies"):
        result["policies"] = (
            [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ]
            if up
            else [{"type": "Percent", "value": 100, "periodSeconds": 15}]
        )
    return result


def _target_cell(target: Object, current: Object | None) -> str:
    def shown(values: Object | None) -> str:
        if values is None:
            return "<unknown>"
        if "averageUtilization" in values:
            return f"{values['averageUtilization']}%"
        return str(values.get("averageValue") or values.get("value") or "<unknown>")

    if target.get("type") == "Utilization" or "averageUtilization" in target:
        want = f"{target.get('averageUtilization')}%"
        have = (
            f"{current['averageUtilization']}%"
            if current and "averageUtilization" in current
            else "<unknown>"
        )
        return f"{have}/{want}"
    want = str(target.get("averageValue") or target.get("value") or "")
    return f"{shown(current) if current else '<unknown>'}/{want}"


def _metric_key(metric: Object) -> tuple[str, str]:
    """A metric's type and name, the same in spec.metrics and status.currentMetrics."""
    kind = str(metric.get("type", ""))
    source = metric.get(_SOURCE_FIELD.get(kind, "")) or {}
    return kind, source.get("name") or (source.get("metric") or {}).get("name", "")


def targets_cell(spec: Object, status: Object) -> str:
    """kubectl's TARGETS: 'cpu: 12%/50%, memory: 20Mi/100Mi', at most two then '+ N more...'."""
    current = {_metric_key(m): m for m in status.get("currentMetrics") or []}
    cells = []
    for metric in spec.get("metrics") or []:
        kind, name = _metric_key(metric)
        field = _SOURCE_FIELD.get(kind, "")
        seen = current.get((kind, name))
        value = (seen.get(field) or {}).get("current") if seen else None
        cells.append(
            f"{name}: {_target_cell((metric.get(field) or {}).get('target') or {}, value)}"
        )
    if not cells:
        return "<none>"
    if len(cells) > 2:
        return ", ".join(cells[:2]) + f" + {len(cells) - 2} more..."
    return ", ".join(cells)


class HorizontalPodAutoscalerKind(Kind):
    resource = ResourceType(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        short_names=("hpa",),
        categories=("all",),
        subresources=("status",),
    )
    tracks_generation = True
    resets_status_on_create = True
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Reference", "string", "", 0),
        ("Targets", "string", "", 0),
        ("MinPods", "string", "", 0),
        ("MaxPods", "integer", "", 0),
        ("Replicas", "integer", "", 0),
        AGE,
    ]

    def initial_status(self, obj: Object) -> Object:
        return {"currentReplicas": 0, "desiredReplicas": 0}

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [cpu_metric(DEFAULT_CPU_UTILIZATION)]
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            behavior["scaleUp"] = default_rules(behavior.get("scaleUp"), up=True)
            behavior["scaleDown"] = default_rules(behavior.get("scaleDown"), up=False)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        ref = spec.get("scaleTargetRef") or {}
        if not ref.get("kind"):
            errors.required("spec.scaleTargetRef.kind")
        if not ref.get("name"):
            errors.required("spec.scaleTargetRef.name")
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(low, int) or low < 1:
            errors.invalid("spec.minReplicas", low, "must be greater than or equal to 1")
        if not isinstance(high, int) or isinstance(high, bool):
            errors.required("spec.maxReplicas")
        elif high < 1:
            errors.invalid("spec.maxReplicas", high, "must be greater than 0")
        elif isinstance(low, int) and high < low:
            errors.invalid(
                "spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"
            )
        for i, metric in enumerate(spec.get("metrics") or []):
            self._metric(f"spec.metrics[{i}]", metric or {}, errors)
        behavior = spec.get("behavior") or {}
        for direction in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(direction), dict):
                self._rules(f"spec.behavior.{direction}", behavior[direction], errors)

    @staticmethod
    def _metric(path: str, metric: Object, errors: FieldErrors) -> None:
        kind = metric.get("type")
        errors.one_of(f"{path}.type", kind, METRIC_TYPES, required=True)
        field = _SOURCE_FIELD.get(str(kind))
        if field is None:
            return
        source = metric.get(field)
        if not isinstance(source, dict):
            errors.required(
                f"{path}.{field}", "must populate information for the given metric source"
            )
            return
        target = source.get("target")
        if not isinstance(target, dict):
            errors.required(f"{path}.{field}.target", "must specify a metric target")
            return
        errors.one_of(
            f"{path}.{field}.target.type", target.get("type"), TARGET_TYPES, required=True
        )
        utilization = target.get("averageUtilization")
        if target.get("type") == "Utilization" and (
            not isinstance(utilization, int) or utilization < 1
        ):
            errors.required(
                f"{path}.{field}.target.averageUtilization",
                "must set either a target raw value or a target utilization",
            )
        if kind in ("Resource", "ContainerResource") and not source.get("name"):
            errors.required(f"{path}.{field}.name")

    @staticmethod
    def _rules(path: str, rules: Object, errors: FieldErrors) -> None:
        window = rules.get("stabilizationWindowSeconds")
        if window is not None and (
            not isinstance(window, int) or not 0 <= window <= MAX_STABILIZATION_WINDOW
        ):
            errors.invalid(
                f"{path}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW}",
            )
        errors.one_of(f"{path}.selectPolicy", rules.get("selectPolicy"), SELECT_POLICIES)
        for i, policy in enumerate(rules.get("policies") or []):
            ppath = f"{path}.policies[{i}]"
            errors.one_of(f"{ppath}.type", (policy or {}).get("type"), POLICY_TYPES, required=True)
            value = (policy or {}).get("value")
            if not isinstance(value, int) or value <= 0:
                errors.invalid(f"{ppath}.value", value, "must be greater than zero")
            period = (policy or {}).get("periodSeconds")
            if not isinstance(period, int) or not 0 < period <= MAX_PERIOD_SECONDS:
                errors.invalid(
                    f"{ppath}.periodSeconds",
                    period,
                    f"must be greater than zero and less than or equal to {MAX_PERIOD_SECONDS}",
                )

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ref = spec.get("scaleTargetRef") or {}
        return [
            meta.name_of(obj),
            f"{ref.get('kind', '')}/{ref.get('name', '')}",
            targets_cell(spec, status),
            str(spec.get("minReplicas", 1)),
            spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0),
            age(obj),
        ]


class HorizontalPodAutoscalerV1Kind(HorizontalPodAutoscalerKind):
    """autoscaling/v1: the same objects, with one CPU target instead of metrics."""

    resource = ResourceType(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        short_names=("hpa",),
        categories=("all",),
        subresources=("status",),
    )

    @property
    def storage_api_version(self) -> str:
        return "autoscaling/v2"

    def default(self, obj: Object) -> None:
        super().default(self._as_v2(obj))

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        super().validate(self.to_storage(meta.clone(obj)), errors)

    @staticmethod
    def _as_v2(obj: Object) -> Object:
        """Turn a v1 object into v2 in place (its spec and status)."""
        spec = obj.get("spec")
        if isinstance(spec, dict):
            target = spec.pop("targetCPUUtilizationPercentage", None)
            if target is not None:
                spec["metrics"] = [cpu_metric(target)]
        status = obj.get("status")
        if isinstance(status, dict):
            current = status.pop("currentCPUUtilizationPercentage", None)
            if current is not None:
                status["currentMetrics"] = [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "current": {"averageUtilization": current}},
                    }
                ]
        return obj

    def to_storage(self, obj: Object) -> Object:
        stored = self._as_v2(obj)
        stored["apiVersion"] = "autoscaling/v2"
        return stored

    def from_storage(self, obj: Object) -> Object:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        cpu = next(
            (
                m
                for m in spec.pop("metrics", None) or []
                if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu"
            ),
            None,
        )
        spec.pop("behavior", None)
        if cpu is not None:
            spec["targetCPUUtilizationPercentage"] = (cpu["resource"].get("target") or {}).get(
                "averageUtilization"
            )
        current = next(
            (
                m
                for m in status.pop("currentMetrics", None) or []
                if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu"
            ),
            None,
        )
        status.pop("conditions", None)
        if current is not None:
            utilization = (current["resource"].get("current") or {}).get("averageUtilization")
            if utilization is not None:
                status["currentCPUUtilizationPercentage"] = utilization
        obj["apiVersion"], obj["kind"] = "autoscaling/v1", "HorizontalPodAutoscaler"
        return obj

    def row(self, obj: Object) -> list[Any]:
        return super().row(self.to_storage(meta.clone(obj)))
