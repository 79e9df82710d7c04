"""The external provisioner pattern, shared by ku7s' two storage back ends (a directory on
the node, a disk of the mock cloud): a claim the PV controller hands to this provisioner
(by the storage-provisioner annotation) gets a PersistentVolume made by the back end, a
bound claim asking for more is grown, and a released volume of the Delete policy is
deleted with what backs it."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Protocol

from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("volume-provisioner")

CLAIM = "claim:"
VOLUME = "volume:"


class ProvisioningFailed(Exception):
    """The claim cannot get a volume here (the event says why; no retry helps)."""


class VolumeBackend(Protocol):
    """What backs the volumes of one provisioner."""

    #: The provisioner's name, as StorageClasses name it.
    provisioner: str

    async def create(self, claim: Object, storage_class: Object, node: Object | None) -> Object:
        """Make the storage for the claim (node: the one its pod goes to, for
        WaitForFirstConsumer classes); return the volume's source and node affinity as a
        PersistentVolume spec fragment. Raise ProvisioningFailed when it cannot be done."""
        ...

    async def delete(self, volume: Object) -> None:
        """Free what backs a volume that is being deleted (done if already gone)."""
        ...

    async def expand(self, volume: Object, size: str) -> None:
        """Grow what backs the volume to size."""
        ...


def provisioned_volume(
    claim: Object, storage_class: Object, provisioner: str, source: Object
) -> Object:
    """The PersistentVolume for a claim: named after it, bound to it, shaped as it asks."""
    spec = claim.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta.uid_of(claim)}",
            "annotations": {pv.PROVISIONED_BY: provisioner},
        },
        "spec": {
            "capacity": {
                "storage": ((spec.get("resources") or {}).get("requests") or {})["storage"]
            },
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
            "storageClassName": meta.name_of(storage_class),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": pv.claim_reference(claim),
            **source,
        },
    }


def node_affinity(**labels: str) -> Object:
    """A volume's required node affinity: nodes with all these labels."""
    expressions = [{"key": k, "operator": "In", "values": [v]} for k, v in labels.items()]
    terms = [{"matchExpressions": expressions}]
    return {"nodeAffinity": {"required": {"nodeSelectorTerms": terms}}}


class VolumeProvisioner(Controller):
    name: ClassVar[str] = "volume-provisioner"

    def __init__(
        self,
        client: APIClient,
        backend: VolumeBackend,
        informers: InformerFactory | None = None,
        *,
        workers: int = 2,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.backend = backend
        self.claims = self.factory.informer("/api/v1/persistentvolumeclaims")
        self.volumes = self.factory.informer("/api/v1/persistentvolumes")
        self.classes = self.factory.informer("/apis/storage.k8s.io/v1/storageclasses")
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.claims.on_change(lambda _, c: self.queue.add(CLAIM + object_key(c)))
        self.volumes.on_change(lambda _, v: self.queue.add(VOLUME + meta.name_of(v)))
        self.informers = [self.claims, self.volumes, self.classes, self.nodes]
        self._events = EventRecorder(client, backend.provisioner)

    async def reconcile(self, key: str) -> None:
        if key.startswith(VOLUME):
            volume = self.volumes.get(key.removeprefix(VOLUME))
            if volume is not None:
                await self._sync_volume(volume)
            return
        claim = self.claims.get(key.removeprefix(CLAIM))
        if claim is None or claim["metadata"].get("deletionTimestamp"):
            return
        wanted = meta.annotations_of(claim).get(pv.STORAGE_PROVISIONER)
        if wanted != self.backend.provisioner:
            return
        if (claim.get("spec") or {}).get("volumeName"):
            await self._expand(claim)
            return
        if self.volumes.get(f"pvc-{meta.uid_of(claim)}") is not None:
            return  # made already; the binder finishes
        try:
            volume = await self._volume_for(claim)
        except ProvisioningFailed as e:
            self._events.record(claim, "Warning", "ProvisioningFailed", str(e))
            return
        try:
            await self.client.create("/api/v1/persistentvolumes", volume)
        except APIStatusError as e:
            if e.code != 409:
                raise
        self._events.record(
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {meta.name_of(volume)}",
        )

    async def _volume_for(self, claim: Object) -> Object:
        class_name = pv.claim_class(claim)
        storage_class = self.classes.get(class_name)
        if storage_class is None:
            raise ProvisioningFailed(f'storageclass.storage.k8s.io "{class_name}" not found')
        if (claim.get("spec") or {}).get("selector"):
            raise ProvisioningFailed("claim.Spec.Selector is not supported")
        node: Object | None = None
        node_name = meta.annotations_of(claim).get(pv.SELECTED_NODE)
        if node_name:
            node = self.nodes.get(node_name)
            if node is None:
                raise ProvisioningFailed(f'node "{node_name}" not found')
        self._events.record(
            claim,
            "Normal",
            "Provisioning",
            f'External provisioner is provisioning volume for claim "{object_key(claim)}"',
        )
        source = await self.backend.create(claim, storage_class, node)
        return provisioned_volume(claim, storage_class, self.backend.provisioner, source)

    async def _expand(self, claim: Object) -> None:
        """A bound claim asking for more than it has (the API server let it, so its class
        allows expansion): the back end grows the storage, then the volume's capacity and
        the claim's are written, as a resizer does."""
        wanted = pv.requested_storage(claim)
        status = claim.get("status") or {}
        if status.get("phase") != "Bound" or wanted <= pv.storage_of(status.get("capacity")):
            return
        volume = self.volumes.get(claim["spec"]["volumeName"])
        if volume is None:
            return
        size = ((claim["spec"].get("resources") or {}).get("requests") or {})["storage"]
        await self.backend.expand(volume, size)
        await self.client.patch(
            f"/api/v1/persistentvolumes/{meta.name_of(volume)}",
            {"spec": {"capacity": {"storage": size}}},
        )
        path = (
            f"/api/v1/namespaces/{meta.namespace_of(claim)}/persistentvolumeclaims/"
            f"{meta.name_of(claim)}/status"
        )
        await self.client.patch(path, {"status": {"capacity": {"storage": size}}})
        self._events.record(
            claim,
            "Normal",
            "VolumeResizeSuccessful",
            f"resize volume {meta.name_of(volume)} to {size} succeeded",
        )

    async def _sync_volume(self, volume: Object) -> None:
        """A released volume of ours with the Delete policy goes, its storage first."""
        if meta.annotations_of(volume).get(pv.PROVISIONED_BY) != self.backend.provisioner:
            return
        spec, status = volume.get("spec") or {}, volume.get("status") or {}
        if status.get("phase") != "Released" or volume["metadata"].get("deletionTimestamp"):
            return
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        await self.backend.delete(volume)
        try:
            await self.client.delete(f"/api/v1/persistentvolumes/{meta.name_of(volume)}")
        except APIStatusError as e:
            if e.code != 404:
                raise
        log.info("%s: deleted released volume %s", self.backend.provisioner, meta.name_of(volume))
