"""Storage object in-use protection, as upstream's two controllers: a claim being deleted
keeps its finalizer while a pod that is not finished still uses it, and a volume being
deleted keeps its own while it is bound, so `kubectl delete pvc` never pulls data from
under a running pod."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import pod_informer
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

CLAIM = "claim:"
VOLUME = "volume:"


def claim_index(pod: Object) -> list[str]:
    namespace = meta.namespace_of(pod)
    return [f"{namespace}/{name}" for name in pv.pod_claim_names(pod)]


class StorageProtectionController(Controller):
    name: ClassVar[str] = "storage-protection"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.claims = self.factory.informer("/api/v1/persistentvolumeclaims")
        self.volumes = self.factory.informer("/api/v1/persistentvolumes")
        self.pods = pod_informer(self.factory)
        self.pods.add_index("claim", claim_index)
        self.claims.on_change(self._claim_changed)
        self.volumes.on_change(lambda _, v: self.queue.add(VOLUME + meta.name_of(v)))
        self.pods.on_change(self._pod_changed)
        self.informers = [self.claims, self.volumes, self.pods]

    def _claim_changed(self, _: str, claim: Object) -> None:
        self.queue.add(CLAIM + object_key(claim))
        volume = (claim.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add(VOLUME + volume)

    def _pod_changed(self, event: str, pod: Object) -> None:
        if event == "DELETED" or pc.is_finished(pod):
            for key in claim_index(pod):
                self.queue.add(CLAIM + key)

    async def reconcile(self, key: str) -> None:
        if key.startswith(CLAIM):
            claim = self.claims.get(key.removeprefix(CLAIM))
            if claim is not None and self._releasable_claim(claim):
                namespace, name = meta.namespace_of(claim), meta.name_of(claim)
                path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
                await self._drop_finalizer(path, claim, pv.CLAIM_PROTECTION)
            return
        volume = self.volumes.get(key.removeprefix(VOLUME))
        if volume is not None and self._releasable_volume(volume):
            path = f"/api/v1/persistentvolumes/{meta.name_of(volume)}"
            await self._drop_finalizer(path, volume, pv.VOLUME_PROTECTION)

    def _releasable_claim(self, claim: Object) -> bool:
        if not claim["metadata"].get("deletionTimestamp"):
            return False
        if pv.CLAIM_PROTECTION not in (claim["metadata"].get("finalizers") or []):
            return False
        users = self.pods.by_index("claim", object_key(claim))
        return not any(not pc.is_finished(p) for p in users)

    def _releasable_volume(self, volume: Object) -> bool:
        if not volume["metadata"].get("deletionTimestamp"):
            return False
        if pv.VOLUME_PROTECTION not in (volume["metadata"].get("finalizers") or []):
            return False
        if (volume.get("status") or {}).get("phase") != "Bound":
            return True
        claim = self.claims.get(pv.claim_ref_key(volume))
        return claim is None or (claim.get("spec") or {}).get("volumeName") != meta.name_of(volume)

    async def _drop_finalizer(self, path: str, obj: Object, finalizer: str) -> None:
        rest = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        body = {"metadata": {"finalizers": rest, "resourceVersion": meta.resource_version(obj)}}
        try:
            await self.client.patch(path, body)
        except APIStatusError as e:
            if e.code != 404:
                raise
