"""The garbage collector: objects whose owners are all gone are deleted (background
deletion); an owner deleted in the foreground keeps its deletionTimestamp until its
blocking dependents are gone; an owner deleted with the orphan policy first has its
dependents' owner references removed.

It works by object uid across every collection it watches: the workload kinds, pods,
leases (owned by their node), services, endpoints and their slices, config maps and
secrets, and every custom resource, watched from when its definition is established.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.informer import Informer, InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("garbage-collector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass(frozen=True)
class Collection:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


WATCHED = (
    Collection("v1", "Pod", "pods"),
    Collection("v1", "Node", "nodes", namespaced=False),
    Collection("v1", "Service", "services"),
    Collection("v1", "Endpoints", "endpoints"),
    Collection("v1", "ConfigMap", "configmaps"),
    Collection("v1", "Secret", "secrets"),
    Collection("apps/v1", "ReplicaSet", "replicasets"),
    Collection("apps/v1", "Deployment", "deployments"),
    Collection("apps/v1", "DaemonSet", "daemonsets"),
    Collection("apps/v1", "StatefulSet", "statefulsets"),
    Collection("v1", "ReplicationController", "replicationcontrollers"),
    Collection("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    Collection("apps/v1", "ControllerRevision", "controllerrevisions"),
    Collection("batch/v1", "Job", "jobs"),
    Collection("batch/v1", "CronJob", "cronjobs"),
    Collection("coordination.k8s.io/v1", "Lease", "leases"),
    Collection("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
)
DEFINITIONS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _kind_key(api_version: str, kind: str) -> tuple[str, str]:
    """Owner references match by group and kind: any version of a kind is the same object."""
    return (api_version.rpartition("/")[0], kind)


def custom_collection(crd: Object) -> Collection | None:
    """The collection an established definition serves (its storage version if served)."""
    conditions = (crd.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
        return None
    spec = crd.get("spec") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served")]
    if not served:
        return None
    version = next((v for v in served if v.get("storage")), served[0])
    names = spec.get("names") or {}
    return Collection(
        f"{spec.get('group')}/{version['name']}",
        str(names.get("kind", "")),
        str(names.get("plural", "")),
        namespaced=spec.get("scope") == "Namespaced",
    )


def owner_uids(obj: Object) -> list[str]:
    return [str(r.get("uid", "")) for r in obj.get("metadata", {}).get("ownerReferences") or []]


class GarbageCollector(Controller):
    name: ClassVar[str] = "garbage-collector"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 4
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self._objects: dict[str, tuple[Collection, Object]] = {}
        self._watched: list[tuple[Collection, Informer]] = []
        self._by_kind: dict[tuple[str, str], Collection] = {}
        for collection in WATCHED:
            self._watch(collection)
        self.informers = [informer for _, informer in self._watched]
        definitions = self.factory.informer(DEFINITIONS)
        definitions.on_change(self._definition_changed)
        self.informers.append(definitions)
        #: Custom resources watched: definition name -> (its informer's stop, its task).
        self._custom: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}

    def _watch(self, collection: Collection) -> Informer:
        informer = self.factory.informer(collection.path())
        informer.add_index("owner", owner_uids)
        informer.on_change(self._handler(collection))
        self._watched.append((collection, informer))
        self._by_kind[_kind_key(collection.api_version, collection.kind)] = collection
        return informer

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await super().run(stop)
        finally:
            for ended, task in self._custom.values():
                ended.set()
                task.cancel()

    def _definition_changed(self, event: str, crd: Object) -> None:
        name = meta.name_of(crd)
        if event == "DELETED":
            watching = self._custom.pop(name, None)
            if watching is not None:
                watching[0].set()
            return
        collection = custom_collection(crd)
        if collection is None or name in self._custom:
            return
        known = self._by_kind.get(_kind_key(collection.api_version, collection.kind))
        if known == collection:  # watched before its definition was deleted and made again
            informer = self.factory.informer(collection.path())
        else:
            informer = self._watch(collection)
        ended = asyncio.Event()
        self._custom[name] = (ended, asyncio.create_task(informer.run(ended)))

    def collection_of(self, ref: Object) -> Collection | None:
        return self._by_kind.get(
            _kind_key(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        )

    def _handler(self, collection: Collection) -> Any:
        def changed(event: str, obj: Object) -> None:
            uid = meta.uid_of(obj)
            if event == "DELETED":
                self._objects.pop(uid, None)
                for dependent in self.dependents(uid):
                    self.queue.add(meta.uid_of(dependent))
                # The last blocking dependent gone lets a foreground owner go.
                for owner in owner_uids(obj):
                    self.queue.add(owner)
                return
            self._objects[uid] = (collection, obj)
            finalizers = obj["metadata"].get("finalizers") or []
            if obj["metadata"].get("deletionTimestamp") and (
                FOREGROUND in finalizers or ORPHAN in finalizers
            ):
                self.queue.add(uid)
            if obj["metadata"].get("deletionTimestamp") is not None:
                # A dependent going away may unblock its owner's foreground deletion.
                for owner in owner_uids(obj):
                    self.queue.add(owner)
            if owner_uids(obj):
                self.queue.add(uid)

        return changed

    def dependents(self, uid: str) -> list[Object]:
        found: list[Object] = []
        for _, informer in self._watched:
            found += informer.by_index("owner", uid)
        return found

    async def reconcile(self, key: str) -> None:
        entry = self._objects.get(key)
        if entry is None:
            return
        collection, obj = entry
        finalizers = obj["metadata"].get("finalizers") or []
        if obj["metadata"].get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(key, collection, obj)
                return
            if FOREGROUND in finalizers:
                await self._delete_dependents_first(key, collection, obj)
                return
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return
        alive = [ref for ref in refs if await self._owner_exists(ref, obj)]
        if alive:
            if len(alive) < len(refs):
                await self._patch(collection, obj, {"metadata": {"ownerReferences": alive}})
            return
        log.info(
            "deleting %s %s/%s: its owners are gone",
            collection.kind,
            meta.namespace_of(obj),
            meta.name_of(obj),
        )
        await self._delete(collection, obj, "Background")

    async def _owner_exists(self, ref: Object, dependent: Object) -> bool:
        uid = str(ref.get("uid", ""))
        if uid in self._objects:
            return True
        collection = self.collection_of(ref)
        if collection is None:
            return True  # a kind not watched here: leave its dependents alone
        namespace = meta.namespace_of(dependent) if collection.namespaced else None
        try:
            owner = await self.client.get(f"{collection.path(namespace)}/{ref.get('name')}")
        except APIStatusError as e:
            if e.code == 404:
                return False
            raise
        return meta.uid_of(owner) == uid

    async def _orphan_dependents(self, uid: str, collection: Collection, owner: Object) -> None:
        for dependent in self.dependents(uid):
            refs = [
                r for r in dependent["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
            ]
            dependent_collection, _ = self._objects.get(meta.uid_of(dependent), (None, None))
            if dependent_collection is not None:
                await self._patch(
                    dependent_collection, dependent, {"metadata": {"ownerReferences": refs or None}}
                )
        await self._remove_finalizer(collection, owner, ORPHAN)

    async def _delete_dependents_first(
        self, uid: str, collection: Collection, owner: Object
    ) -> None:
        blocking = 0
        for dependent in self.dependents(uid):
            refs: list[Object] = dependent["metadata"].get("ownerReferences") or []
            ref = next((r for r in refs if r.get("uid") == uid), {})
            dependent_collection, _ = self._objects.get(meta.uid_of(dependent), (None, None))
            if dependent_collection is None:
                continue
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dependent["metadata"].get("deletionTimestamp"):
                await self._delete(dependent_collection, dependent, "Foreground")
        if blocking:
            return  # the dependents' deletions bring us back here
        await self._remove_finalizer(collection, owner, FOREGROUND)

    async def _remove_finalizer(self, collection: Collection, obj: Object, finalizer: str) -> None:
        remaining = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        await self._patch(
            collection,
            obj,
            {
                "metadata": {
                    "finalizers": remaining or None,
                    "resourceVersion": meta.resource_version(obj),
                }
            },
        )

    def _object_path(self, collection: Collection, obj: Object) -> str:
        namespace = meta.namespace_of(obj) if collection.namespaced else None
        return f"{collection.path(namespace)}/{meta.name_of(obj)}"

    async def _patch(self, collection: Collection, obj: Object, patch: Object) -> None:
        try:
            await self.client.patch(self._object_path(collection, obj), patch)
        except APIStatusError as e:
            if e.code != 404:
                raise

    async def _delete(self, collection: Collection, obj: Object, propagation: str) -> None:
        try:
            await self.client.delete(
                self._object_path(collection, obj), {"propagationPolicy": propagation}
            )
        except APIStatusError as e:
            if e.code not in (404, 409):
                raise
