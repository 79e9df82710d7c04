"""``metadata.managedFields``: who set which field, kept on every write, and server-side
apply, as upstream's field manager does them.

An Update (create, update, patch) gives its manager the fields it changed and takes them
from everyone else. An Apply merges the applied configuration into the object (keyed
lists by their keys, sets by value, everything else replaced), removes the fields the
manager applied last time and no longer does (unless someone else owns them), and makes
the manager own exactly what it applied. Applying a field another manager owns with a
different value is a conflict, unless forced, which takes the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.field_management.field_paths import (
    ITSELF,
    Path,
    differs,
    from_fields_v1,
    item_key,
    leaves,
    remove_at,
    render,
    to_fields_v1,
)
from control_plane.apiserver.field_management.shapes import MAP, SET, Shape
from ku7s.api import meta

Object = dict[str, Any]

APPLY, UPDATE = "Apply", "Update"
#: Fields the API server sets, which no manager owns.
_SERVER_METADATA = (
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
)  # fmt: skip


@dataclass(frozen=True)
class Writer:
    """Who writes, through what: the manager's name, its API version, the subresource."""

    manager: str
    api_version: str
    subresource: str = ""


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str
    paths: set[Path]

    @classmethod
    def parse(cls, raw: Object) -> Entry:
        return cls(
            str(raw.get("manager", "")),
            str(raw.get("operation", UPDATE)),
            str(raw.get("apiVersion", "")),
            str(raw.get("subresource", "")),
            str(raw.get("time", "")),
            from_fields_v1(raw.get("fieldsV1")),
        )

    def dump(self) -> Object:
        raw: Object = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.paths),
        }
        if self.subresource:
            raw["subresource"] = self.subresource
        return raw

    def same_owner(self, writer: Writer, operation: str) -> bool:
        return (self.manager, self.operation, self.subresource) == (
            writer.manager, operation, writer.subresource,
        )  # fmt: skip


def _tracked(obj: Object, shape: Shape, subresource: str, has_status: bool) -> set[Path]:
    """The fields of obj a manager can own through this subresource."""
    if subresource == "status":
        return leaves(obj.get("status"), shape.field("status"), ("f:status",))
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if has_status:
        body.pop("status", None)
    metadata = body.pop("metadata", None)
    if isinstance(metadata, dict):
        owned = {k: v for k, v in metadata.items() if k not in _SERVER_METADATA}
        if owned:
            body["metadata"] = owned
    return leaves(body, shape)


def entries_of(obj: Object) -> list[Entry]:
    return [Entry.parse(e) for e in obj.get("metadata", {}).get("managedFields") or []
            if isinstance(e, dict)]  # fmt: skip


def _store(obj: Object, entries: list[Entry]) -> None:
    kept = [e.dump() for e in entries if e.paths]
    if kept:
        obj["metadata"]["managedFields"] = kept
    else:
        obj["metadata"].pop("managedFields", None)


def _own(entries: list[Entry], writer: Writer, operation: str, paths: set[Path]) -> None:
    now = meta.now_rfc3339()
    for entry in entries:
        if entry.same_owner(writer, operation):
            entry.paths = set(paths) if operation == APPLY else entry.paths | paths
            entry.time, entry.api_version = now, writer.api_version
            return
    entries.append(Entry(writer.manager, operation, writer.api_version, writer.subresource,
                         now, set(paths)))  # fmt: skip


class FieldManager:
    """Field ownership for one kind: its shape and whether status is a subresource."""

    def __init__(self, shape: Shape, has_status: bool) -> None:
        self._shape = shape
        self._has_status = has_status

    def record_update(self, old: Object | None, new: Object, writer: Writer) -> None:
        """Set new's managedFields after an Update (old is None for a create)."""
        given = new.get("metadata", {}).get("managedFields")
        if old is not None and given and given != old["metadata"].get("managedFields"):
            return  # the client set them itself, as upstream allows
        entries = entries_of(old) if old is not None else []
        before = _tracked(old, self._shape, writer.subresource, self._has_status) if old else set()
        after = _tracked(new, self._shape, writer.subresource, self._has_status)
        changed = {p for p in after if p not in before or differs(old, new, p, self._shape)}
        removed = before - after
        for entry in entries:
            entry.paths -= changed | removed
        if changed:
            _own(entries, writer, UPDATE, changed)
        _store(new, entries)

    def apply(self, current: Object | None, config: Object, writer: Writer, force: bool) -> Object:
        """The object after applying config (current is None: it is created)."""
        entries = entries_of(current) if current is not None else []
        applied = _tracked(config, self._shape, writer.subresource, self._has_status)
        base = copy.deepcopy(current) if current is not None else {}
        conflicts: dict[str, tuple[str, list[Path]]] = {}
        for entry in entries:
            if entry.same_owner(writer, APPLY):
                continue
            clashing = {p for p in entry.paths & applied if differs(base, config, p, self._shape)}
            if clashing:
                found = conflicts.setdefault(entry.manager, (entry.api_version, []))
                found[1].extend(sorted(clashing))
                if force:
                    entry.paths -= clashing
        if conflicts and not force:
            raise _conflict_error(conflicts)
        previous = next((e.paths for e in entries if e.same_owner(writer, APPLY)), set())
        others = set().union(*(e.paths for e in entries if not e.same_owner(writer, APPLY)))
        for path in _removal_order(previous - applied - others, others):
            remove_at(base, path, self._shape)
        merged = merge(base, config, self._shape)
        _own(entries, writer, APPLY, applied)
        merged.setdefault("metadata", {})
        _store(merged, entries)
        return merged


def _removal_order(dropped: set[Path], others: set[Path]) -> list[Path]:
    """Keyed items first (as a whole, unless another manager owns a field inside), then
    fields, deepest first."""
    items = [
        p for p in dropped
        if p[-1] == ITSELF and not any(o[: len(p) - 1] == p[:-1] for o in others)
    ]  # fmt: skip
    gone = {p[:-1] for p in items}
    fields = [
        p for p in dropped
        if p[-1] != ITSELF and not any(p[: len(g)] == g for g in gone)
    ]  # fmt: skip
    return sorted(items, key=len) + sorted(fields, key=len, reverse=True)


def merge(current: Any, config: Any, shape: Shape) -> Any:
    """config laid over current as apply merges: maps by key, keyed lists by their keys,
    sets by value; anything else config's."""
    if isinstance(current, dict) and isinstance(config, dict) and not shape.atomic_map:
        result = dict(current)
        for key, value in config.items():
            result[key] = merge(current[key], value, shape.field(key)) if key in current else value
        return result
    if isinstance(current, list) and isinstance(config, list):
        kind, keys = shape.list_type()
        if kind == MAP and keys:
            result_list = list(current)
            for item in config:
                key = item_key(item, keys)
                index = next(
                    (i for i, c in enumerate(result_list) if item_key(c, keys) == key), None
                )
                if index is None:
                    result_list.append(item)
                else:
                    result_list[index] = merge(result_list[index], item, shape.item())
            return result_list
        if kind == SET:
            return list(current) + [v for v in config if v not in current]
    return config


def _conflict_error(conflicts: dict[str, tuple[str, list[Path]]]) -> errors.APIError:
    count = sum(len(paths) for _, paths in conflicts.values())
    causes, parts = [], []
    for manager, (api_version, paths) in conflicts.items():
        who = f'conflict with "{manager}" using {api_version}'
        causes += [{"type": "FieldManagerConflict", "message": who, "field": render(p)}
                   for p in paths]  # fmt: skip
        if len(paths) == 1:
            parts.append(f"{who}: {render(paths[0])}")
        else:
            parts.append(f'conflicts with "{manager}" using {api_version}:\n' + "\n".join(
                f"- {render(p)}" for p in paths))  # fmt: skip
    plural = "conflict" if count == 1 else "conflicts"
    message = f"Apply failed with {count} {plural}: " + "\n".join(parts)
    return errors.APIError(409, "Conflict", message, {"causes": causes})
