"""Field paths as managedFields spells them (``f:spec``, ``k:{"name":"web"}``, ``v:"a"``,
``.``), the set of them an object sets, the value at one, and the ``fieldsV1`` tree.

An object's field set holds its leaves: scalars, atomic lists, atomic or empty maps, a set
list's values, and each keyed list item itself (``.``) beside its fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from control_plane.apiserver.field_management.shapes import MAP, SET, Shape

Object = dict[str, Any]
Path = tuple[str, ...]
ITSELF = "."

_MISSING = object()


def _key_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def item_key(item: Any, keys: tuple[str, ...]) -> str:
    """The path element of a keyed list's item."""
    picked = {k: item.get(k) for k in keys if isinstance(item, dict) and k in item}
    return "k:" + _key_json(picked)


def leaves(value: Any, shape: Shape, prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    _collect(value, shape, prefix, found)
    return found


def _collect(value: Any, shape: Shape, prefix: Path, found: set[Path]) -> None:
    if isinstance(value, dict) and value and not shape.atomic_map:
        for key, child in value.items():
            _collect(child, shape.field(key), (*prefix, f"f:{key}"), found)
    elif isinstance(value, list) and value:
        kind, keys = shape.list_type()
        if kind == MAP and keys:
            for item in value:
                path = (*prefix, item_key(item, keys))
                found.add((*path, ITSELF))
                _collect(item, shape.item(), path, found)
        elif kind == SET:
            found.update((*prefix, "v:" + _key_json(item)) for item in value)
        else:
            found.add(prefix)
    elif prefix:
        found.add(prefix)


def value_at(obj: Any, path: Path, shape: Shape) -> Any:
    """The value a path names (for a keyed item's ``.``, the item), or _MISSING."""
    value = obj
    for element in path:
        if element == ITSELF:
            return value
        if element.startswith("f:") and isinstance(value, dict):
            name = element[2:]
            if name not in value:
                return _MISSING
            value, shape = value[name], shape.field(name)
        elif element.startswith("k:") and isinstance(value, list):
            keys = shape.list_type()[1]
            value = next((i for i in value if item_key(i, keys) == element), _MISSING)
            shape = shape.item()
        elif element.startswith("v:") and isinstance(value, list):
            wanted = json.loads(element[2:])
            return wanted if wanted in value else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def differs(a: Any, b: Any, path: Path, shape: Shape) -> bool:
    if path and path[-1] == ITSELF:
        return (value_at(a, path, shape) is _MISSING) != (value_at(b, path, shape) is _MISSING)
    return value_at(a, path, shape) != value_at(b, path, shape)


def remove_at(obj: Any, path: Path, shape: Shape) -> None:
    """Delete what a path names from obj (a keyed item as a whole for its ``.``)."""
    if path and path[-1] == ITSELF:
        path = path[:-1]
    parent, parent_shape = obj, shape
    chain: list[tuple[Any, str]] = []  # (container, element naming the next one in it)
    for element in path[:-1]:
        chain.append((parent, element))
        if element.startswith("f:") and isinstance(parent, dict):
            parent_shape = parent_shape.field(element[2:])
            parent = parent.get(element[2:])
        elif element.startswith("k:") and isinstance(parent, list):
            keys = parent_shape.list_type()[1]
            parent = next((i for i in parent if item_key(i, keys) == element), None)
            parent_shape = parent_shape.item()
        else:
            return
        if parent is None:
            return
    last = path[-1] if path else ""
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        keys = parent_shape.list_type()[1]
        parent[:] = [i for i in parent if item_key(i, keys) != last]
    elif last.startswith("v:") and isinstance(parent, list):
        value = json.loads(last[2:])
        parent[:] = [i for i in parent if i != value]
    # Maps and lists the removal left empty go too (a keyed item keeps its keys).
    for container, element in reversed(chain):
        if not element.startswith("f:") or not isinstance(container, dict):
            break
        if container.get(element[2:]) not in ({}, []):
            break
        del container[element[2:]]


def render(path: Path) -> str:
    """A path as conflict messages show it: .spec.containers[name="web"].image."""
    text = ""
    for element in path:
        if element.startswith("f:"):
            text += f".{element[2:]}"
        elif element.startswith("k:"):
            keys = json.loads(element[2:])
            text += "[" + ",".join(f"{k}={_key_json(v)}" for k, v in keys.items()) + "]"
        elif element.startswith("v:"):
            text += f"[={element[2:]}]"
    return text


# -- fieldsV1 ----------------------------------------------------------------------------------


def to_fields_v1(paths: Iterable[Path]) -> Object:
    tree: Object = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return tree


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    if not isinstance(tree, dict):
        return found
    for element, child in tree.items():
        path = (*prefix, element)
        if isinstance(child, dict) and child:
            found |= from_fields_v1(child, path)
        else:
            found.add(path)
    return found
