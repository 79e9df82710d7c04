"""Server-side printing: the ``Table`` kubectl asks for with ``Accept: ...;as=Table``.

Each kind gives its columns and a row function (kinds/*.py), following kube-apiserver's
printers so ``kubectl get`` looks as it does against a real cluster.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from ku7s.api import meta

Object = dict[str, Any]
Column = tuple[str, str, str, int]  # name, type, format, priority (1: only with -o wide)


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


def since(timestamp: str | None) -> str:
    """'5m', or '<unknown>' without a timestamp."""
    if not timestamp:
        return "<unknown>"
    delta = datetime.datetime.now(datetime.UTC) - meta.parse_time(timestamp)
    return human_duration(delta.total_seconds())


def age(obj: Object) -> str:
    return since(obj.get("metadata", {}).get("creationTimestamp"))


def _partial(obj: Object) -> Object:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    columns: list[Column],
    row: Callable[[Object], list[Any]],
    items: list[Object],
    *,
    resource_version: str = "",
    continue_token: str | None = None,
    include_object: str = "Metadata",
    include_columns: bool = True,
) -> Object:
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
