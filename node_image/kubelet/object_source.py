"""Config maps, secrets and services read from the control plane with the Fetch call.

Answers are kept for a short while: a pod with several containers asks for the same
services and config maps once per container, and a node starting many pods at once would
otherwise ask for each many times.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import orjson

from ku7s.rpc import node_pb2, node_pb2_grpc
from node_image.kubelet.environment import ConfigError

Object = dict[str, Any]


class FetchFailed(ConfigError):
    """The control plane could not be asked; the container waits and tries again."""


class FetchedObjects:
    def __init__(
        self, channel: grpc.aio.Channel, *, ttl: float = 2.0, timeout: float = 10.0
    ) -> None:
        self._stub = node_pb2_grpc.NodeServiceStub(channel)
        self._ttl = ttl
        self._timeout = timeout
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}

    async def _fetch(self, resource: str, namespace: str, name: str) -> Any:
        key = (resource, namespace, name)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            reply = await self._stub.Fetch(
                node_pb2.FetchRequest(resource=resource, namespace=namespace, name=name),
                timeout=self._timeout,
            )
            value: Any = orjson.loads(reply.object_json)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                raise FetchFailed(f"reading {resource} {namespace}/{name}: {e.details()}") from e
            value = None
        self._cache[key] = (now, value)
        if len(self._cache) > 4096:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._ttl}
        return value

    def forget(self, namespace: str) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k[1] != namespace}

    async def get(self, resource: str, namespace: str, name: str) -> Object | None:
        found = await self._fetch(resource, namespace, name)
        return found if isinstance(found, dict) else None

    async def list(self, resource: str, namespace: str) -> list[Object]:
        found = await self._fetch(resource, namespace, "")
        return list((found or {}).get("items") or [])
