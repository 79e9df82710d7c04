"""Request bodies to JSON objects: JSON, YAML, or Kubernetes protobuf; and the field
validation kubectl asks for with ``fieldValidation`` (Strict, Warn, Ignore).

Unknown fields are dropped as upstream's decoder drops them, and named: in a 400 under
Strict, in ``Warning`` headers otherwise. A value of the wrong JSON type is always a 400,
worded as Go's JSON decoder words it.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from control_plane.apiserver import errors
from control_plane.apiserver.kinds import Kind
from ku7s.api.schema import kind_struct, strict
from ku7s.api.schema.protobuf import ProtobufError, decode, envelope

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
YAML = "application/yaml"
APPLY_YAML = "application/apply-patch+yaml"

Object = dict[str, Any]


def content_type(request: web.Request) -> str:
    """The body's media type; a body without Content-Type is JSON."""
    return request.content_type if request.headers.get("Content-Type") else JSON


def parse(content: str, raw: bytes) -> Any:
    if content == PROTOBUF:
        return from_protobuf(raw)
    if content in (YAML, APPLY_YAML):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"the request body is not valid YAML: {e}") from e
    try:
        return orjson.loads(raw or b"null")
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"the request body is not valid JSON: {e}") from e


def from_protobuf(raw: bytes) -> Object:
    try:
        api_version, kind, body = envelope(raw)
        group, _, version = api_version.rpartition("/")
        struct = (
            "meta.DeleteOptions" if kind == "DeleteOptions" else kind_struct(group, kind, version)
        )
        if struct is None:
            raise errors.unsupported_media_type(
                f"{PROTOBUF} (ku7s cannot read {kind} in protobuf; send JSON)"
            )
        obj = decode(struct, body)
    except ProtobufError as e:
        raise errors.bad_request(f"cannot decode the protobuf body: {e}") from e
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj


def validate_fields(
    kind: Kind, obj: Object, mode: str | None, *, patched: bool = False
) -> list[str]:
    """Drop unknown fields; return the warnings to send. Raise 400 where upstream does
    (a body that cannot be decoded is named by its kind; a patched object's fields not)."""
    mode = mode or "Warn"
    if mode not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation must be one of "Ignore", "Warn" or "Strict", not "{mode}"'
        )
    rt = kind.resource
    cannot = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}'
    unknown = kind.unknown_fields(obj)
    if unknown is None:
        struct = kind_struct(rt.group, rt.kind, rt.version)
        if struct is None:
            return []
        report = strict.check(struct, obj)
        if report.wrong_types:
            owner, path, expected, found = report.wrong_types[0]
            raise errors.bad_request(
                f"{cannot}: json: cannot unmarshal {found} into Go struct field "
                f"{owner}.{path} of type {expected}"
            )
        unknown = report.unknown
    if not unknown or mode == "Ignore":
        return []
    messages = [f'unknown field "{path}"' for path in unknown]
    if mode == "Strict":
        detail = "strict decoding error: " + ", ".join(messages)
        raise errors.bad_request(detail if patched else f"{cannot}: {detail}")
    return messages
