"""Endpoints and EndpointSlices: where a Service's backends are (written by controllers)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors

_ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")


def first_three(items: list[str]) -> str:
    """kubectl's way with long lists: three, then '+ N more...'."""
    if not items:
        return "<none>"
    shown = ",".join(items[:3])
    return shown + (f" + {len(items) - 3} more..." if len(items) > 3 else "")


class EndpointsKind(Kind):
    resource = ResourceType(
        "",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        True,
        short_names=("ep",),
    )
    columns: ClassVar[list[Column]] = [NAME, ("Endpoints", "string", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        for i, subset in enumerate(obj.get("subsets") or []):
            for j, port in enumerate((subset or {}).get("ports") or []):
                errors.port(f"subsets[{i}].ports[{j}].port", (port or {}).get("port"))

    def row(self, obj: Object) -> list[Any]:
        targets = []
        for subset in obj.get("subsets") or []:
            ports = subset.get("ports") or [{}]
            for address in subset.get("addresses") or []:
                for port in ports:
                    ip = address.get("ip", "")
                    targets.append(f"{ip}:{port['port']}" if "port" in port else ip)
        return [meta.name_of(obj), first_three(targets), age(obj)]


class EndpointSliceKind(Kind):
    resource = ResourceType(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        True,
    )
    columns: ClassVar[list[Column]] = [
        NAME,
        ("AddressType", "string", "", 0),
        ("Ports", "string", "", 0),
        ("Endpoints", "string", "", 0),
        AGE,
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        errors.one_of("addressType", obj.get("addressType"), _ADDRESS_TYPES, required=True)
        for i, endpoint in enumerate(obj.get("endpoints") or []):
            if not (endpoint or {}).get("addresses"):
                errors.required(f"endpoints[{i}].addresses")

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("addressType") != new.get("addressType"):
            errors.immutable("addressType", new.get("addressType"))

    def row(self, obj: Object) -> list[Any]:
        ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
        addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
        return [
            meta.name_of(obj),
            obj.get("addressType", ""),
            ",".join(ports) or "<unset>",
            first_three(addresses),
            age(obj),
        ]
