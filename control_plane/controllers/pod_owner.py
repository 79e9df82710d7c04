"""What every controller of pods shares: the pods a controller owns (claimed, adopted and
released by controller reference), creating and deleting them in bursts while its
expectations remember what is on the way, and the base class that wires a controller's
owner informer and the shared pod informer to its work queue."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.expectations import Expectations
from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.informer import Informer, InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("controllers")

#: Pods created or deleted at once by one reconcile.
BURST = 64


def namespace_index(obj: Object) -> list[str]:
    return [meta.namespace_of(obj)]


#: Pods by "<namespace>/<label>=<value>", one entry per label.
LABEL_INDEX = "label"


def label_index(obj: Object) -> list[str]:
    namespace = meta.namespace_of(obj)
    return [f"{namespace}/{key}={value}" for key, value in meta.labels_of(obj).items()]


def labelled(pods: Informer, namespace: str, labels: dict[str, str]) -> list[Object]:
    """The pods of namespace that may match a selector with these labels: those carrying
    the rarest of them (all of the namespace's when there are none). Callers still match
    the whole selector; this only spares them the scan of every pod in the namespace."""
    if not labels or not pods.has_index(LABEL_INDEX):
        return pods.by_index("namespace", namespace)
    keys = [f"{namespace}/{key}={value}" for key, value in labels.items()]
    return pods.by_index(LABEL_INDEX, min(keys, key=lambda k: pods.count_by_index(LABEL_INDEX, k)))


def apps_path(plural: str, obj: Object, group_version: str = "apps/v1") -> str:
    """The URL of a namespaced object of an API group."""
    return f"/apis/{group_version}/namespaces/{meta.namespace_of(obj)}/{plural}/{meta.name_of(obj)}"


async def patch_status(client: APIClient, path: str, old: Object, new: Object) -> None:
    """Write the status subresource when it changed."""
    if {k: old.get(k) for k in new} == new:
        return
    try:
        await client.patch(f"{path}/status", {"status": new})
    except APIStatusError as e:
        if e.code != 404:
            raise


class OwnedPods:
    """The pods a controller owns, found by controller reference; orphans its selector
    matches are adopted and owned pods it no longer matches are released, as upstream's
    controller reference manager does."""

    def __init__(self, client: APIClient, pods: Informer) -> None:
        self._client = client
        self._pods = pods

    async def claim(self, owner: Object, selector: Object | None) -> list[Object]:
        uid = meta.uid_of(owner)
        namespace = meta.namespace_of(owner)
        owned = []
        for pod in self._pods.by_index("controller", uid):
            if pc.selector_matches(selector, meta.labels_of(pod)) or pc.is_terminating(pod):
                owned.append(pod)
            else:
                await self._release(pod, uid)
        if owner["metadata"].get("deletionTimestamp"):
            return owned
        match_labels = dict((selector or {}).get("matchLabels") or {})
        for pod in labelled(self._pods, namespace, match_labels):
            if (
                pc.controller_of(pod) is None
                and not pc.is_terminating(pod)
                and pc.selector_matches(selector, meta.labels_of(pod))
            ):
                adopted = await self._adopt(pod, owner)
                if adopted is not None:
                    owned.append(adopted)
        return owned

    async def _adopt(self, pod: Object, owner: Object) -> Object | None:
        refs = [*(pod["metadata"].get("ownerReferences") or []), pc.controller_ref(owner)]
        try:
            return await self._client.patch(
                self._path(pod),
                {
                    "metadata": {
                        "ownerReferences": refs,
                        "resourceVersion": meta.resource_version(pod),
                    }
                },
            )
        except APIStatusError as e:
            if e.code in (404, 409):
                return None
            raise

    async def _release(self, pod: Object, uid: str) -> None:
        refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        try:
            await self._client.patch(
                self._path(pod),
                {
                    "metadata": {
                        "ownerReferences": refs or None,
                        "resourceVersion": meta.resource_version(pod),
                    }
                },
            )
        except APIStatusError as e:
            if e.code not in (404, 409):
                raise

    @staticmethod
    def _path(pod: Object) -> str:
        return f"/api/v1/namespaces/{meta.namespace_of(pod)}/pods/{meta.name_of(pod)}"


def pod_informer(factory: InformerFactory) -> Informer:
    """The shared pod informer with the indexes the workload controllers use."""
    pods = factory.informer("/api/v1/pods")
    pods.add_index("controller", pc.controller_uid)
    pods.add_index("namespace", namespace_index)
    pods.add_index(LABEL_INDEX, label_index)
    return pods


class PodScaler:
    """Creates and deletes a controller's pods, telling its expectations."""

    def __init__(self, client: APIClient, expectations: Expectations) -> None:
        self._client = client
        self.expectations = expectations

    async def create(self, key: str, namespace: str, pods: list[Object]) -> None:
        self.expectations.expect(key, creates=len(pods))
        failures: list[BaseException] = []
        for start in range(0, len(pods), BURST):
            results = await asyncio.gather(
                *(
                    self._client.create(f"/api/v1/namespaces/{namespace}/pods", pod)
                    for pod in pods[start : start + BURST]
                ),
                return_exceptions=True,
            )
            failures += [r for r in results if isinstance(r, BaseException)]
        if failures:
            self.expectations.lower(key, creates=len(failures))
            raise failures[0]

    async def delete(self, key: str, pods: list[Object]) -> None:
        self.expectations.expect(key, deletes={meta.uid_of(p) for p in pods})
        results = await asyncio.gather(
            *(
                self._client.delete(
                    f"/api/v1/namespaces/{meta.namespace_of(p)}/pods/{meta.name_of(p)}"
                )
                for p in pods
            ),
            return_exceptions=True,
        )
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                self.expectations.deleted(key, meta.uid_of(pod))
                if not (isinstance(result, APIStatusError) and result.code == 404):
                    raise result


class PodOwnerController(Controller):
    """A controller whose objects own pods: ReplicaSet, DaemonSet, Job, StatefulSet.

    Subclasses name the kind and the collection of their objects; a pod's change queues the
    owner it names (and tells the expectations); an orphan's change goes to orphan_changed.
    """

    owner_kind: ClassVar[str]
    owner_path: ClassVar[str]

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.owners = self.factory.informer(self.owner_path)
        self.owners.add_index("namespace", namespace_index)
        self.pods = pod_informer(self.factory)
        self.owners.on_change(lambda _, owner: self.queue.add(object_key(owner)))
        self.pods.on_change(self._pod_changed)
        self.informers = [self.owners, self.pods]
        self.expectations = Expectations()
        self._scaler = PodScaler(client, self.expectations)
        self._owned = OwnedPods(client, self.pods)

    def orphan_changed(self, pod: Object) -> None:
        """A pod without a controller changed; an owner that adopts orphans looks here."""

    def _pod_changed(self, event: str, pod: Object) -> None:
        ref = pc.controller_of(pod)
        if ref is None:
            if event != "DELETED":
                self.orphan_changed(pod)
            return
        if ref.get("kind") != self.owner_kind:
            return
        key = f"{meta.namespace_of(pod)}/{ref.get('name')}"
        if event == "ADDED":
            self.expectations.created(key)
        if event == "DELETED" or pc.is_terminating(pod):
            self.expectations.deleted(key, meta.uid_of(pod))
        self.queue.add(key)
