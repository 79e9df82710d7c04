"""What a pod asks for as a whole (upstream's PodRequests and PodLimits): what the
scheduler fits onto nodes, quotas charge and limit ranges bound per pod."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ku7s.api.quantity import QuantityError, parse_quantity

Object = dict[str, Any]


def amount(value: Any) -> Decimal:
    """A quantity, or 0 for what is not one."""
    try:
        return parse_quantity(value)
    except (QuantityError, AttributeError, TypeError):
        return Decimal(0)


def pod_resources(pod: Object, part: str) -> dict[str, Decimal]:
    """The pod's "requests" or "limits": its containers' sum, or its largest init
    container's where that is more, plus the pod overhead (on limits, only where a limit
    is set)."""
    spec = pod.get("spec") or {}
    total: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(part) or {}).items():
            total[name] = total.get(name, Decimal(0)) + amount(value)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(part) or {}).items():
            total[name] = max(total.get(name, Decimal(0)), amount(value))
    for name, value in (spec.get("overhead") or {}).items():
        if part == "requests" or name in total:
            total[name] = total.get(name, Decimal(0)) + amount(value)
    return total
