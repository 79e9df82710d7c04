"""Decoding Kubernetes protobuf bodies (``application/vnd.kubernetes.protobuf``) into JSON.

kubectl ≥ 1.32 sends its typed requests (``kubectl create deployment``, ``create
configmap`` ...) as protobuf: the magic ``k8s\\0``, then a runtime.Unknown envelope whose
``raw`` holds the object, encoded field by field with the numbers of the public API. The
wire format is read here directly and every field named through the schema.

Go's encoder writes a field that is not a pointer even when it holds its zero value; JSON
leaves those out, so zero values are dropped, except for the fields where zero or false
means something (``replicas: 0``, ``automountServiceAccountToken: false`` ...).
"""

from __future__ import annotations

import base64
import datetime
import struct as binary
from typing import Any

from ku7s.api.schema import SCHEMA, Field

MAGIC = b"k8s\x00"

#: Fields whose zero value is kept: Go pointers, or fields without omitempty.
KEEP_ZERO = frozenset(
    {
        "replicas",
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "priority",
        "tolerationSeconds",
        "runAsUser",
        "runAsGroup",
        "fsGroup",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "deletionGracePeriodSeconds",
        "exitCode",
        "restartCount",
        "ready",
        "started",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "hostUsers",
        "suspend",
        "allocateLoadBalancerNodePorts",
        "optional",
        "defaultMode",
        "mode",
        "partition",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "privileged",
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "serving",
        "terminating",
        "immutable",
        "manualSelector",
        "paused",
        "minDomains",
        "gracePeriodSeconds",
        "orphanDependents",
        "publishNotReadyAddresses",
        "minAvailable",
        "maxUnavailable",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "minReplicas",
        "averageUtilization",
        "stabilizationWindowSeconds",
    }
)


class ProtobufError(ValueError):
    """A body that is not valid Kubernetes protobuf, or uses a type ku7s cannot read."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) for each field: ints for varints and fixed, bytes else."""
    out, pos = [], 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
            if pos > len(data):
                raise ProtobufError("truncated field")
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def envelope(body: bytes) -> tuple[str, str, bytes]:
    """apiVersion, kind and the raw object of a protobuf request body."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for n, _, v in _fields(value):
                if n == 1:
                    api_version = v.decode()
                elif n == 2:
                    kind = v.decode()
        elif number == 2:
            raw = value
        elif number == 3 and value:
            raise ProtobufError(f"content encoding {value.decode()!r} is not supported")
    return api_version, kind, raw


def _signed(value: int) -> int:
    """Negative int32 and int64 values travel as 64-bit two's complement varints."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _timestamp(data: bytes, micro: bool) -> str | None:
    seconds = nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = _signed(value)
        elif number == 2:
            nanos = value
    if not seconds and not nanos:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(spec: Field, wire: int, value: Any) -> Any:
    kind = spec.type
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind in ("int32", "int64"):
        return _signed(value)
    if kind == "bool":
        return bool(value)
    if kind == "double":
        return binary.unpack("<d", value)[0]
    if kind == "quantity":
        return next((v.decode() for n, _, v in _fields(value) if n == 1), "0")
    if kind == "intstr":
        parts = {n: v for n, _, v in _fields(value)}
        if parts.get(1, 0) == 1:
            return parts.get(3, b"").decode()
        return _signed(parts.get(2, 0))
    if kind in ("time", "microtime"):
        return _timestamp(value, kind == "microtime")
    raise ProtobufError(f"field {spec.name!r} cannot be read from protobuf; send JSON")


def _is_zero(value: Any) -> bool:
    return value in (None, "", 0, False) or value == [] or value == {}


def decode(struct_name: str, data: bytes) -> dict[str, Any]:
    struct = SCHEMA.struct(struct_name)
    numbers = struct.by_number()
    result: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        spec = numbers.get(number)
        if spec is None:
            raise ProtobufError(
                f"field {number} of {struct_name.split('.', 1)[1]} is not known to ku7s; "
                "send this object as JSON"
            )
        if spec.name == "managedFields":
            continue
        if spec.inline:
            result.update(decode(spec.type, value))
            continue
        if spec.map:
            entry = {n: (w, v) for n, w, v in _fields(value)}
            key = entry[1][1].decode() if 1 in entry else ""
            item = _element(spec, *entry[2]) if 2 in entry else _empty(spec)
            result.setdefault(spec.name, {})[key] = item
        elif spec.repeated:
            if wire == 2 and spec.type in ("int32", "int64", "bool"):
                pos, items = 0, []
                while pos < len(value):
                    item, pos = _varint(value, pos)
                    items.append(_scalar(spec, 0, item))
                result.setdefault(spec.name, []).extend(items)
            else:
                result.setdefault(spec.name, []).append(_element(spec, wire, value))
        else:
            result[spec.name] = _element(spec, wire, value)
    return {k: v for k, v in result.items() if not _is_zero(v) or k in KEEP_ZERO}


def _element(spec: Field, wire: int, value: Any) -> Any:
    if spec.is_struct:
        return decode(spec.type, value)
    return _scalar(spec, wire, value)


def _empty(spec: Field) -> Any:
    return {} if spec.is_struct else "" if spec.type in ("string", "bytes") else 0
