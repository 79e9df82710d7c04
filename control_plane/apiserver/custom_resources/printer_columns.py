"""A custom resource's ``additionalPrinterColumns``: the cells ``kubectl get`` shows, found
with the columns' JSONPath expressions (jsonpath-ng, with filters such as
``.status.conditions[?(@.type=="Ready")].status``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse

from control_plane.apiserver.tables import Column, since

Object = dict[str, Any]


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    format: str
    priority: int
    path: JSONPath | None

    @classmethod
    def from_definition(cls, column: Object) -> PrinterColumn:
        expression = str(column.get("jsonPath", ""))
        try:
            path: JSONPath | None = parse(
                "$" + (expression if expression.startswith((".", "[")) else "." + expression)
            )
        except Exception:  # jsonpath-ng raises several kinds
            path = None  # shown as empty, as upstream shows a path that finds nothing
        return cls(
            str(column.get("name", "")),
            str(column.get("type", "string")),
            str(column.get("format", "")),
            int(column.get("priority", 0) or 0),
            path,
        )

    @property
    def column(self) -> Column:
        return (self.name, self.type, self.format, self.priority)

    def cell(self, obj: Object) -> Any:
        if self.path is None:
            return None
        found = [match.value for match in self.path.find(obj)]
        if not found:
            return None
        value = found[0] if len(found) == 1 else found
        if self.type == "date" and isinstance(value, str):
            return since(value)
        if self.type == "string" and not isinstance(value, str):
            return json.dumps(value, separators=(",", ":"))
        return value
