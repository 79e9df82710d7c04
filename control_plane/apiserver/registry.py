"""Kubernetes object semantics on top of Storage: the part of kube-apiserver that every
resource shares. It assigns uid and timestamps, checks names and namespaces, runs each
kind's defaults and validation, enforces resourceVersion preconditions, keeps status and
spec writes apart, carries out deletion (finalizers, deletionTimestamp, grace periods),
honours dry runs, filters by selectors, paginates lists at one revision and turns etcd
events into watch events.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import datetime
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from control_plane.apiserver import errors
from control_plane.apiserver.admission import AdmissionPlugin, ValidatingPlugin
from control_plane.apiserver.field_management.managed_fields import Writer
from control_plane.apiserver.kinds import Kind, Kinds
from control_plane.apiserver.kinds.base import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    spec_changed,
)
from control_plane.apiserver.storage import (
    KeyExists,
    KeyNotFound,
    RevisionCompacted,
    RevisionMismatch,
    Storage,
    StorageUnavailable,
)
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.selectors import FieldSelector, LabelSelector, SelectorError

Object = dict[str, Any]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_ANNOTATIONS_BYTES = 256 * 1024
_PROPAGATION = ("Orphan", "Background", "Foreground")
#: How often a delete that raced with another write is tried again.
_DELETE_ATTEMPTS = 8


@dataclass(frozen=True)
class ListOptions:
    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class ListPage:
    items: list[Object]
    resource_version: str
    continue_token: str | None


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Object
    revision: int = 0


@dataclass(frozen=True)
class _Filter:
    kind: Kind
    labels: LabelSelector
    fields: FieldSelector

    def matches(self, obj: Object) -> bool:
        return self.labels.matches(meta.labels_of(obj)) and self.fields.matches(
            obj, self.kind.field
        )


@contextlib.contextmanager
def _api_errors(kind: Kind, name: str) -> Iterator[None]:
    """Storage failures as the Status a client of this resource should see."""
    rt = kind.resource
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


def _index_value(kind: Kind, selector: _Filter) -> str | None:
    """The value of the kind's watch index the selector requires, if it requires one."""
    for path, op, value in selector.fields.requirements:
        if path == kind.watch_index and op == "=":
            return value
    return None


async def _decode(kind: Kind, stored: list[Object]) -> list[Object]:
    """Stored objects as the kind serves them."""
    objects = [kind.from_storage(o) for o in stored]
    if kind.converter is None or not objects:
        return objects
    return await kind.converter.convert(objects, kind.resource.api_version)


async def _encode(kind: Kind, obj: Object) -> Object:
    """An object in the form kept in etcd."""
    encoded = kind.to_storage(obj)
    if kind.converter is None or encoded.get("apiVersion") == kind.storage_api_version:
        return encoded
    return (await kind.converter.convert([encoded], kind.storage_api_version))[0]


def _encode_continue(revision: int, last_key: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise errors.bad_request(f"continue key is not valid: {e}") from e


def _later(seconds: int) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_metadata(kind: Kind, obj: Object, errors_: FieldErrors) -> None:
    metadata = obj.get("metadata") or {}
    errors_.labels("metadata.labels", metadata.get("labels"))
    annotations = metadata.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            errors_.invalid("metadata.annotations", annotations, "must be a map of strings")
        else:
            for key in annotations:
                errors_.qualified_name("metadata.annotations", key)
            size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
            if size > _MAX_ANNOTATIONS_BYTES:
                errors_.add(
                    "metadata.annotations",
                    "FieldValueTooLong",
                    f"Too long: must have at most {_MAX_ANNOTATIONS_BYTES} bytes",
                )
    for i, finalizer in enumerate(metadata.get("finalizers") or []):
        errors_.qualified_name(f"metadata.finalizers[{i}]", finalizer)
    for i, owner in enumerate(metadata.get("ownerReferences") or []):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not isinstance(owner, dict) or not owner.get(field):
                errors_.required(f"metadata.ownerReferences[{i}].{field}")


class Registry:
    """Create, read, update, delete, list and watch objects of any served kind."""

    def __init__(
        self, storage: Storage, kinds: Kinds, admission: Sequence[AdmissionPlugin] = ()
    ) -> None:
        self._storage = storage
        self.kinds = kinds
        #: Admission plugins in order; the server adds those that need the registry first.
        self.admission = list(admission)
        self.validation: list[ValidatingPlugin] = []
        #: Namespaces by name, as last read or written. Every namespace write goes through
        #: this registry (there is one apiserver), so the cache cannot go stale; it saves the
        #: etcd round trip each namespaced create would otherwise pay.
        self._namespaces: dict[str, Object] = {}

    # -- reads ---------------------------------------------------------------------------

    async def get(self, kind: Kind, namespace: str, name: str) -> Object:
        with _api_errors(kind, name):
            stored = await self._storage.get(kind.resource.key(namespace, name))
        return await self._decoded(kind, stored)

    @staticmethod
    async def _decoded(kind: Kind, stored: Object) -> Object:
        """A stored object as the kind serves it."""
        return (await _decode(kind, [stored]))[0]

    async def find(self, kind: Kind, namespace: str, name: str) -> Object | None:
        try:
            return await self.get(kind, namespace, name)
        except errors.APIError as e:
            if e.code == 404:
                return None
            raise

    def _filter(self, kind: Kind, options: ListOptions) -> _Filter:
        try:
            labels = LabelSelector.parse(options.label_selector)
            fields = FieldSelector.parse(options.field_selector)
        except SelectorError as e:
            raise errors.bad_request(str(e)) from e
        for path in fields.paths:
            if path not in ("metadata.name", "metadata.namespace", *kind.field_paths):
                raise errors.bad_request(f"field label not supported: {path}")
        return _Filter(kind, labels, fields)

    async def list(self, kind: Kind, namespace: str | None, options: ListOptions) -> ListPage:
        selector = self._filter(kind, options)
        prefix = kind.resource.prefix(namespace)
        if options.resource_version == "0" and not options.limit and not options.continue_token:
            cached = await self._indexed_list(kind, prefix, selector)
            if cached is not None:
                return cached
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
                items += [o for o in await _decode(kind, result.items) if selector.matches(o)]
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
        return ListPage(items, str(revision), token)

    async def _indexed_list(self, kind: Kind, prefix: str, selector: _Filter) -> ListPage | None:
        """A list at resourceVersion 0 (any recent state will do, as upstream serves it from
        its watch cache) of one value of the kind's watch index, from the shared watch's
        copy; None when there is none."""
        value = _index_value(kind, selector)
        if value is None:
            return None
        self._storage.share_watches(kind.resource.prefix(None), kind.watch_index)
        try:
            result = await self._storage.indexed_list(prefix, value)
        except StorageUnavailable as e:
            raise errors.unavailable(str(e)) from e
        if result is None:
            return None
        items = [o for o in await _decode(kind, result.items) if selector.matches(o)]
        return ListPage(items, str(result.revision), None)

    async def watch(
        self, kind: Kind, namespace: str | None, options: ListOptions
    ) -> AsyncIterator[WatchEvent]:
        """Check the options, then return the stream of watch events.

        With no resourceVersion (or "0") the current objects come first as ADDED events,
        as kube-apiserver does. Bad options raise here, before any event is produced.
        """
        selector = self._filter(kind, options)
        rv = options.resource_version
        start: int | None = None
        if rv not in (None, "", "0"):
            try:
                start = int(str(rv)) + 1
            except ValueError as e:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from e
        return self._events(kind, namespace, options, selector, start)

    async def _events(
        self,
        kind: Kind,
        namespace: str | None,
        options: ListOptions,
        selector: _Filter,
        start: int | None,
    ) -> AsyncIterator[WatchEvent]:
        if start is None:
            page = await self.list(
                kind,
                namespace,
                ListOptions(
                    label_selector=options.label_selector, field_selector=options.field_selector
                ),
            )
            for item in page.items:
                yield WatchEvent("ADDED", item, int(page.resource_version))
            start = int(page.resource_version) + 1
        self._storage.share_watches(kind.resource.prefix(None), kind.watch_index)
        index = _index_value(kind, selector)
        try:
            async for event in self._storage.watch(kind.resource.prefix(namespace), start, index):
                if event.type == "MODIFIED" and event.previous is not None:
                    obj, previous = await _decode(kind, [event.object, event.previous])
                    was = selector.matches(previous)
                    now = selector.matches(obj)
                    if was and not now:
                        yield WatchEvent("DELETED", obj, event.revision)
                    elif now and not was:
                        yield WatchEvent("ADDED", obj, event.revision)
                    elif now:
                        yield WatchEvent("MODIFIED", obj, event.revision)
                else:
                    obj = await self._decoded(kind, event.object)
                    if selector.matches(obj):
                        yield WatchEvent(event.type, obj, event.revision)
        except RevisionCompacted:
            message = f"too old resource version: {options.resource_version}"
            yield WatchEvent("ERROR", errors.gone(message).status())

    async def current_revision(self) -> int:
        return await self._storage.current_revision()

    # -- create --------------------------------------------------------------------------

    async def create(
        self,
        kind: Kind,
        namespace: str,
        obj: Object,
        *,
        dry_run: bool = False,
        writer: Writer | None = None,
    ) -> Object:
        """Create obj; a writer (a request's field manager) comes to own its fields."""
        rt = kind.resource
        if kind.refuses_creates:
            raise errors.APIError(
                405,
                "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
            )
        obj = meta.clone(obj)
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        name = metadata.get("name") or ""
        if not name and metadata.get("generateName"):
            suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            name = metadata["name"] = f"{metadata['generateName']}{suffix}"
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
            await self._require_open_namespace(kind, namespace, name)
        else:
            metadata.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        metadata["uid"] = meta.new_uid()
        metadata["creationTimestamp"] = meta.now_rfc3339()
        for managed in (
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            metadata.pop(managed, None)
        kind.default(obj)
        kind.prepare_for_create(obj)
        if writer is not None:
            kind.field_manager.record_update(None, obj, writer)
        await self._admit(kind, obj, None, dry_run=dry_run)
        self._validate(kind, obj, name)
        await self._admit_validating(kind, obj, None, "CREATE", dry_run=dry_run)
        if dry_run:
            return obj
        encoded = await _encode(kind, obj)
        with self._writing(kind, name):
            stored = await self._storage.create(rt.key(namespace, name), encoded)
        created = await self._decoded(kind, stored)
        for plural, extra in kind.after_create(created):
            companion = self.kinds.get(plural)
            with contextlib.suppress(errors.APIError):
                await self.create(
                    companion, name if rt.plural == "namespaces" else namespace, extra
                )
        return created

    def _validate(
        self,
        kind: Kind,
        obj: Object,
        name: str,
        old: Object | None = None,
        subresource: str | None = None,
    ) -> None:
        problems = FieldErrors()
        if kind.label_names:
            problems.dns_label("metadata.name", name)
        elif kind.path_segment_names:
            problems.path_segment("metadata.name", name)
        else:
            problems.dns_subdomain("metadata.name", name)
        if not name and obj["metadata"].get("generateName") is None:
            problems.errors[-1:] = [
                (
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                )
            ]
        validate_metadata(kind, obj, problems)
        kind.validate(obj, problems)
        if old is not None and subresource != "binding":  # binding is how a pod gets a node
            kind.validate_update(old, obj, problems)
            old_finalizers = set(old["metadata"].get("finalizers") or [])
            new_finalizers = set(obj["metadata"].get("finalizers") or [])
            if old["metadata"].get("deletionTimestamp") and new_finalizers - old_finalizers:
                problems.forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted",
                )
        if problems:
            raise errors.invalid(kind.resource.kind, name, problems.causes(), kind.resource.group)

    async def _admit(
        self,
        kind: Kind,
        obj: Object,
        old: Object | None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> None:
        """The mutating half of admission, before the object is validated."""
        for plugin in self.admission:
            await plugin.admit(self, kind, obj, old, subresource=subresource or "", dry_run=dry_run)
        admit = getattr(kind, "admit", None)
        if admit is not None:
            await admit(obj, old)

    async def _admit_validating(
        self,
        kind: Kind,
        obj: Object | None,
        old: Object | None,
        operation: str,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> None:
        """The validating half, after the object is validated (and before a delete)."""
        for plugin in self.validation:
            await plugin.validate(
                kind, obj, old, operation=operation, subresource=subresource or "", dry_run=dry_run
            )

    @contextlib.contextmanager
    def _writing(self, kind: Kind, name: str) -> Iterator[None]:
        """Around a write: storage errors as API errors, and a written namespace forgotten
        (before, and again after, so no read in between can cache the old one)."""
        is_namespace = kind.resource.plural == "namespaces"
        if is_namespace:
            self._namespaces.pop(name, None)
        try:
            with _api_errors(kind, name):
                yield
        finally:
            if is_namespace:
                self._namespaces.pop(name, None)

    async def _require_open_namespace(self, kind: Kind, namespace: str, name: str) -> None:
        found = self._namespaces.get(namespace)
        if found is None:
            found = await self.find(self.kinds.get("namespaces"), "", namespace)
            if found is None:
                raise errors.not_found("namespaces", namespace)
            self._namespaces[namespace] = found
        if found["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                kind.resource.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                kind.resource.group,
            )

    # -- update --------------------------------------------------------------------------

    async def update(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        obj: Object,
        subresource: str | None = None,
        *,
        dry_run: bool = False,
        writer: Writer | None = None,
    ) -> Object:
        metadata = obj.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        if metadata.get("name") and metadata["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on "
                f"the URL ({name})"
            )
        if kind.resource.namespaced and metadata.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        old = await self.get(kind, namespace, name)
        wanted_rv = metadata.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(kind.resource.plural, name, kind.resource.group)
        return await self._replace(kind, namespace, name, old, obj, subresource, dry_run, writer)

    async def _replace(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        old: Object,
        new: Object,
        subresource: str | None,
        dry_run: bool = False,
        writer: Writer | None = None,
    ) -> Object:
        rt = kind.resource
        new = meta.clone(new)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        new_meta = new.setdefault("metadata", {})
        if not isinstance(new_meta, dict):
            raise errors.bad_request("metadata must be an object")
        kind.default(new)
        result = kind.prepare_for_update(old, new, subresource)
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        result_meta = result.setdefault("metadata", {})
        old_meta = old["metadata"]
        result_meta["name"] = name
        if rt.namespaced:
            result_meta["namespace"] = namespace
        for managed in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if managed in old_meta:
                result_meta[managed] = old_meta[managed]
            else:
                result_meta.pop(managed, None)
        if writer is not None:
            kind.field_manager.record_update(old, result, writer)
        if "generation" in old_meta and spec_changed(old, result):
            result_meta["generation"] = int(old_meta["generation"]) + 1
        result_meta["resourceVersion"] = old_meta["resourceVersion"]
        if result == old:
            return old
        await self._admit(kind, result, old, subresource, dry_run)
        self._validate(kind, result, name, old, subresource)
        await self._admit_validating(kind, result, old, "UPDATE", subresource, dry_run)
        if dry_run:
            return result
        revision = int(old_meta["resourceVersion"])
        key = rt.key(namespace, name)
        encoded = await _encode(kind, result)
        with self._writing(kind, name):
            if result_meta.get("deletionTimestamp") and self._finalized(kind, result):
                # The last finalizer is gone: the delete that was waiting for it happens now.
                stored = await self._storage.delete(key, expected_revision=revision)
            else:
                stored = await self._storage.update(key, encoded, expected_revision=revision)
        return await self._decoded(kind, stored)

    @staticmethod
    def _finalized(kind: Kind, obj: Object) -> bool:
        if obj["metadata"].get("finalizers"):
            return False
        if kind.resource.plural == "namespaces":
            return not (obj.get("spec") or {}).get("finalizers")
        return True

    async def mutate(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        change: Callable[[Object], Object],
        subresource: str | None = None,
        attempts: int = 8,
        *,
        dry_run: bool = False,
        writer: Writer | None = None,
        last_seen: Object | None = None,
    ) -> Object:
        """Read, change and write back, retrying when someone else wrote in between.
        last_seen, the object as the caller last read or wrote it, saves the first read;
        if it is out of date the write conflicts and the object is read again."""
        for attempt in range(1, attempts + 1):
            if attempt == 1 and last_seen is not None:
                old = last_seen
            else:
                old = await self.get(kind, namespace, name)
            changed = change(meta.clone(old))
            try:
                return await self._replace(
                    kind, namespace, name, old, changed, subresource, dry_run, writer
                )
            except errors.APIError as e:
                if e.reason != "Conflict" or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    async def apply(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        config: Object,
        writer: Writer,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> tuple[Object, bool]:
        """Server-side apply: merge config in (creating the object if it is missing);
        return the object and whether it was created."""
        subresource = writer.subresource or None
        for attempt in range(1, 9):
            current = await self.find(kind, namespace, name)
            if current is None:
                if subresource is not None:
                    raise errors.not_found(kind.resource.plural, name, kind.resource.group)
                obj = kind.field_manager.apply(None, config, writer, force)
                try:
                    return await self.create(kind, namespace, obj, dry_run=dry_run), True
                except errors.APIError as e:
                    if e.reason != "AlreadyExists" or attempt == 8:
                        raise
                    continue
            merged = kind.field_manager.apply(current, config, writer, force)
            merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                replaced = await self._replace(
                    kind, namespace, name, current, merged, subresource, dry_run
                )
                return replaced, False
            except errors.APIError as e:
                if e.reason != "Conflict" or attempt == 8:
                    raise
        raise AssertionError("unreachable")

    # -- delete --------------------------------------------------------------------------

    async def delete(
        self, kind: Kind, namespace: str, name: str, options: DeleteOptions | None = None
    ) -> tuple[Object, bool]:
        """Delete, or start deleting; return the object and whether it is gone already.

        Objects with finalizers (also those foreground or orphan deletion adds), bound pods
        with a grace period and namespaces get a deletionTimestamp and stay until their
        finalizers are removed, the kubelet confirms, or the namespace is emptied.
        """
        options = options or DeleteOptions()
        if options.propagation_policy not in (None, *_PROPAGATION):
            raise errors.invalid(
                "DeleteOptions",
                "",
                [
                    (
                        "propagationPolicy",
                        "FieldValueNotSupported",
                        f'Unsupported value: "{options.propagation_policy}": '
                        'supported values: "Foreground", "Background", "Orphan"',
                    )
                ],
            )
        # Someone else may write in between (the scheduler binding a pod just made, a
        # kubelet's status): read again and retry, as upstream's GuaranteedUpdate does,
        # unless the client's own preconditions say which version it meant.
        preconditions = options.precondition_uid or options.precondition_resource_version
        for attempt in range(1, _DELETE_ATTEMPTS + 1):
            try:
                return await self._delete_once(kind, namespace, name, options)
            except errors.APIError as e:
                if e.reason != "Conflict" or preconditions or attempt == _DELETE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _delete_once(
        self, kind: Kind, namespace: str, name: str, options: DeleteOptions
    ) -> tuple[Object, bool]:
        rt = kind.resource
        current = await self.get(kind, namespace, name)
        current_meta = current["metadata"]
        if options.precondition_uid and current_meta.get("uid") != options.precondition_uid:
            raise errors.conflict(rt.plural, name, rt.group)
        if options.precondition_resource_version and (
            current_meta["resourceVersion"] != options.precondition_resource_version
        ):
            raise errors.conflict(rt.plural, name, rt.group)
        if not current_meta.get("deletionTimestamp"):
            await self._admit_validating(kind, None, current, "DELETE", dry_run=options.dry_run)
        pending = self._pending_delete(kind, current, options)
        if pending is None:
            if options.dry_run:
                return current, True
            with self._writing(kind, name):
                deleted = await self._storage.delete(
                    rt.key(namespace, name),
                    expected_revision=int(current_meta["resourceVersion"]),
                )
            return await self._decoded(kind, deleted), True
        if pending == current or options.dry_run:
            return pending, False
        encoded = await _encode(kind, pending)
        with self._writing(kind, name):
            stored = await self._storage.update(
                rt.key(namespace, name),
                encoded,
                expected_revision=int(current_meta["resourceVersion"]),
            )
        return await self._decoded(kind, stored), False

    def _pending_delete(self, kind: Kind, current: Object, options: DeleteOptions) -> Object | None:
        """The object as it should stay while its deletion is pending, or None to delete now."""
        pending = meta.clone(current)
        metadata = pending["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        finalizers += [f for f in kind.delete_finalizers if f not in finalizers]
        policy = options.propagation_policy or kind.default_propagation
        if policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
            finalizers = [f for f in finalizers if f != ORPHAN_FINALIZER] + [FOREGROUND_FINALIZER]
        elif policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
            finalizers = [f for f in finalizers if f != FOREGROUND_FINALIZER] + [ORPHAN_FINALIZER]
        if metadata.get("deletionTimestamp"):
            return self._shorten_grace(kind, pending, options)
        grace = self._grace_period(kind, current, options)
        if kind.resource.plural == "namespaces":
            metadata["deletionTimestamp"] = meta.now_rfc3339()
            metadata["deletionGracePeriodSeconds"] = 0
            pending.setdefault("status", {})["phase"] = "Terminating"
            if finalizers:
                metadata["finalizers"] = finalizers
            return None if self._finalized(kind, pending) else pending
        if finalizers or grace:
            metadata["deletionTimestamp"] = _later(grace) if grace else meta.now_rfc3339()
            metadata["deletionGracePeriodSeconds"] = grace
            if finalizers:
                metadata["finalizers"] = finalizers
            return pending
        return None

    @staticmethod
    def _grace_period(kind: Kind, obj: Object, options: DeleteOptions) -> int:
        """Seconds a bound, running pod gets to stop; 0 for anything else."""
        if not getattr(kind, "graceful", False):
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if options.grace_period_seconds is not None:
            return max(0, options.grace_period_seconds)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _shorten_grace(self, kind: Kind, pending: Object, options: DeleteOptions) -> Object | None:
        """A second delete of a terminating object may only shorten its grace period."""
        metadata = pending["metadata"]
        requested = options.grace_period_seconds
        if requested is None or requested >= int(metadata.get("deletionGracePeriodSeconds", 0)):
            return pending
        if requested == 0 and not metadata.get("finalizers"):
            return None
        metadata["deletionGracePeriodSeconds"] = requested
        metadata["deletionTimestamp"] = _later(requested)
        return pending

    async def delete_collection(
        self, kind: Kind, namespace: str | None, selection: ListOptions, options: DeleteOptions
    ) -> builtins.list[Object]:
        page = await self.list(kind, namespace, selection)
        removed: builtins.list[Object] = []
        for item in page.items:
            with contextlib.suppress(errors.APIError):
                obj, _ = await self.delete(
                    kind, meta.namespace_of(item), meta.name_of(item), options
                )
                removed.append(obj)
        return removed
