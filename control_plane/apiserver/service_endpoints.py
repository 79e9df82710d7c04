"""Reaching a Service from inside the API server, as upstream's service resolver does for
webhooks and aggregated APIs: the Service's port, then a ready address of its endpoints
(the control plane routes to pod IPs), and the name its certificate must carry."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

if TYPE_CHECKING:
    from control_plane.apiserver.registry import Registry

Object = dict[str, Any]


class ServiceUnreachable(Exception):
    """The Service, its port or a ready endpoint is missing (the message says which)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        #: ServiceNotFound, ServicePortError or MissingEndpoints (APIService's reasons).
        self.reason = reason


@dataclass(frozen=True)
class ServiceAddress:
    ip: str
    port: int
    #: The name the serving certificate must carry: <service>.<namespace>.svc
    server_name: str


async def resolve(registry: Registry, namespace: str, name: str, port: int) -> ServiceAddress:
    found = await registry.find(registry.kinds.get("services"), namespace, name)
    if found is None:
        raise ServiceUnreachable(f'service "{namespace}/{name}" not found', "ServiceNotFound")
    spec = found.get("spec") or {}
    entry = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
    if entry is None:
        raise ServiceUnreachable(
            f'service "{namespace}/{name}" has no port {port}', "ServicePortError"
        )
    endpoints = await registry.find(registry.kinds.get("endpoints"), namespace, name)
    for subset in (endpoints or {}).get("subsets") or []:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        match = next((p for p in ports if p.get("name", "") == entry.get("name", "")), None) or (
            ports[0] if len(ports) == 1 else None
        )
        if addresses and match is not None:
            return ServiceAddress(str(addresses[0].get("ip")), int(match["port"]),
                                  f"{name}.{namespace}.svc")  # fmt: skip
    raise ServiceUnreachable(f'no endpoints available for service "{name}"', "MissingEndpoints")


class ServiceCallError(Exception):
    """A call to a service failed or its answer was not a JSON object (the message says
    how, after the request as upstream's errors show it: ``Post "https://..."``)."""


async def call_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    shown: str,
    context: ssl.SSLContext,
    server_name: str | None,
    timeout: float,
    body: Object | None = None,
    headers: dict[str, str] | None = None,
) -> Object:
    """Send one request over TLS and return the 200 answer's JSON object."""
    try:
        async with session.request(
            method, url, data=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     **(headers or {})},
            ssl=context, server_hostname=server_name,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:  # fmt: skip
            raw = await response.read()
            if response.status != 200:
                raise ServiceCallError(f"{shown}: unexpected status {response.status}")
    except TimeoutError as e:
        raise ServiceCallError(f"{shown}: context deadline exceeded") from e
    except (aiohttp.ClientError, OSError, ssl.SSLError) as e:
        raise ServiceCallError(f"{shown}: {e}") from e
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ServiceCallError(f"{shown}: the answer is not JSON: {e}") from e
    if not isinstance(answer, dict):
        raise ServiceCallError(f"{shown}: the answer is not an object")
    return answer
