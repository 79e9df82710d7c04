"""The provisioner of the default StorageClass `standard` (ku7s.dev/local-path), as kind's
local-path provisioner: a claim the binder hands to it gets a volume that is a directory
on the node its pod was scheduled to (a hostPath the kubelet creates on first mount, with
node affinity to that node); a released volume of the Delete policy is deleted, and the
node's kubelet removes the directory once the volume is gone."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from control_plane.controllers.volumes.storage_informers import StorageInformers
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("local-path-provisioner")

CLAIM = "claim:"
VOLUME = "volume:"


class ProvisioningFailed(Exception):
    """The claim cannot get a volume here (the event says why; no retry helps)."""


def node_disk(node: Object) -> int:
    """The node's disk for volumes: its ephemeral storage."""
    raw = ((node.get("status") or {}).get("allocatable") or {}).get("ephemeral-storage", "0")
    try:
        return int(parse_quantity(str(raw)))
    except QuantityError:
        return 0


def local_volume(claim: Object, storage_class: Object, node: str) -> Object:
    name = f"pvc-{meta.uid_of(claim)}"
    spec = claim.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {pv.PROVISIONED_BY: pv.LOCAL_PATH_PROVISIONER},
        },
        "spec": {
            "capacity": {
                "storage": ((spec.get("resources") or {}).get("requests") or {})["storage"]
            },
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
            "storageClassName": meta.name_of(storage_class),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "apiVersion": "v1",
                "namespace": meta.namespace_of(claim),
                "name": meta.name_of(claim),
                "uid": meta.uid_of(claim),
                "resourceVersion": meta.resource_version(claim),
            },
            "hostPath": {
                "path": pv.local_path_directory(name, claim),
                "type": "DirectoryOrCreate",
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


class LocalPathProvisioner(Controller):
    name: ClassVar[str] = "local-path-provisioner"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        storage = StorageInformers.of(self.factory)
        self.claims, self.volumes = storage.claims, storage.volumes
        self.classes, self.nodes = storage.classes, storage.nodes
        self.claims.on_change(lambda _, c: self.queue.add(CLAIM + object_key(c)))
        self.volumes.on_change(lambda _, v: self.queue.add(VOLUME + meta.name_of(v)))
        self.informers = storage.all()
        self._events = EventRecorder(client, pv.LOCAL_PATH_PROVISIONER)

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
        if wanted != pv.LOCAL_PATH_PROVISIONER:
            return
        if (claim.get("spec") or {}).get("volumeName"):
            await self._expand(claim)
            return
        if self.volumes.get(f"pvc-{meta.uid_of(claim)}") is not None:
            return  # made already; the binder finishes
        try:
            volume = self._volume_for(claim)
        except ProvisioningFailed as e:
            self._events.record(claim, "Warning", "ProvisioningFailed", str(e))
            return
        self._events.record(
            claim,
            "Normal",
            "Provisioning",
            f'External provisioner is provisioning volume for claim "{object_key(claim)}"',
        )
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

    def _volume_for(self, claim: Object) -> Object:
        class_name = pv.claim_class(claim)
        storage_class = self.classes.get(class_name)
        if storage_class is None:
            raise ProvisioningFailed(f'storageclass.storage.k8s.io "{class_name}" not found')
        if (claim.get("spec") or {}).get("selector"):
            raise ProvisioningFailed("claim.Spec.Selector is not supported")
        node_name = meta.annotations_of(claim).get(pv.SELECTED_NODE)
        if not node_name:
            raise ProvisioningFailed(
                "configuration error, no node was specified: the class of a local-path "
                "volume needs volumeBindingMode WaitForFirstConsumer"
            )
        node = self.nodes.get(node_name)
        if node is None:
            raise ProvisioningFailed(f'node "{node_name}" not found')
        modes = set((claim.get("spec") or {}).get("accessModes") or [])
        if modes - {"ReadWriteOnce", "ReadWriteOncePod"}:
            raise ProvisioningFailed(
                f"NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes, "
                f"not {', '.join(sorted(modes))}"
            )
        wanted, disk = pv.requested_storage(claim), node_disk(node)
        if wanted > disk:
            raise ProvisioningFailed(
                f"requested {wanted} bytes, more than the {disk} bytes of node {node_name}'s disk"
            )
        return local_volume(claim, storage_class, node_name)

    async def _expand(self, claim: Object) -> None:
        """A bound claim asking for more than it has (the API server let it, so its class
        allows expansion): a directory has no size to grow, so the volume's capacity and
        then the claim's are written, as a resizer does once the disk has grown."""
        wanted = pv.requested_storage(claim)
        status = claim.get("status") or {}
        if status.get("phase") != "Bound" or wanted <= pv.storage_of(status.get("capacity")):
            return
        volume = self.volumes.get(claim["spec"]["volumeName"])
        if volume is None:
            return
        size = ((claim["spec"].get("resources") or {}).get("requests") or {})["storage"]
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
        """A released volume of ours with the Delete policy goes (its data with it)."""
        if meta.annotations_of(volume).get(pv.PROVISIONED_BY) != pv.LOCAL_PATH_PROVISIONER:
            return
        spec, status = volume.get("spec") or {}, volume.get("status") or {}
        if status.get("phase") != "Released" or volume["metadata"].get("deletionTimestamp"):
            return
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        try:
            await self.client.delete(f"/api/v1/persistentvolumes/{meta.name_of(volume)}")
        except APIStatusError as e:
            if e.code != 404:
                raise
        log.info("deleted released volume %s", meta.name_of(volume))
