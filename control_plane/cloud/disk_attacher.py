"""The mock cloud's attacher (as a CSI driver's external-attacher): a VolumeAttachment for
disk.ku7s.dev attaches its disk to its node and says so in its status (attached, or the
cloud's attachError); its deletion detaches the disk before the finalizer goes. A node
that comes back Ready gets its disks back (a VM keeps its disks across a reboot)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from control_plane.cloud.docker_disks import DiskError, DockerDisks, disk_path
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.controller import Controller
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("disk-attacher")

FINALIZER = "external-attacher/disk-ku7s-dev"
ATTACHMENTS = "/apis/storage.k8s.io/v1/volumeattachments"
_BY_NODE = "disk-attachments-by-node"


def _node_of(attachment: Object) -> list[str]:
    node = (attachment.get("spec") or {}).get("nodeName")
    return [node] if node else []


class DiskAttacher(Controller):
    name: ClassVar[str] = "disk-attacher"

    def __init__(
        self, client: APIClient, disks: DockerDisks, informers: InformerFactory | None = None
    ) -> None:
        super().__init__(client, informers, workers=4)
        self._disks = disks
        self.attachments = self.factory.informer(ATTACHMENTS)
        self.attachments.add_index(_BY_NODE, _node_of)
        self.volumes = self.factory.informer("/api/v1/persistentvolumes")
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.attachments.on_change(lambda _, a: self.queue.add(meta.name_of(a)))
        self.nodes.on_change(self._node_changed)
        self.informers = [self.attachments, self.volumes, self.nodes]
        self._ready: dict[str, bool] = {}

    def _node_changed(self, event: str, node: Object) -> None:
        name = meta.name_of(node)
        ready = event != "DELETED" and meta.is_ready(node)
        was = self._ready.get(name)
        self._ready[name] = ready
        if ready and was is False:
            for attachment in self.attachments.by_index(_BY_NODE, name):
                self.queue.add(meta.name_of(attachment))

    async def reconcile(self, key: str) -> None:
        attachment = self.attachments.get(key)
        if attachment is None or attachment["spec"].get("attacher") != pv.DISK_DRIVER:
            return
        spec = attachment["spec"]
        node = spec["nodeName"]
        volume_name = (spec.get("source") or {}).get("persistentVolumeName", "")
        volume = self.volumes.get(volume_name)
        handle = pv.disk_handle(volume) if volume else self._disks.handle_for(volume_name)
        finalizers = list(attachment["metadata"].get("finalizers") or [])
        if attachment["metadata"].get("deletionTimestamp"):
            if FINALIZER in finalizers:
                await self._disks.detach(handle, node)
                log.info("detached disk %s from node %s", handle, node)
                finalizers.remove(FINALIZER)
                await self._patch(key, {"metadata": {"finalizers": finalizers}})
            return
        if FINALIZER not in finalizers:
            await self._patch(key, {"metadata": {"finalizers": [*finalizers, FINALIZER]}})
        status = attachment.get("status") or {}
        try:
            if not handle:
                raise DiskError(f'persistentvolume "{volume_name}" is not a ku7s-disk volume')
            await self._disks.attach(handle, node)
        except DiskError as e:
            # Written when it says something new: a write would wake this controller at
            # once, past the retry's back-off.
            if (status.get("attachError") or {}).get("message") != str(e):
                error = {"time": meta.now_rfc3339(), "message": str(e)}
                patch = {"status": {"attached": False, "attachError": error}}
                await self._patch(key, patch, True)
            raise
        if not status.get("attached") or status.get("attachError"):
            log.info("attached disk %s to node %s", handle, node)
            metadata = {"path": disk_path(handle)}
            await self._patch(
                key,
                {"status": {"attached": True, "attachmentMetadata": metadata, "attachError": None}},
                True,
            )

    async def _patch(self, name: str, patch: Object, status: bool = False) -> None:
        try:
            await self.client.patch(f"{ATTACHMENTS}/{name}{'/status' if status else ''}", patch)
        except APIStatusError as e:
            if e.code != 404:
                raise
