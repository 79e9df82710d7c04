"""The garbage collector: objects whose owners are all gone are deleted (background
deletion); an owner deleted in the foreground keeps its deletionTimestamp until its
blocking dependents are gone; an owner deleted with the orphan policy first has its
dependents' owner references removed.

It works by object uid across every collection it watches: the workload kinds, pods,
leases (owned by their node), services, endpoints and their slices, config maps and
secrets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from control_plane.controllers.base import Controller
from ku7s.api import meta
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
    Collection("batch/v1", "Job", "jobs"),
    Collection("coordination.k8s.io/v1", "Lease", "leases"),
    Collection("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
)
_BY_KIND = {(c.api_version.rpartition("/")[0], c.kind): c for c in WATCHED}


def owner_uids(obj: Object) -> list[str]:
    return [str(r.get("uid", "")) for r in obj.get("metadata", {}).get("ownerReferences") or []]


def collection_of(ref: Object) -> Collection | None:
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    return _BY_KIND.get((group, str(ref.get("kind", ""))))


class GarbageCollector(Controller):
    name: ClassVar[str] = "garbage-collector"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 4
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self._objects: dict[str, tuple[Collection, Object]] = {}
        self._watched: list[tuple[Collection, Informer]] = []
        for collection in WATCHED:
            informer = self.factory.informer(collection.path())
            informer.add_index("owner", owner_uids)
            informer.on_change(self._handler(collection))
            self._watched.append((collection, informer))
        self.informers = [informer for _, informer in self._watched]

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
        collection = collection_of(ref)
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
