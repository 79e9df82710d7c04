"""Kubernetes object semantics on top of Storage: the part of kube-apiserver that every
resource shares. It assigns uid and timestamps, checks names and namespaces, enforces
resourceVersion preconditions, keeps status and spec writes apart, filters by selectors,
paginates lists at one revision and turns etcd events into watch events.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from control_plane.apiserver import errors, strategy
from control_plane.apiserver.resources import ResourceType, ResourceTypes
from control_plane.apiserver.storage import (
    KeyExists,
    KeyNotFound,
    RevisionCompacted,
    RevisionMismatch,
    Storage,
    StorageUnavailable,
)
from ku7s.api import meta
from ku7s.api.selectors import FieldSelector, LabelSelector, SelectorError, field_value

Object = dict[str, Any]

_NAMESPACES_KEY_PREFIX = "/registry/namespaces/"
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class ListOptions:
    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True)
class ListPage:
    items: list[Object]
    resource_version: str
    continue_token: str | None
    remaining: int | None = None


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Object


@dataclass(frozen=True)
class _Filter:
    labels: LabelSelector
    fields: FieldSelector

    def matches(self, obj: Object) -> bool:
        return self.labels.matches(meta.labels_of(obj)) and self.fields.matches(obj, field_value)


@contextlib.contextmanager
def _api_errors(rt: ResourceType, name: str) -> Iterator[None]:
    """Storage failures as the Status a client of this resource should see."""
    try:
        yield
    except KeyNotFound:
        raise errors.not_found(rt.plural, name, rt.group) from None
    except KeyExists:
        raise errors.already_exists(rt.plural, name, rt.group) from None
    except RevisionMismatch:
        raise errors.conflict(rt.plural, name, rt.group) from None
    except StorageUnavailable as e:
        raise errors.unavailable(str(e)) from e


def _encode_continue(revision: int, last_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise errors.bad_request(f"continue key is not valid: {e}") from e


class Registry:
    """Create, read, update, delete, list and watch objects of any served type."""

    def __init__(self, storage: Storage, types: ResourceTypes) -> None:
        self._storage = storage
        self.types = types

    # -- reads ---------------------------------------------------------------------------

    async def get(self, rt: ResourceType, namespace: str, name: str) -> Object:
        with _api_errors(rt, name):
            return await self._storage.get(rt.key(namespace, name))

    def _filter(self, rt: ResourceType, options: ListOptions) -> _Filter:
        try:
            labels = LabelSelector.parse(options.label_selector)
            fields = FieldSelector.parse(options.field_selector)
        except SelectorError as e:
            raise errors.bad_request(str(e)) from e
        for path in fields.paths:
            if not rt.allows_field(path):
                raise errors.bad_request(f"field label not supported: {path}")
        return _Filter(labels, fields)

    async def list(self, rt: ResourceType, namespace: str | None, options: ListOptions) -> ListPage:
        selector = self._filter(rt, options)
        prefix = rt.prefix(namespace)
        revision, start_after = 0, None
        if options.continue_token:
            revision, start_after = _decode_continue(options.continue_token)
        items: list[Object] = []
        try:
            while True:
                want = options.limit - len(items) if options.limit else 0
                result = await self._storage.list(
                    prefix, revision=revision, limit=want, start_after=start_after
                )
                revision = result.revision
                items += [o for o in result.items if selector.matches(o)]
                start_after = result.last_key
                if start_after is None or (options.limit and len(items) >= options.limit):
                    break
        except RevisionCompacted as e:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            ) from e
        except StorageUnavailable as e:
            raise errors.unavailable(str(e)) from e
        token = _encode_continue(revision, start_after) if start_after else None
        for item in items:
            self._fill_type(rt, item)
        return ListPage(items, str(revision), token)

    async def watch(
        self, rt: ResourceType, namespace: str | None, options: ListOptions
    ) -> AsyncIterator[WatchEvent]:
        """Check the options, then return the stream of watch events.

        With no resourceVersion (or "0") the current objects come first as ADDED events,
        as kube-apiserver does. Bad options raise here, before any event is produced.
        """
        selector = self._filter(rt, options)
        rv = options.resource_version
        start: int | None = None
        if rv not in (None, "", "0"):
            try:
                start = int(rv) + 1
            except ValueError as e:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from e
        return self._events(rt, namespace, options, selector, start)

    async def _events(
        self,
        rt: ResourceType,
        namespace: str | None,
        options: ListOptions,
        selector: _Filter,
        start: int | None,
    ) -> AsyncIterator[WatchEvent]:
        if start is None:
            page = await self.list(
                rt,
                namespace,
                ListOptions(
                    label_selector=options.label_selector, field_selector=options.field_selector
                ),
            )
            for item in page.items:
                yield WatchEvent("ADDED", item)
            start = int(page.resource_version) + 1
        try:
            async for event in self._storage.watch(rt.prefix(namespace), start):
                obj = self._fill_type(rt, event.object)
                if event.type == "MODIFIED" and event.previous is not None:
                    was, now = selector.matches(event.previous), selector.matches(obj)
                    if was and not now:
                        yield WatchEvent("DELETED", obj)
                    elif now and not was:
                        yield WatchEvent("ADDED", obj)
                    elif now:
                        yield WatchEvent("MODIFIED", obj)
                elif selector.matches(obj):
                    yield WatchEvent(event.type, obj)
        except RevisionCompacted:
            message = f"too old resource version: {options.resource_version}"
            yield WatchEvent("ERROR", errors.gone(message).status())

    async def current_revision(self) -> int:
        return await self._storage.current_revision()

    # -- writes --------------------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str, obj: Object) -> Object:
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        name = metadata.get("name") or ""
        if not name and metadata.get("generateName"):
            suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            name = metadata["name"] = f"{metadata['generateName']}{suffix}"
        if not name:
            raise errors.invalid(
                rt.kind,
                "",
                [("metadata.name", "Required value: name or generateName is required")],
                rt.group,
            )
        if problems := strategy.name_errors(rt, name):
            raise errors.invalid(
                rt.kind,
                name,
                [("metadata.name", f'Invalid value: "{name}": {problems[0]}')],
                rt.group,
            )
        if metadata.get("resourceVersion"):
            raise errors.internal("resourceVersion should not be set on objects to be created")
        if rt.namespaced:
            body_ns = metadata.get("namespace") or namespace
            if body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            metadata["namespace"] = namespace
            await self._require_namespace(namespace)
        else:
            metadata.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        metadata["uid"] = meta.new_uid()
        metadata["creationTimestamp"] = meta.now_rfc3339()
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            metadata.pop(transient, None)
        strategy.prepare_for_create(rt, obj)
        with _api_errors(rt, name):
            return await self._storage.create(rt.key(namespace, name), obj)

    async def _require_namespace(self, namespace: str) -> None:
        try:
            await self._storage.get(_NAMESPACES_KEY_PREFIX + namespace)
        except KeyNotFound:
            raise errors.not_found("namespaces", namespace) from None

    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: Object,
        subresource: str | None = None,
    ) -> Object:
        metadata = obj.get("metadata") or {}
        if metadata.get("name") and metadata["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on "
                f"the URL ({name})"
            )
        old = await self.get(rt, namespace, name)
        wanted_rv = metadata.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, name, rt.group)
        return await self._replace(rt, namespace, name, old, obj, subresource)

    async def _replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        old: Object,
        new: Object,
        subresource: str | None,
    ) -> Object:
        result = strategy.prepare_for_update(rt, old, copy.deepcopy(new), subresource)
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        result_meta = result.setdefault("metadata", {})
        old_meta = old["metadata"]
        result_meta["name"] = name
        if rt.namespaced:
            result_meta["namespace"] = namespace
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if immutable in old_meta:
                result_meta[immutable] = old_meta[immutable]
            else:
                result_meta.pop(immutable, None)
        if "generation" in old_meta and strategy.spec_changed(old, result):
            result_meta["generation"] = int(old_meta["generation"]) + 1
        revision = int(old_meta["resourceVersion"])
        result_meta["resourceVersion"] = old_meta["resourceVersion"]
        if result == old:
            return old
        with _api_errors(rt, name):
            return await self._storage.update(
                rt.key(namespace, name), result, expected_revision=revision
            )

    async def mutate(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[Object], Object],
        subresource: str | None = None,
        attempts: int = 8,
    ) -> Object:
        """Read, change and write back, retrying when someone else wrote in between."""
        for attempt in range(1, attempts + 1):
            old = await self.get(rt, namespace, name)
            try:
                return await self._replace(
                    rt, namespace, name, old, change(copy.deepcopy(old)), subresource
                )
            except errors.APIError as e:
                if e.reason != "Conflict" or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        precondition_rv: str | None = None,
        precondition_uid: str | None = None,
    ) -> Object:
        current = await self.get(rt, namespace, name)
        if precondition_uid and current["metadata"].get("uid") != precondition_uid:
            raise errors.conflict(rt.plural, name, rt.group)
        if precondition_rv and current["metadata"]["resourceVersion"] != precondition_rv:
            raise errors.conflict(rt.plural, name, rt.group)
        with _api_errors(rt, name):
            deleted = await self._storage.delete(
                rt.key(namespace, name),
                expected_revision=int(current["metadata"]["resourceVersion"]),
            )
        return self._fill_type(rt, deleted)

    @staticmethod
    def _fill_type(rt: ResourceType, obj: Object) -> Object:
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return obj
