"""The provisioner of the default StorageClass `standard` (ku7s.dev/local-path), as kind's
local-path provisioner: a claim the binder hands to it gets a volume that is a directory
on the node its pod was scheduled to (a hostPath the kubelet creates on first mount, with
node affinity to that node); a released volume of the Delete policy is deleted, and the
node's kubelet removes the directory once the volume is gone."""

from __future__ import annotations

from typing import Any, ClassVar

from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient
from ku7s.client.volume_provisioner import ProvisioningFailed, VolumeProvisioner, node_affinity

Object = dict[str, Any]


def node_disk(node: Object) -> int:
    """The node's disk for volumes: its ephemeral storage."""
    raw = ((node.get("status") or {}).get("allocatable") or {}).get("ephemeral-storage", "0")
    try:
        return int(parse_quantity(str(raw)))
    except QuantityError:
        return 0


class LocalPathVolumes:
    """Directories on nodes: nothing to make ahead (the kubelet makes the directory on first
    mount, its sweep removes it once the volume is gone) and nothing to grow."""

    provisioner = pv.LOCAL_PATH_PROVISIONER

    async def create(self, claim: Object, storage_class: Object, node: Object | None) -> Object:
        if node is None:
            raise ProvisioningFailed(
                "configuration error, no node was specified: the class of a local-path "
                "volume needs volumeBindingMode WaitForFirstConsumer"
            )
        modes = set((claim.get("spec") or {}).get("accessModes") or [])
        if modes - {"ReadWriteOnce", "ReadWriteOncePod"}:
            raise ProvisioningFailed(
                f"NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes, "
                f"not {', '.join(sorted(modes))}"
            )
        node_name = meta.name_of(node)
        wanted, disk = pv.requested_storage(claim), node_disk(node)
        if wanted > disk:
            raise ProvisioningFailed(
                f"requested {wanted} bytes, more than the {disk} bytes of node {node_name}'s disk"
            )
        path = pv.local_path_directory(f"pvc-{meta.uid_of(claim)}", claim)
        return {
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            **node_affinity(**{"kubernetes.io/hostname": node_name}),
        }

    async def delete(self, volume: Object) -> None:
        return None

    async def expand(self, volume: Object, size: str) -> None:
        return None  # a directory has no size to grow


class LocalPathProvisioner(VolumeProvisioner):
    name: ClassVar[str] = "local-path-provisioner"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, LocalPathVolumes(), informers, workers=workers)
