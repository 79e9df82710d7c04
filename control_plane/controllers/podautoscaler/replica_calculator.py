"""What a resource metric asks for: upstream's replica calculator for CPU and memory,
utilization against requests or an average value per pod, with its tolerance and its
handling of pods without metrics (counted as using nothing when scaling up, as using the
target when scaling down), so missing data never drives a scale the other way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ku7s.api.quantity import QuantityError, parse_quantity

Object = dict[str, Any]

#: Upstream's --horizontal-pod-autoscaler-tolerance: no change within 10 % of the target.
TOLERANCE = 0.1


class MetricsUnavailable(Exception):
    """The metric cannot be worked out (no metrics, a pod without a request)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _quantity(value: Any) -> float:
    try:
        return float(parse_quantity(value))
    except (QuantityError, AttributeError, TypeError):
        return 0.0


def pod_request(pod: Object, resource: str, container: str | None = None) -> float | None:
    """The pod's request of the resource (one container's, for ContainerResource), or None
    when a container has none."""
    total = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        if container is not None and c.get("name") != container:
            continue
        value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        if value is None:
            return None
        total += _quantity(value)
    return total


def pod_usage(metrics: Object, resource: str, container: str | None = None) -> float:
    return sum(
        _quantity((c.get("usage") or {}).get(resource, 0))
        for c in metrics.get("containers") or []
        if container is None or c.get("name") == container
    )


def _counts(pod: Object) -> bool:
    """Pods that take part: not being deleted, not failed or finished."""
    phase = (pod.get("status") or {}).get("phase")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Failed", "Succeeded")


@dataclass(frozen=True)
class Proposal:
    replicas: int
    #: What status.currentMetrics shows: averageUtilization and/or averageValue.
    current: Object


def resource_replicas(
    current_replicas: int,
    target: Object,
    resource: str,
    pods: list[Object],
    metrics: dict[str, Object],
    container: str | None = None,
) -> Proposal:
    """Replicas for one Resource (or ContainerResource) metric. metrics: pod name -> the
    PodMetrics object."""
    counted = [p for p in pods if _counts(p)]
    if not counted:
        raise MetricsUnavailable("FailedGetResourceMetric", "no pods match the scale target")
    measured = [p for p in counted if p["metadata"]["name"] in metrics]
    if not measured:
        raise MetricsUnavailable(
            "FailedGetResourceMetric",
            f"failed to get {resource} utilization: unable to get metrics for resource "
            f"{resource}: no metrics returned from resource metrics API",
        )
    missing = len(counted) - len(measured)
    usage = {
        p["metadata"]["name"]: pod_usage(metrics[p["metadata"]["name"]], resource, container)
        for p in measured
    }
    used = sum(usage.values())
    if target.get("type") == "AverageValue":
        wanted = _quantity(target.get("averageValue"))
        average = used / len(measured)
        ratio = average / wanted if wanted else 0.0
        if missing and ratio != 1:  # silent pods use nothing going up, the target going down
            extra = 0.0 if ratio > 1 else wanted * missing
            ratio = _same_side(ratio, ((used + extra) / len(counted)) / wanted)
        shown: Object = {"averageValue": _format(average, resource)}
        return Proposal(_replicas(current_replicas, ratio, len(counted)), shown)
    requests: dict[str, float] = {}
    for pod in counted:
        request = pod_request(pod, resource, container)
        if not request:
            raise MetricsUnavailable(
                "FailedGetResourceMetric",
                f"failed to get {resource} utilization: missing request for {resource} in "
                f"container of pod {pod['metadata']['name']}",
            )
        requests[pod["metadata"]["name"]] = request
    wanted = float(target.get("averageUtilization") or 0) / 100
    utilization = used / sum(requests[name] for name in usage)
    ratio = utilization / wanted if wanted else 0.0
    if missing and wanted and ratio != 1:
        silent = sum(r for name, r in requests.items() if name not in usage)
        extra = 0.0 if ratio > 1 else silent * wanted
        ratio = _same_side(ratio, ((used + extra) / sum(requests.values())) / wanted)
    shown = {
        "averageUtilization": int(utilization * 100),
        "averageValue": _format(used / len(measured), resource),
    }
    return Proposal(_replicas(current_replicas, ratio, len(counted)), shown)


def _same_side(before: float, after: float) -> float:
    """The recomputed ratio, unless the pods without metrics turned the decision around."""
    if (before > 1) != (after > 1) or (before < 1) != (after < 1):
        return 1.0
    return after


def _replicas(current: int, ratio: float, pods: int) -> int:
    if abs(ratio - 1.0) <= TOLERANCE:
        return current
    return math.ceil(ratio * pods)


def _format(value: float, resource: str) -> str:
    """As metrics-server writes usage: millicores for CPU, whole bytes otherwise."""
    if resource == "cpu":
        return f"{round(value * 1000)}m"
    return str(round(value))
