"""What an object uses of a ResourceQuota: shared by the quota admission (which charges a
new object before it is stored) and the quota controller (which recounts a namespace).

Resource names are upstream's: ``pods``, ``services``, ``requests.cpu`` (or ``cpu``),
``limits.memory``, ``services.nodeports``, ``requests.storage``, ``count/<resource>[.<group>]``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ku7s.api.pod_resources import amount, pod_resources

Object = dict[str, Any]

#: Object counts with names of their own (from before ``count/...``).
LEGACY_COUNTS = {
    "pods": "pods",
    "services": "services",
    "configmaps": "configmaps",
    "secrets": "secrets",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}
COMPUTE = ("cpu", "memory", "ephemeral-storage")
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def count_name(plural: str, group: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def pod_is_terminal(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_best_effort(pod: Object) -> bool:
    return not any(
        (c.get("resources") or {}).get(part)
        for c in (pod.get("spec") or {}).get("containers") or []
        for part in ("requests", "limits")
    )


def usage(plural: str, group: str, obj: Object) -> dict[str, Decimal]:
    """Everything one object counts toward."""
    used: dict[str, Decimal] = {count_name(plural, group): Decimal(1)}
    if not group and plural in LEGACY_COUNTS:
        used[LEGACY_COUNTS[plural]] = Decimal(1)
    if not group and plural == "pods":
        if pod_is_terminal(obj):
            return {}
        requests, limits = pod_resources(obj, "requests"), pod_resources(obj, "limits")
        for name in COMPUTE:
            if name in requests:
                used[f"requests.{name}"] = used[name] = requests[name]
            if name in limits:
                used[f"limits.{name}"] = limits[name]
    elif not group and plural == "services":
        kind = (obj.get("spec") or {}).get("type", "ClusterIP")
        ports = len((obj.get("spec") or {}).get("ports") or [])
        if kind in ("NodePort", "LoadBalancer"):
            used["services.nodeports"] = Decimal(ports)
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = Decimal(1)
    elif not group and plural == "persistentvolumeclaims":
        storage = (
            ((obj.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        )
        used["requests.storage"] = amount(storage)
    return used


def _scope_matches(scope: str, operator: str, values: list[str], pod: Object) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return is_best_effort(pod)
    if scope == "NotBestEffort":
        return not is_best_effort(pod)
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "NotIn":
            return name not in values
        return name in values
    return True


def quota_covers(quota: Object, plural: str, group: str, obj: Object) -> bool:
    """Whether the quota's scopes take in this object (scoped quotas count only pods)."""
    spec = quota.get("spec") or {}
    scopes: list[tuple[str, str, list[str]]] = [(s, "Exists", []) for s in spec.get("scopes") or []]
    for requirement in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        scopes.append(
            (
                requirement.get("scopeName", ""),
                requirement.get("operator", "In"),
                requirement.get("values") or [],
            )
        )
    if not scopes:
        return True
    if group or plural != "pods":
        return False
    return all(_scope_matches(s, op, values, obj) for s, op, values in scopes)


def format_quantity(name: str, value: Decimal) -> str:
    """A sum written as kubectl shows it: counts and whole cores bare, millicores with m,
    bytes with a binary suffix where one divides."""
    if value == value.to_integral_value():
        whole = int(value)
        if "memory" in name or "storage" in name:
            for suffix, size in _BINARY:
                if whole and whole % size == 0:
                    return f"{whole // size}{suffix}"
        return str(whole)
    return f"{int(value * 1000)}m"
