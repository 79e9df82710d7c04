"""An asyncio REST client for the Kubernetes API, authenticated by client certificate."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp
import orjson

Object = dict[str, Any]


class APIStatusError(Exception):
    """The server answered with a failure Status."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


def client_ssl_context(ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    # ssl can only load a key pair from files; keep them on disk only for the call.
    fd, path = tempfile.mkstemp(prefix="ku7s-client-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert_pem + b"\n" + key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context


class APIClient:
    def __init__(
        self,
        server: str,
        ssl_context: ssl.SSLContext,
        timeout: float = 10,
        server_hostname: str | None = None,
    ) -> None:
        """server_hostname: the name to verify the certificate against, when the server
        is reached by an address its certificate does not name (a container's IP)."""
        self._server = server.rstrip("/")
        self._ssl = ssl_context
        self._tls_name = server_hostname
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings (CA and client certificate) this client connects with."""
        return self._ssl

    @classmethod
    def from_kubeconfig_file(cls, path: str, timeout: float = 10) -> APIClient:
        import yaml

        with open(path) as f:
            return cls.from_kubeconfig(yaml.safe_load(f), timeout)

    @classmethod
    def from_kubeconfig(
        cls,
        config: Object,
        timeout: float = 10,
        *,
        server: str | None = None,
        server_hostname: str | None = None,
    ) -> APIClient:
        """Build from the first cluster and user of a kubeconfig with inline data; server
        and server_hostname reach the same API by another address."""
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        context = client_ssl_context(
            base64.b64decode(cluster["certificate-authority-data"]),
            base64.b64decode(user["client-certificate-data"]),
            base64.b64decode(user["client-key-data"]),
        )
        return cls(server or cluster["server"], context, timeout, server_hostname)

    async def __aenter__(self) -> APIClient:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, connector=aiohttp.TCPConnector(ssl=self._ssl)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Object | None = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Object:
        assert self._session is not None, "use `async with APIClient(...)`"
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self._session.request(
            method,
            self._server + path,
            data=data,
            headers=headers,
            params=params,
            server_hostname=self._tls_name,
        ) as response:
            raw = await response.read()
            text = raw.decode(errors="replace")
            try:
                payload: Object = orjson.loads(raw) if raw else {}
            except ValueError:
                payload = {"message": text}
            if response.status >= 400:
                raise APIStatusError(
                    response.status,
                    str(payload.get("reason", "")),
                    str(payload.get("message", text)),
                )
            return payload

    async def get(self, path: str, params: dict[str, str] | None = None) -> Object:
        return await self.request("GET", path, params=params)

    async def delete(self, path: str, params: dict[str, str] | None = None) -> Object:
        return await self.request("DELETE", path, params=params)

    async def create(self, path: str, body: Object) -> Object:
        return await self.request("POST", path, body)

    async def replace(self, path: str, body: Object) -> Object:
        return await self.request("PUT", path, body)

    async def patch(
        self, path: str, patch: Object, content_type: str = "application/merge-patch+json"
    ) -> Object:
        return await self.request("PATCH", path, patch, content_type=content_type)

    async def watch(
        self, path: str, params: dict[str, str] | None = None
    ) -> AsyncIterator[tuple[str, Object]]:
        """(type, object) for each event of a watch; ends when the server closes it.

        An ERROR event (such as 410 Expired) raises APIStatusError, so callers relist.
        """
        assert self._session is not None, "use `async with APIClient(...)`"
        query = {**(params or {}), "watch": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self._session.get(
            self._server + path,
            params=query,
            timeout=timeout,
            headers={"Accept": "application/json"},
            server_hostname=self._tls_name,
        ) as response:
            if response.status >= 400:
                text = await response.text()
                raise APIStatusError(response.status, "", text)
            async for line in response.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise APIStatusError(
                        int(status.get("code", 500)),
                        str(status.get("reason", "")),
                        str(status.get("message", "")),
                    )
                yield event["type"], event["object"]

    async def text(self, path: str) -> tuple[int, str]:
        """GET a non-JSON endpoint such as /readyz; return the status and the body."""
        assert self._session is not None
        async with self._session.get(self._server + path) as response:
            return response.status, await response.text()


async def create_or_replace(client: APIClient, collection: str, body: Object) -> None:
    """Create the object, or make what is there say the same (its labels and every field
    but metadata), writing nothing when it already does."""
    path = f"{collection}/{body['metadata']['name']}"
    try:
        current = await client.get(path)
    except APIStatusError as e:
        if e.code != 404:
            raise
        await client.create(collection, body)
        return
    merged = {**current, **{k: v for k, v in body.items() if k != "metadata"}}
    merged["metadata"] = {**current["metadata"], "labels": body["metadata"].get("labels") or {}}
    if merged != current:
        await client.replace(path, merged)
