"""The kind a CustomResourceDefinition's version makes: served at
/apis/<group>/<version>/[namespaces/<ns>/]<plural>, checked against the version's schema
(pruned and defaulted first), printed with its printer columns, and stored under
/registry/<group>/<plural>/ in the storage version (conversion ``None``: only apiVersion
changes between versions; ``Webhook``: the definition's converter is asked)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver import errors
from control_plane.apiserver.custom_resources.printer_columns import PrinterColumn
from control_plane.apiserver.custom_resources.schema import StructuralSchema
from control_plane.apiserver.field_management.shapes import SchemaShape, Shape
from control_plane.apiserver.kinds.base import AGE, NAME, Converter, Object, ScalableKind
from control_plane.apiserver.kinds.custom_resource_definition import storage_version
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import age
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors


class CustomResourceKind(ScalableKind):
    """One served version of a custom resource."""

    tracks_generation: ClassVar[bool] = True
    strategic_merge: ClassVar[bool] = False

    def __init__(
        self,
        crd: Object,
        version: Object,
        *,
        terminating: bool = False,
        converter: Converter | None = None,
    ) -> None:
        spec = crd["spec"]
        names = spec["names"]
        group = spec["group"]
        subresources = version.get("subresources") or {}
        self.resource = ResourceType(  # type: ignore[misc]
            group,
            version["name"],
            names["plural"],
            names.get("singular") or names["kind"].lower(),
            names["kind"],
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in ("status", "scale") if s in subresources),
            storage_name=f"{group}/{names['plural']}",
        )
        self.crd_name = meta.name_of(crd)
        #: The definition and the version this kind serves (its OpenAPI schema comes from them).
        self.definition, self.version_spec = crd, version
        self.refuses_creates = terminating
        self.converter = converter
        self._storage_version = f"{group}/{storage_version(crd)}"
        self._schema = StructuralSchema((version.get("schema") or {}).get("openAPIV3Schema") or {})
        self._scale = subresources.get("scale") or {}
        # selectableFields: what field selectors may name besides metadata.name/namespace.
        self.field_paths = tuple(  # type: ignore[misc]
            str(f.get("jsonPath", "")).lstrip(".") for f in version.get("selectableFields") or []
        )
        columns = version.get("additionalPrinterColumns") or []
        self._printer = [PrinterColumn.from_definition(c) for c in columns]
        self.columns = (  # type: ignore[misc]
            [NAME, *(p.column for p in self._printer)] if self._printer else [NAME, AGE]
        )

    # -- writes ----------------------------------------------------------------------------

    def default(self, obj: Object) -> None:
        self._schema.prune_and_default(obj)

    def validate(self, obj: Object, errors_: FieldErrors) -> None:
        self._schema.validate(obj, errors_)

    def validate_update(self, old: Object, new: Object, errors_: FieldErrors) -> None:
        self._schema.validate_transition(old, new, errors_)

    def field_shape(self) -> Shape:
        return SchemaShape(self._schema.schema)

    def unknown_fields(self, obj: Object) -> list[str]:
        return self._schema.unknown_fields(obj)

    # -- storage form ----------------------------------------------------------------------

    @property
    def storage_api_version(self) -> str:
        return self._storage_version

    def to_storage(self, obj: Object) -> Object:
        if self.converter is None and obj.get("apiVersion") != self._storage_version:
            obj = {**obj, "apiVersion": self._storage_version}
        return obj

    def from_storage(self, obj: Object) -> Object:
        if self.converter is None:
            return super().from_storage(obj)
        obj["kind"] = self.resource.kind  # the converter sets the apiVersion
        return obj

    # -- reads -----------------------------------------------------------------------------

    def row(self, obj: Object) -> list[Any]:
        if not self._printer:
            return [meta.name_of(obj), age(obj)]
        return [meta.name_of(obj), *(p.cell(obj) for p in self._printer)]

    # -- scale -----------------------------------------------------------------------------

    def replicas(self, obj: Object) -> tuple[int, int, str]:
        desired = _at(obj, self._scale.get("specReplicasPath", ""))
        current = _at(obj, self._scale.get("statusReplicasPath", ""))
        selector = _at(obj, self._scale.get("labelSelectorPath", ""))
        return (
            desired if isinstance(desired, int) else 0,
            current if isinstance(current, int) else 0,
            selector if isinstance(selector, str) else "",
        )

    def set_replicas(self, obj: Object, replicas: int) -> None:
        parts = self._scale.get("specReplicasPath", "").strip(".").split(".")
        target = obj
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise errors.bad_request(f"{self._scale['specReplicasPath']} is not an object")
        target[parts[-1]] = replicas


def _at(obj: Object, path: str) -> Any:
    """The value at a simple JSON path such as .spec.replicas (None if missing)."""
    value: Any = obj
    for part in path.strip(".").split(".") if path else []:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if path else None
