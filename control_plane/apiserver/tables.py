"""Server-side printing: the ``Table`` kubectl asks for with ``Accept: ...;as=Table``.

Column sets follow kube-apiserver's printers so ``kubectl get`` looks as it does against a
real cluster; a type without a printer gets the generic Name / Created At columns.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from control_plane.apiserver.resources import ResourceType
from ku7s.api import meta

Object = dict[str, Any]
Column = tuple[str, str, str, int]  # name, type, format, priority
Printer = tuple[list[Column], Callable[[Object], list[Any]]]


def human_duration(seconds: float) -> str:
    """kube's HumanDuration: '45s', '3m20s', '25m', '5h3m', '30h', '4d2h', '120d', '2y30d'."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def age(obj: Object) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    delta = datetime.datetime.now(datetime.UTC) - meta.parse_time(created)
    return human_duration(delta.total_seconds())


def _node_status(node: Object) -> str:
    ready = meta.condition(node, "Ready")
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if not ready:
        status = "Unknown"
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_roles(node: Object) -> str:
    roles = sorted(
        key.split("/", 1)[1]
        for key in meta.labels_of(node)
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]
    )
    return ",".join(roles) or "<none>"


def _node_address(node: Object, kind: str) -> str:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address"))
    return "<none>"


def _node_row(node: Object) -> list[Any]:
    info = node.get("status", {}).get("nodeInfo") or {}
    return [
        meta.name_of(node),
        _node_status(node),
        _node_roles(node),
        age(node),
        info.get("kubeletVersion", ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


def _namespace_row(ns: Object) -> list[Any]:
    return [meta.name_of(ns), ns.get("status", {}).get("phase", ""), age(ns)]


def _lease_row(lease: Object) -> list[Any]:
    return [meta.name_of(lease), lease.get("spec", {}).get("holderIdentity", ""), age(lease)]


def _generic_row(obj: Object) -> list[Any]:
    return [meta.name_of(obj), obj.get("metadata", {}).get("creationTimestamp", "")]


_NAME: Column = ("Name", "string", "name", 0)
_AGE: Column = ("Age", "string", "", 0)

PRINTERS: dict[str, Printer] = {
    "nodes": (
        [
            _NAME,
            ("Status", "string", "", 0),
            ("Roles", "string", "", 0),
            _AGE,
            ("Version", "string", "", 0),
            ("Internal-IP", "string", "", 1),
            ("External-IP", "string", "", 1),
            ("OS-Image", "string", "", 1),
            ("Kernel-Version", "string", "", 1),
            ("Container-Runtime", "string", "", 1),
        ],
        _node_row,
    ),
    "namespaces": ([_NAME, ("Status", "string", "", 0), _AGE], _namespace_row),
    "leases": ([_NAME, ("Holder", "string", "", 0), _AGE], _lease_row),
}

_GENERIC: Printer = ([_NAME, ("Created At", "date", "", 0)], _generic_row)


def _partial(obj: Object) -> Object:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    rt: ResourceType,
    items: list[Object],
    *,
    resource_version: str = "",
    continue_token: str | None = None,
    include_object: str = "Metadata",
    include_columns: bool = True,
) -> Object:
    columns, row = PRINTERS.get(rt.plural, _GENERIC)
    rows = []
    for item in items:
        entry: Object = {"cells": row(item)}
        if include_object == "Object":
            entry["object"] = item
        elif include_object != "None":
            entry["object"] = _partial(item)
        rows.append(entry)
    table: Object = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": "", "priority": p}
            for n, t, f, p in columns
        ]
        if include_columns
        else [],
        "rows": rows,
    }
    if continue_token:
        table["metadata"]["continue"] = continue_token
    return table
