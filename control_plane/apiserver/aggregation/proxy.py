"""The proxy to aggregated APIs: a request for a group-version an APIService hands to a
Service goes, once authenticated and authorized here, to a ready endpoint of that Service
over TLS (checked against the APIService's caBundle, unless insecureSkipTLSVerify) with the
front-proxy's client certificate and the user in X-Remote-User/Group/Extra headers; the
answer streams back as it comes (watches included)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from control_plane.apiserver import errors
from control_plane.apiserver.aggregation.api_services import APIServices
from control_plane.apiserver.aggregation.front_proxy import (
    EXTRA_PREFIX,
    GROUP_HEADER,
    USER_HEADER,
)
from control_plane.apiserver.authentication.user import USER, User
from control_plane.apiserver.service_endpoints import ServiceUnreachable, resolve

Object = dict[str, Any]
#: Headers of one hop, and credentials meant for this server, are not passed on.
_NOT_PASSED = frozenset(h.lower() for h in (
    "Authorization", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
    "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    "Impersonate-User", "Impersonate-Group", "Impersonate-Uid",
))  # fmt: skip
UNAVAILABLE = "the server is currently unable to handle the request"


def _passed(name: str) -> bool:
    lower = name.lower()
    return lower not in _NOT_PASSED and not lower.startswith(("x-remote-", "impersonate-extra-"))


def remote_headers(request_headers: Any, user: User) -> CIMultiDict[str]:
    """What the aggregated server receives: the client's headers, minus credentials and
    hop-by-hop ones, plus who the user is."""
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in request_headers.items() if _passed(k)
    )
    headers[USER_HEADER] = user.name
    for group in user.groups:
        headers.add(GROUP_HEADER, group)
    for key, values in user.extra.items():
        for value in values:
            headers.add(EXTRA_PREFIX + urllib.parse.quote(key, safe=""), value)
    return headers


class AggregationProxy:
    def __init__(self, api_services: APIServices) -> None:
        self.api_services = api_services
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def target(self, path: str) -> Object | None:
        """The APIService that takes this path, if any (/apis/<group>/<version>[/...])."""
        parts = path.split("/", 4)
        if len(parts) < 4 or parts[1] != "apis" or not parts[3]:
            return None
        return self.api_services.remote(parts[2], parts[3])

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        api_service = self.target(request.path)
        if api_service is None:
            return await handler(request)
        return await self._proxy(request, api_service)

    async def _proxy(self, request: web.Request, api_service: Object) -> web.StreamResponse:
        spec = api_service["spec"]
        service = spec["service"]
        port = int(service.get("port", 443))
        try:
            address = await resolve(self.api_services.registry, service.get("namespace", ""),
                                    service.get("name", ""), port)  # fmt: skip
            context = self.api_services.credentials.ssl_context(
                spec.get("caBundle") or "", verify=not spec.get("insecureSkipTLSVerify")
            )
        except (ServiceUnreachable, ValueError) as e:
            raise errors.unavailable(UNAVAILABLE) from e
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        body = await request.read() if request.can_read_body else None
        try:
            upstream = await self._session.request(
                request.method, f"https://{address.ip}:{address.port}{request.raw_path}",
                headers=remote_headers(request.headers, request[USER]), data=body,
                ssl=context, server_hostname=address.server_name, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )  # fmt: skip
        except (aiohttp.ClientError, OSError) as e:
            raise errors.unavailable(UNAVAILABLE) from e
        try:
            response = web.StreamResponse(status=upstream.status)
            for name, value in upstream.headers.items():
                if _passed(name) and name.lower() != "content-encoding":
                    response.headers.add(name, value)
            if "Content-Encoding" in upstream.headers:
                response.headers["Content-Encoding"] = upstream.headers["Content-Encoding"]
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            upstream.release()
