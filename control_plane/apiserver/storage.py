"""Object storage in etcd, through aetcd.

Objects are stored as compact JSON without ``metadata.resourceVersion``; on the way out the
key's etcd mod_revision is written into it, so resourceVersion *is* the etcd revision, as in
kube-apiserver. Writes that must not race (create, update with a precondition, delete) are
etcd transactions comparing the key's revision.

    StorageError
    ├── KeyNotFound
    ├── KeyExists
    ├── RevisionMismatch     the precondition on mod_revision failed
    ├── RevisionCompacted    a watch or list asked for history etcd no longer keeps
    └── StorageUnavailable   etcd does not answer
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aetcd
import aetcd.exceptions
import grpc
import orjson
from aetcd import rpc

from control_plane.apiserver.watch_hub import RawEvent, WatchEnded, WatchHub
from ku7s.api.selectors import field_value

Object = dict[str, Any]


class StorageError(Exception):
    pass


class KeyNotFound(StorageError):
    pass


class KeyExists(StorageError):
    pass


class RevisionMismatch(StorageError):
    pass


class RevisionCompacted(StorageError):
    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"revision compacted; oldest available is {compact_revision}")
        self.compact_revision = compact_revision


class StorageUnavailable(StorageError):
    pass


@dataclass(frozen=True)
class ListResult:
    items: list[Object]
    revision: int
    #: The last key returned when more keys remain, else None.
    last_key: str | None


@dataclass(frozen=True)
class StorageEvent:
    type: str  # "ADDED", "MODIFIED" or "DELETED"
    object: Object
    revision: int
    #: The object before a MODIFIED event, so selectors can tell what moved in or out.
    previous: Object | None = None


class Storage(Protocol):
    """What the registry needs from a store; EtcdStorage is the real one."""

    async def create(self, key: str, value: Object) -> Object: ...
    async def get(self, key: str) -> Object: ...
    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str | None = None
    ) -> ListResult: ...
    async def update(self, key: str, value: Object, *, expected_revision: int) -> Object: ...
    async def delete(self, key: str, *, expected_revision: int | None = None) -> Object: ...
    def watch(
        self, prefix: str, start_revision: int, index: str | None = None
    ) -> AsyncIterator[StorageEvent]: ...
    def share_watches(self, prefix: str, index_path: str | None = None) -> None: ...
    async def indexed_list(self, prefix: str, value: str) -> ListResult | None: ...
    async def current_revision(self) -> int: ...


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with prefix."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def encode(value: Object) -> bytes:
    meta = value.get("metadata")
    if meta and "resourceVersion" in meta:
        value = {**value, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def decode(data: bytes, revision: int) -> Object:
    obj: Object = orjson.loads(data)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


#: (key, value, mod revision) of stored objects, undecoded.
RawObjects = list[tuple[str, bytes, int]]

#: Told of each round trip to etcd: the operation, the key, and the seconds it took.
Observer = Callable[[str, str, float], None]


#: gRPC's default 4 MiB limit on a received message fails any list above ~1,500 pods
#: (one Range answer); etcd's own clients lift it, and so does this one. Requests stay
#: bounded by etcd's --max-request-bytes.
CHANNEL_OPTIONS = {"grpc.max_receive_message_length": 2**31 - 1}


class EtcdStorage:
    """The Storage used in clusters: etcd v3 over gRPC."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2379,
        timeout: float = 10,
        observe: Observer | None = None,
    ) -> None:
        self._client = aetcd.Client(host=host, port=port, timeout=timeout, options=CHANNEL_OPTIONS)
        self._observe = observe
        self._watches = WatchHub(self._etcd_events, self.current_revision, self._raw_list)

    async def connect(self, *, attempts: int = 200, interval: float = 0.05) -> None:
        """Wait for etcd to answer; it is started beside us and may still be coming up."""
        for _ in range(attempts):
            try:
                await self._client.connect()
                await self.current_revision()
                return
            except (StorageUnavailable, aetcd.exceptions.ClientError):
                await asyncio.sleep(interval)
        raise StorageUnavailable("etcd did not answer")

    async def close(self) -> None:
        await self._watches.close()
        await self._client.close()

    async def _call(self, method: Any, request: Any, operation: str = "", key: str = "") -> Any:
        started = time.perf_counter()
        try:
            return await method(request, timeout=self._client._timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.OUT_OF_RANGE:
                raise RevisionCompacted(0) from e
            raise StorageUnavailable(f"etcd: {e.details()}") from e
        finally:
            if self._observe is not None and operation:
                self._observe(operation, key, time.perf_counter() - started)

    async def count(self, prefix: str) -> int:
        """How many keys start with prefix, counted by etcd without sending them."""
        raw = prefix.encode()
        request = rpc.RangeRequest(key=raw, range_end=_prefix_end(raw), count_only=True)
        response = await self._call(self._client.kvstub.Range, request, "count", prefix)
        return int(response.count)

    async def current_revision(self) -> int:
        response = await self._call(
            self._client.kvstub.Range, rpc.RangeRequest(key=b"\0", count_only=True)
        )
        return int(response.header.revision)

    async def get(self, key: str) -> Object:
        response = await self._call(
            self._client.kvstub.Range, rpc.RangeRequest(key=key.encode()), "get", key
        )
        if not response.kvs:
            raise KeyNotFound(key)
        kv = response.kvs[0]
        return decode(kv.value, kv.mod_revision)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str | None = None
    ) -> ListResult:
        raw_prefix = prefix.encode()
        start = (start_after.encode() + b"\0") if start_after else raw_prefix
        request = rpc.RangeRequest(
            key=start, range_end=_prefix_end(raw_prefix), revision=revision, limit=limit
        )
        response = await self._call(self._client.kvstub.Range, request, "list", prefix)
        items = [decode(kv.value, kv.mod_revision) for kv in response.kvs]
        last = response.kvs[-1].key.decode() if response.more and response.kvs else None
        return ListResult(items, int(response.header.revision), last)

    async def create(self, key: str, value: Object) -> Object:
        raw = key.encode()
        request = rpc.TxnRequest(
            compare=[
                rpc.Compare(
                    key=raw,
                    result=rpc.Compare.CompareResult.EQUAL,
                    target=rpc.Compare.CompareTarget.CREATE,
                    create_revision=0,
                )
            ],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=encode(value)))],
        )
        response = await self._call(self._client.kvstub.Txn, request, "create", key)
        if not response.succeeded:
            raise KeyExists(key)
        return _with_revision(value, int(response.header.revision))

    async def update(self, key: str, value: Object, *, expected_revision: int) -> Object:
        raw = key.encode()
        request = rpc.TxnRequest(
            compare=[_modified_at(raw, expected_revision)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=encode(value)))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        response = await self._call(self._client.kvstub.Txn, request, "update", key)
        _raise_unless_succeeded(response, key)
        return _with_revision(value, int(response.header.revision))

    async def delete(self, key: str, *, expected_revision: int | None = None) -> Object:
        raw = key.encode()
        compare = [] if expected_revision is None else [_modified_at(raw, expected_revision)]
        request = rpc.TxnRequest(
            compare=compare,
            success=[
                rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        response = await self._call(self._client.kvstub.Txn, request, "delete", key)
        _raise_unless_succeeded(response, key)
        deleted = response.responses[0].response_delete_range.prev_kvs
        if not deleted:
            raise KeyNotFound(key)
        return decode(deleted[0].value, int(response.header.revision))

    def share_watches(self, prefix: str, index_path: str | None = None) -> None:
        """Serve every watch under prefix from one etcd watch; with index_path (a field
        such as spec.nodeName), a watch of one value of it gets only its changes."""
        self._watches.share(prefix, None if index_path is None else _indexer(index_path))

    async def watch(
        self, prefix: str, start_revision: int, index: str | None = None
    ) -> AsyncIterator[StorageEvent]:
        """Events under prefix from start_revision on, until the caller stops iterating.
        index, for a shared prefix with an index, leaves out changes of other values."""
        try:
            async for event in self._watches.watch(prefix, start_revision, index):
                yield _storage_event(event)
        except WatchEnded as e:
            raise StorageUnavailable(str(e)) from e

    async def indexed_list(self, prefix: str, value: str) -> ListResult | None:
        """The objects under prefix whose index value (see share_watches) is value, from
        the shared watch's copy; None when there is none to read from."""
        snapshot = await self._watches.snapshot(prefix, value)
        if snapshot is None:
            return None
        items = [decode(stored, revision) for stored, revision in snapshot.items]
        return ListResult(items, snapshot.revision, None)

    async def _raw_list(self, prefix: str) -> tuple[RawObjects, int]:
        """Every key under prefix, undecoded, and the revision it was read at."""
        raw = prefix.encode()
        request = rpc.RangeRequest(key=raw, range_end=_prefix_end(raw))
        response = await self._call(self._client.kvstub.Range, request, "list", prefix)
        objects = [(kv.key.decode(), kv.value, kv.mod_revision) for kv in response.kvs]
        return objects, int(response.header.revision)

    async def _etcd_events(self, prefix: str, start_revision: int) -> AsyncIterator[RawEvent]:
        """One etcd watch of prefix."""
        raw = prefix.encode()
        try:
            watch = await self._client.watch(
                raw, range_end=_prefix_end(raw), start_revision=start_revision, prev_kv=True
            )
        except aetcd.exceptions.ClientError as e:
            raise StorageUnavailable(str(e)) from e
        try:
            async for event in watch:
                yield _raw_event(event)
        except aetcd.exceptions.RevisionCompactedError as e:
            raise RevisionCompacted(e.compacted_revision) from e
        except aetcd.exceptions.ClientError as e:
            raise StorageUnavailable(str(e)) from e
        finally:
            # The channel may already be gone; then there is nothing left to free.
            with contextlib.suppress(Exception):
                await watch.cancel()


def _modified_at(key: bytes, revision: int) -> Any:
    """The transaction guard: the key was last written at exactly this revision."""
    return rpc.Compare(
        key=key,
        result=rpc.Compare.CompareResult.EQUAL,
        target=rpc.Compare.CompareTarget.MOD,
        mod_revision=revision,
    )


def _raise_unless_succeeded(response: Any, key: str) -> None:
    """A failed guarded transaction read the key back: gone, or written by someone else."""
    if not response.succeeded:
        current = response.responses[0].response_range.kvs
        raise RevisionMismatch(key) if current else KeyNotFound(key)


def _with_revision(value: Object, revision: int) -> Object:
    meta = dict(value.get("metadata") or {})
    meta["resourceVersion"] = str(revision)
    return {**value, "metadata": meta}


def _raw_event(event: Any) -> RawEvent:
    kv, prev = event.kv, event.prev_kv
    key = kv.key.decode()
    if event.kind == "DELETE":
        return RawEvent(key, "DELETED", prev.value if prev else b"{}", kv.mod_revision)
    if kv.create_revision == kv.mod_revision:
        return RawEvent(key, "ADDED", kv.value, kv.mod_revision)
    if prev is None:
        return RawEvent(key, "MODIFIED", kv.value, kv.mod_revision)
    return RawEvent(key, "MODIFIED", kv.value, kv.mod_revision, prev.value, prev.mod_revision)


def _storage_event(event: RawEvent) -> StorageEvent:
    """A change as the registry reads it: each watcher decodes its own copy."""
    previous = None
    if event.previous is not None:
        previous = decode(event.previous, event.previous_revision)
    return StorageEvent(event.type, decode(event.value, event.revision), event.revision, previous)


def _indexer(path: str) -> Callable[[bytes], str]:
    """The value of path in a stored object."""

    def value(stored: bytes) -> str:
        return field_value(orjson.loads(stored), path)

    return value
