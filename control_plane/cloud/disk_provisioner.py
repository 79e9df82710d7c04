"""The provisioner of StorageClass `ku7s-disk` (disk.ku7s.dev): a claim gets a new disk of
the mock cloud (a Docker volume) and a CSI PersistentVolume naming it. A disk is zonal, as
a cloud's: the volume may be used by the nodes of its first pod's zone that the cloud can
attach disks to (not SSH machines, not nodes on another Docker engine)."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.cloud.docker_disks import DockerDisks
from control_plane.cloud.node_controller import ZONE_LABEL
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient
from ku7s.client.volume_provisioner import ProvisioningFailed, VolumeProvisioner

Object = dict[str, Any]


def disk_affinity(node: Object | None) -> Object:
    expressions: list[Object] = [
        {"key": label, "operator": "DoesNotExist"} for label in pv.UNATTACHABLE_NODE_LABELS
    ]
    zone = meta.labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        expressions.append({"key": ZONE_LABEL, "operator": "In", "values": [zone]})
    return {"required": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}


class DiskVolumes:
    provisioner = pv.DISK_DRIVER

    def __init__(self, disks: DockerDisks) -> None:
        self._disks = disks

    async def create(self, claim: Object, storage_class: Object, node: Object | None) -> Object:
        spec = claim.get("spec") or {}
        modes = set(spec.get("accessModes") or [])
        if modes - {"ReadWriteOnce", "ReadWriteOncePod"}:
            raise ProvisioningFailed(
                f"a ku7s-disk attaches to one node at a time: ReadWriteOnce and "
                f"ReadWriteOncePod only, not {', '.join(sorted(modes))}"
            )
        if spec.get("volumeMode", "Filesystem") != "Filesystem":
            raise ProvisioningFailed("ku7s-disk volumes are Filesystem volumes only")
        if node is not None and not pv.disk_attachable(node):
            raise ProvisioningFailed(
                f"node {meta.name_of(node)} cannot attach ku7s-disk volumes (not a "
                f"container on the cluster's Docker engine)"
            )
        handle = self._disks.handle_for(f"pvc-{meta.uid_of(claim)}")
        await self._disks.create(handle)
        return {
            "csi": {"driver": pv.DISK_DRIVER, "volumeHandle": handle},
            "nodeAffinity": disk_affinity(node),
        }

    async def delete(self, volume: Object) -> None:
        handle = pv.disk_handle(volume)
        if handle:
            await self._disks.delete(handle)

    async def expand(self, volume: Object, size: str) -> None:
        return None  # a Docker volume has the size of the engine's disk


class DiskProvisioner(VolumeProvisioner):
    name: ClassVar[str] = "disk-provisioner"

    def __init__(
        self, client: APIClient, disks: DockerDisks, informers: InformerFactory | None = None
    ) -> None:
        super().__init__(client, DiskVolumes(disks), informers)
