"""Strategic merge patch, as kube-apiserver applies it (MergeParallelList, ignoring nulls
for keys the object does not have).

On maps: ``$patch: replace`` replaces the map, ``$patch: delete`` empties it, ``$retainKeys``
drops the keys it does not list, a null value deletes its key, and everything else merges
key by key. On lists that merge (ku7s.api.schema): elements with the same merge key merge,
``{"$patch": "delete", key: v}`` removes one, ``[{"$patch": "replace"}, ...]`` replaces the
list, primitive lists take the union and ``$deleteFromPrimitiveList/<field>`` removes values;
``$setElementOrder/<field>`` puts the merged list in the patch's order. Lists that do not
merge are replaced whole.
"""

from __future__ import annotations

import copy
from typing import Any

from ku7s.api.patch.errors import PatchConflict, PatchError
from ku7s.api.schema import SCHEMA, Field

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def strategic_merge_patch(original: Any, patch: Any, struct: str | None) -> Any:
    """Apply patch to original; struct names the object's schema type ("apps.Deployment"),
    or None for an object without one (its lists are then replaced whole)."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _merge_map(original if isinstance(original, dict) else {}, patch, struct)


def field_meta(struct: str | None, name: str) -> Field | None:
    if struct is None:
        return None
    return SCHEMA.struct(struct).by_name().get(name)


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], struct: str | None
) -> dict[str, Any]:
    directive = patch.get(_DIRECTIVE)
    if directive is not None:
        if directive == "replace":
            return _strip({k: v for k, v in patch.items() if k != _DIRECTIVE}, struct)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f'unknown patch type: "{directive}" in map: {patch}')
    result = copy.deepcopy(original)
    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError(f"$retainKeys must be a list, not {retain!r}")
        for key, value in patch.items():
            if not key.startswith("$") and value is not None and key not in retain:
                raise PatchConflict(
                    f'the $retainKeys list does not contain "{key}", which the patch sets'
                )
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list")
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        meta = field_meta(struct, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            child = meta.type if meta and meta.is_struct and not meta.repeated else None
            if meta is not None and meta.map:
                child = None
            result[key] = _merge_map(current if isinstance(current, dict) else {}, value, child)
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(current if isinstance(current, list) else [], value, meta)
        else:
            result[key] = copy.deepcopy(value)
    for key, order in patch.items():
        if key.startswith(_ORDER):
            field = key[len(_ORDER) :]
            if not isinstance(order, list):
                raise PatchError(f"{key} must be a list")
            if isinstance(result.get(field), list):
                result[field] = _ordered(result[field], order, field_meta(struct, field))
    return result


def _merge_list(original: list[Any], patch: list[Any], meta: Field | None) -> list[Any]:
    element = meta.type if meta and meta.is_struct else None
    if meta is None or not meta.merges:
        return [_strip(v, element) if isinstance(v, dict) else copy.deepcopy(v) for v in patch]
    if any(isinstance(v, dict) and v.get(_DIRECTIVE) == "replace" for v in patch):
        return [
            _strip(v, element)
            for v in patch
            if not (isinstance(v, dict) and v.get(_DIRECTIVE) == "replace")
        ]
    if not meta.merge_key:  # a set of primitives
        result = copy.deepcopy(original)
        for value in patch:
            if isinstance(value, dict | list):
                raise PatchError(f"a list of primitives cannot hold {value!r}")
            if value not in result:
                result.append(value)
        return result
    key = meta.merge_key
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"elements of a merging list must be maps, not {item!r}")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        position = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item[key]),
            None,
        )
        directive = item.get(_DIRECTIVE)
        if directive == "delete":
            if position is not None:
                del result[position]
            continue
        if directive not in (None, "merge"):
            raise PatchError(f'unknown patch type: "{directive}" in list element: {item}')
        if position is None:
            result.append(_merge_map({}, item, element))
        else:
            result[position] = _merge_map(result[position], item, element)
    return result


def _ordered(items: list[Any], order: list[Any], meta: Field | None) -> list[Any]:
    """The patch's order first; elements only the server has keep theirs, after them."""
    key = meta.merge_key if meta else ""

    def identity(value: Any) -> Any:
        return value.get(key) if key and isinstance(value, dict) else value

    wanted = [identity(o) for o in order]
    placed = [
        next(i for i in items if identity(i) == w)
        for w in wanted
        if any(identity(i) == w for i in items)
    ]
    rest = [i for i in items if identity(i) not in wanted]
    return placed + rest


def _strip(value: Any, struct: str | None) -> Any:
    """A patch value that lands where the object had nothing: directives resolved away."""
    if isinstance(value, dict):
        return _merge_map({}, value, struct)
    return copy.deepcopy(value)
