"""OpenAPI v3 component schemas made from the API types ku7s already describes
(ku7s.api.schema) and from custom resources' own schemas: one source of truth for
strategic merge patch, strict decoding, protobuf and what ``kubectl explain`` shows.

Names are upstream's (``io.k8s.api.core.v1.Pod``,
``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``); lists carry their patch strategy and
merge key as upstream's documents do, and every top-level kind its
``x-kubernetes-group-version-kind``.
"""

from __future__ import annotations

import copy
from typing import Any

from ku7s.api.schema import SCHEMA, Field

Object = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_PACKAGES = {
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "batch": "io.k8s.api.batch.v1",
    "coordination": "io.k8s.api.coordination.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "events": "io.k8s.api.events.v1",
    "rbac": "io.k8s.api.rbac.v1",
    "authentication": "io.k8s.api.authentication.v1",
    "authorization": "io.k8s.api.authorization.v1",
    "admissionregistration": "io.k8s.api.admissionregistration.v1",
    "apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
    "apiregistration": "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1",
    "meta": META,
}
#: autoscaling/v1 Scale lives beside the meta types in ku7s.api.schema.
_AUTOSCALING = {"meta.Scale", "meta.ScaleSpec", "meta.ScaleStatus"}
#: Scalar types upstream names as schemas of their own.
_NAMED_SCALARS: dict[str, tuple[str, Object]] = {
    "quantity": ("io.k8s.apimachinery.pkg.api.resource.Quantity", {"type": "string"}),
    "intstr": (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        {"type": "string", "format": "int-or-string"},
    ),
    "time": (f"{META}.Time", {"type": "string", "format": "date-time"}),
    "microtime": (f"{META}.MicroTime", {"type": "string", "format": "date-time"}),
}
_PLAIN_SCALARS: dict[str, Object] = {
    "string": {"type": "string"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "double": {"type": "number", "format": "double"},
    "bytes": {"type": "string", "format": "byte"},
    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}


def schema_name(struct: str) -> str:
    """Upstream's name for one of ku7s.api.schema's structs ("core.Pod")."""
    if struct in _AUTOSCALING:
        return f"io.k8s.api.autoscaling.v1.{struct.partition('.')[2]}"
    namespace, _, name = struct.partition(".")
    return f"{_PACKAGES.get(namespace, namespace)}.{name}"


def ref(name: str) -> Object:
    return {"$ref": f"#/components/schemas/{name}"}


class SchemaSet:
    """The schemas of one document: what was added and everything it refers to."""

    def __init__(self) -> None:
        self.schemas: dict[str, Object] = {}

    def add_struct(self, struct: str, gvk: Object | None = None) -> str:
        name = schema_name(struct)
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive types refer back to it
            self.schemas[name] = self._object(struct)
        if gvk is not None:
            properties = self.schemas[name].setdefault("properties", {})
            properties.setdefault("apiVersion", {"type": "string"})
            properties.setdefault("kind", {"type": "string"})
            kinds = self.schemas[name].setdefault("x-kubernetes-group-version-kind", [])
            if gvk not in kinds:
                kinds.append(gvk)
        return name

    def add_custom(self, crd: Object, version: Object) -> str:
        """A custom resource's schema, with apiVersion, kind and metadata as upstream adds."""
        spec = crd["spec"]
        group, kind = spec["group"], spec["names"]["kind"]
        name = ".".join(reversed(group.split("."))) + f".{version['name']}.{kind}"
        schema = copy.deepcopy((version.get("schema") or {}).get("openAPIV3Schema") or {})
        schema.setdefault("type", "object")
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"type": "string"}
        properties["kind"] = {"type": "string"}
        properties["metadata"] = ref(self.add_struct("meta.ObjectMeta"))
        schema["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version["name"]}
        ]
        self.schemas[name] = schema
        return name

    def _object(self, struct: str) -> Object:
        properties: Object = {}
        for field in SCHEMA.struct(struct).by_name().values():
            properties[field.name] = self._field(field)
        return {"type": "object", "properties": properties}

    def _field(self, field: Field) -> Object:
        element = self._type(field.type)
        if field.repeated:
            schema: Object = {"type": "array", "items": element}
            if field.merge_key:
                schema["x-kubernetes-patch-merge-key"] = field.merge_key
                schema["x-kubernetes-list-type"] = "map"
                schema["x-kubernetes-list-map-keys"] = [field.merge_key]
            elif field.merges:
                schema["x-kubernetes-list-type"] = "set"
            else:
                schema["x-kubernetes-list-type"] = "atomic"
        elif field.map:
            schema = {"type": "object", "additionalProperties": element}
        else:
            schema = element
        if field.strategy:
            if "$ref" in schema:  # OpenAPI 3.0 ignores a $ref's siblings: wrap it
                schema = {"allOf": [schema]}
            schema = {**schema, "x-kubernetes-patch-strategy": field.strategy}
        return schema

    def _type(self, type_name: str) -> Object:
        if type_name in _PLAIN_SCALARS:
            return dict(_PLAIN_SCALARS[type_name])
        if type_name in _NAMED_SCALARS:
            name, schema = _NAMED_SCALARS[type_name]
            self.schemas.setdefault(name, dict(schema))
            return ref(name)
        return ref(self.add_struct(type_name))
