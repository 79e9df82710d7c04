"""What server-side apply needs to know of a type: which lists merge by key (and by which
keys), which are sets, which are replaced whole, and which maps are atomic.

Built-in kinds take it from ku7s.api.schema (the strategic-merge metadata: a merge key
makes a keyed list, ``merge`` without a key a set, anything else is atomic); custom
resources from their OpenAPI schema's ``x-kubernetes-list-type``,
``x-kubernetes-list-map-keys`` and ``x-kubernetes-map-type``. A part of an object no schema
describes is a granular map of atomic lists, as upstream treats untyped data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ku7s.api.schema import SCALARS, SCHEMA, Field

Object = dict[str, Any]

MAP, SET, ATOMIC = "map", "set", "atomic"


class Shape:
    """The shape of untyped data; subclasses know more."""

    def field(self, name: str) -> Shape:
        return UNKNOWN

    def item(self) -> Shape:
        return UNKNOWN

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        """(MAP, keys), (SET, ()) or (ATOMIC, ())."""
        return (ATOMIC, ())

    @property
    def atomic_map(self) -> bool:
        return False


UNKNOWN = Shape()


@dataclass(frozen=True)
class StructShape(Shape):
    """A struct of ku7s.api.schema, or one of its scalar types (which have no fields)."""

    type_name: str

    def field(self, name: str) -> Shape:
        if self.type_name in SCALARS:
            return UNKNOWN
        found = SCHEMA.struct(self.type_name).by_name().get(name)
        return FieldShape(found) if found is not None else UNKNOWN


@dataclass(frozen=True)
class FieldShape(Shape):
    """A struct's field: a list or map of its type, or its type itself."""

    spec: Field

    def _element(self) -> Shape:
        return StructShape(self.spec.type)

    def field(self, name: str) -> Shape:
        if self.spec.map:
            return self._element()
        if self.spec.repeated:
            return UNKNOWN
        return self._element().field(name)

    def item(self) -> Shape:
        return self._element() if self.spec.repeated else UNKNOWN

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        if self.spec.merge_key:
            return (MAP, (self.spec.merge_key,))
        if self.spec.merges:
            return (SET, ())
        return (ATOMIC, ())

    @property
    def atomic_map(self) -> bool:
        return self.spec.type == "raw"


@dataclass(frozen=True)
class SchemaShape(Shape):
    """A node of an OpenAPI v3 schema (a custom resource's)."""

    schema: Any

    def field(self, name: str) -> Shape:
        if not isinstance(self.schema, dict):
            return UNKNOWN
        properties = self.schema.get("properties") or {}
        if name in properties:
            return SchemaShape(properties[name])
        additional = self.schema.get("additionalProperties")
        return SchemaShape(additional) if isinstance(additional, dict) else UNKNOWN

    def item(self) -> Shape:
        items = self.schema.get("items") if isinstance(self.schema, dict) else None
        return SchemaShape(items) if isinstance(items, dict) else UNKNOWN

    def list_type(self) -> tuple[str, tuple[str, ...]]:
        if not isinstance(self.schema, dict):
            return (ATOMIC, ())
        kind = self.schema.get("x-kubernetes-list-type")
        if kind == MAP:
            return (MAP, tuple(self.schema.get("x-kubernetes-list-map-keys") or ()))
        return (SET, ()) if kind == SET else (ATOMIC, ())

    @property
    def atomic_map(self) -> bool:
        return isinstance(self.schema, dict) and (
            self.schema.get("x-kubernetes-map-type") == "atomic"
        )
