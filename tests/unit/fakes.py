"""Fakes behind the constructor seams, for unit tests only (e2e tests use real etcd)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from control_plane.apiserver.authentication.user import User
from control_plane.apiserver.storage import (
    KeyExists,
    KeyNotFound,
    ListResult,
    RevisionCompacted,
    RevisionMismatch,
    StorageEvent,
)

Object = dict[str, Any]


class MemoryStorage:
    """An in-memory Storage with etcd's revision semantics and a full history for watches."""

    def __init__(self) -> None:
        self.revision = 1
        self._data: dict[str, tuple[bytes, int, int]] = {}  # key -> (value, create, mod)
        self._history: list[tuple[str, StorageEvent]] = []
        self._changed = asyncio.Condition()
        self.compacted = 0

    def _out(self, raw: bytes, revision: int) -> Object:
        obj: Object = json.loads(raw)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    async def _record(self, key: str, event: StorageEvent) -> None:
        self._history.append((key, event))
        async with self._changed:
            self._changed.notify_all()

    @staticmethod
    def _encode(value: Object) -> bytes:
        value = copy.deepcopy(value)
        value.get("metadata", {}).pop("resourceVersion", None)
        return json.dumps(value).encode()

    async def current_revision(self) -> int:
        return self.revision

    async def create(self, key: str, value: Object) -> Object:
        if key in self._data:
            raise KeyExists(key)
        self.revision += 1
        raw = self._encode(value)
        self._data[key] = (raw, self.revision, self.revision)
        out = self._out(raw, self.revision)
        await self._record(key, StorageEvent("ADDED", out, self.revision))
        return out

    async def get(self, key: str) -> Object:
        if key not in self._data:
            raise KeyNotFound(key)
        raw, _, mod = self._data[key]
        return self._out(raw, mod)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str | None = None
    ) -> ListResult:
        if revision and revision < self.compacted:
            raise RevisionCompacted(self.compacted)
        keys = sorted(k for k in self._data if k.startswith(prefix))
        if start_after:
            keys = [k for k in keys if k > start_after]
        more = bool(limit) and len(keys) > limit
        if limit:
            keys = keys[:limit]
        items = [self._out(self._data[k][0], self._data[k][2]) for k in keys]
        return ListResult(items, revision or self.revision, keys[-1] if more else None)

    async def update(self, key: str, value: Object, *, expected_revision: int) -> Object:
        if key not in self._data:
            raise KeyNotFound(key)
        old_raw, created, mod = self._data[key]
        if mod != expected_revision:
            raise RevisionMismatch(key)
        self.revision += 1
        raw = self._encode(value)
        self._data[key] = (raw, created, self.revision)
        out = self._out(raw, self.revision)
        await self._record(
            key, StorageEvent("MODIFIED", out, self.revision, self._out(old_raw, mod))
        )
        return out

    async def delete(self, key: str, *, expected_revision: int | None = None) -> Object:
        if key not in self._data:
            raise KeyNotFound(key)
        raw, _, mod = self._data[key]
        if expected_revision is not None and mod != expected_revision:
            raise RevisionMismatch(key)
        self.revision += 1
        del self._data[key]
        out = self._out(raw, self.revision)
        await self._record(key, StorageEvent("DELETED", out, self.revision))
        return out

    def share_watches(self, prefix: str, index_path: str | None = None) -> None:
        """Every watch here reads the one history already."""

    async def indexed_list(self, prefix: str, value: str) -> ListResult | None:
        return None  # the registry lists instead

    async def watch(
        self, prefix: str, start_revision: int, index: str | None = None
    ) -> AsyncIterator[StorageEvent]:
        if start_revision <= self.compacted:
            raise RevisionCompacted(self.compacted)
        position = 0
        while True:
            while position < len(self._history):
                key, event = self._history[position]
                position += 1
                if key.startswith(prefix) and event.revision >= start_revision:
                    yield event
            async with self._changed:
                await self._changed.wait_for(lambda p=position: len(self._history) > p)


#: The cluster admin, as kubectl is with the kubeconfig ku7s writes.
ADMIN = User("kubernetes-admin", ("system:masters", "system:authenticated"))


def always(user: User) -> Callable[[Any], Awaitable[User]]:
    """An authenticator that says every request comes from user."""

    async def authenticate(request: Any) -> User:
        return user

    return authenticate


#: Every request is the admin's.
always_admin = always(ADMIN)
