"""The OpenAPI v2 (Swagger 2.0) document at ``/openapi/v2``: the v3 documents merged into
one and rewritten in v2's terms (``#/definitions/`` references, body parameters, no
``nullable``/``oneOf``/``anyOf``/``not``), so v2 and v3 come from one source. Served as JSON,
or as protobuf (the openapi.v2 messages client-go decodes) when asked for it."""

from __future__ import annotations

from typing import Any

import yaml

from ku7s import KUBERNETES_VERSION
from ku7s.rpc import openapi_v2_pb2 as pb

Object = dict[str, Any]

PROTOBUF_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
#: What v2 has no word for (upstream drops them from custom resources' v2 schemas too).
_V3_ONLY = frozenset({"nullable", "oneOf", "anyOf", "not", "x-kubernetes-validations"})
_V3_REF, _V2_REF = "#/components/schemas/", "#/definitions/"


def wants_protobuf(accept: str) -> bool:
    return any(t in accept for t in PROTOBUF_TYPES)


def swagger(documents: list[Object]) -> Object:
    """One v2 document from the per-group-version v3 documents."""
    definitions: Object = {}
    paths: Object = {}
    for document in documents:
        for name, schema in ((document.get("components") or {}).get("schemas") or {}).items():
            definitions[name] = v2_schema(schema)
        for path, item in (document.get("paths") or {}).items():
            paths[path] = {method: _operation(op) for method, op in item.items()}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions,
    }


def v2_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        # v3 wraps a $ref that has siblings; v2 readers take the extensions beside it
        schema = {**{k: v for k, v in schema.items() if k != "allOf"}, **all_of[0]}
    result: Object = {}
    for key, value in schema.items():
        if key in _V3_ONLY:
            continue
        if key == "$ref" and isinstance(value, str):
            result[key] = value.replace(_V3_REF, _V2_REF)
        elif key == "properties" and isinstance(value, dict):
            result[key] = {name: v2_schema(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            result[key] = v2_schema(value)
        else:
            result[key] = value
    return result


def _operation(op: Object) -> Object:
    result = {k: v for k, v in op.items() if k.startswith("x-")}
    parameters = []
    for parameter in op.get("parameters") or []:
        schema = parameter.get("schema") or {}
        parameters.append({"name": parameter["name"], "in": parameter["in"],
                           "type": schema.get("type", "string"),
                           "uniqueItems": bool(schema.get("uniqueItems"))})  # fmt: skip
    body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
    if body is not None:
        parameters.append({"name": "body", "in": "body", "required": True,
                           "schema": v2_schema(body["schema"])})  # fmt: skip
    if parameters:
        result["parameters"] = parameters
    result["responses"] = {code: {"description": r.get("description", "")}
                           for code, r in (op.get("responses") or {}).items()}  # fmt: skip
    result["consumes"] = ["*/*"]
    result["produces"] = ["application/json", "application/yaml"]
    result["schemes"] = ["https"]
    return result


# -- protobuf ----------------------------------------------------------------------------


def to_protobuf(document: Object) -> bytes:
    message = pb.Document(swagger=document["swagger"], info=pb.Info(**document["info"]))
    for path, item in document["paths"].items():
        named = message.paths.path.add(name=path)
        for method, op in item.items():
            _fill_operation(getattr(named.value, method), op)
    for name, schema in document["definitions"].items():
        _fill_schema(message.definitions.additional_properties.add(name=name).value, schema)
    return message.SerializeToString()


def _any(target: Any, value: Any) -> None:
    target.yaml = yaml.safe_dump(value, default_flow_style=False)


def _extensions(target: Any, source: Object) -> None:
    for key, value in source.items():
        if key.startswith("x-"):
            _any(target.add(name=key).value, value)


def _fill_operation(message: Any, op: Object) -> None:
    message.consumes.extend(op.get("consumes") or [])
    message.produces.extend(op.get("produces") or [])
    message.schemes.extend(op.get("schemes") or [])
    for parameter in op.get("parameters") or []:
        slot = message.parameters.add().parameter
        if parameter["in"] == "body":
            body = slot.body_parameter
            body.name, body.required = parameter["name"], parameter["required"]
            setattr(body, "in", "body")
            _fill_schema(body.schema, parameter["schema"])
        else:
            query = slot.non_body_parameter.query_parameter_sub_schema
            query.name, query.type = parameter["name"], parameter["type"]
            query.unique_items = parameter["uniqueItems"]
            setattr(query, "in", parameter["in"])
    for code, response in (op.get("responses") or {}).items():
        named = message.responses.response_code.add(name=code)
        named.value.response.description = response.get("description", "")
    _extensions(message.vendor_extension, op)


_STRINGS = {"$ref": "_ref", "format": "format", "title": "title", "description": "description",
            "pattern": "pattern"}  # fmt: skip
_NUMBERS = {"multipleOf": "multiple_of", "maximum": "maximum", "minimum": "minimum"}
_INTEGERS = {"maxLength": "max_length", "minLength": "min_length", "maxItems": "max_items",
             "minItems": "min_items", "maxProperties": "max_properties",
             "minProperties": "min_properties"}  # fmt: skip
_BOOLEANS = {"exclusiveMaximum": "exclusive_maximum", "exclusiveMinimum": "exclusive_minimum",
             "uniqueItems": "unique_items"}  # fmt: skip


def _fill_schema(message: Any, schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for table, cast in ((_STRINGS, str), (_NUMBERS, float), (_INTEGERS, int), (_BOOLEANS, bool)):
        for key, field in table.items():
            if isinstance(schema.get(key), str | int | float | bool):
                setattr(message, field, cast(schema[key]))
    kind = schema.get("type")
    if kind:
        message.type.value.extend(kind if isinstance(kind, list) else [kind])
    message.required.extend(str(r) for r in schema.get("required") or [])
    for value in schema.get("enum") or []:
        _any(message.enum.add(), value)
    if "default" in schema:
        _any(message.default, schema["default"])
    for name, sub in (schema.get("properties") or {}).items():
        _fill_schema(message.properties.additional_properties.add(name=name).value, sub)
    items = schema.get("items")
    for item in items if isinstance(items, list) else [items] if items else []:
        _fill_schema(message.items.schema.add(), item)
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        message.additional_properties.boolean = extra
    elif isinstance(extra, dict):
        _fill_schema(message.additional_properties.schema, extra)
    for part in schema.get("allOf") or []:
        _fill_schema(message.all_of.add(), part)
    _extensions(message.vendor_extension, schema)
