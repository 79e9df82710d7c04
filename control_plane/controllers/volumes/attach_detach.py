"""The attach/detach controller, for the mock cloud's disks (disk.ku7s.dev): a disk used by
a pod bound to a node gets a VolumeAttachment for that node, which the cloud's attacher
acts on; one no pod on the node needs any more loses it.

As upstream: a disk attaches to one node at a time, so a pod on another node waits (a
Multi-Attach event says why) until the first node lets it go. A pod still being deleted
keeps the disk on its node until its kubelet is done, except on a node marked out of
service (``node.kubernetes.io/out-of-service``): that node is known to be down, so its
disks are taken from it at once (upstream's non-graceful node shutdown)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.api.taints import out_of_service
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("attachdetach-controller")

ATTACHMENTS = "/apis/storage.k8s.io/v1/volumeattachments"
_BY_CLAIM = "attach-detach-pods-by-claim"
_BY_VOLUME = "attach-detach-attachments-by-volume"
_BY_NODE = "attach-detach-attachments-by-node"


def _pod_claims(pod: Object) -> list[str]:
    namespace = meta.namespace_of(pod)
    return [f"{namespace}/{name}" for name in pv.pod_claim_names(pod)]


def _attachment_volume(attachment: Object) -> list[str]:
    name = ((attachment.get("spec") or {}).get("source") or {}).get("persistentVolumeName")
    return [name] if name else []


def _attachment_node(attachment: Object) -> list[str]:
    node = (attachment.get("spec") or {}).get("nodeName")
    return [node] if node else []


def attachment_for(volume_name: str, handle: str, node: str) -> Object:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "VolumeAttachment",
        "metadata": {"name": pv.attachment_name(handle, pv.DISK_DRIVER, node)},
        "spec": {
            "attacher": pv.DISK_DRIVER,
            "nodeName": node,
            "source": {"persistentVolumeName": volume_name},
        },
    }


class AttachDetachController(Controller):
    name: ClassVar[str] = "attachdetach-controller"

    def __init__(self, client: APIClient, informers: InformerFactory | None = None) -> None:
        super().__init__(client, informers, workers=2)
        self.pods = self.factory.informer("/api/v1/pods")
        self.pods.add_index(_BY_CLAIM, _pod_claims)
        self.claims = self.factory.informer("/api/v1/persistentvolumeclaims")
        self.volumes = self.factory.informer("/api/v1/persistentvolumes")
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.attachments = self.factory.informer(ATTACHMENTS)
        self.attachments.add_index(_BY_VOLUME, _attachment_volume)
        self.attachments.add_index(_BY_NODE, _attachment_node)
        self.pods.on_change(lambda _, pod: self._claims_changed(*_pod_claims(pod)))
        self.claims.on_change(lambda _, claim: self._claims_changed(object_key(claim)))
        self.volumes.on_change(lambda _, volume: self.queue.add(meta.name_of(volume)))
        self.attachments.on_change(self._attachment_changed)
        self.nodes.on_change(self._node_changed)
        self.informers = [self.pods, self.claims, self.volumes, self.nodes, self.attachments]
        self._events = EventRecorder(client, "attachdetach-controller")

    def _claims_changed(self, *claim_keys: str) -> None:
        for key in claim_keys:
            claim = self.claims.get(key)
            volume = ((claim or {}).get("spec") or {}).get("volumeName")
            if volume:
                self.queue.add(volume)

    def _attachment_changed(self, _: str, attachment: Object) -> None:
        for volume in _attachment_volume(attachment):
            self.queue.add(volume)

    def _node_changed(self, _: str, node: Object) -> None:
        for attachment in self.attachments.by_index(_BY_NODE, meta.name_of(node)):
            for volume in _attachment_volume(attachment):
                self.queue.add(volume)

    def _needs(self, pod: Object) -> bool:
        """Whether the pod needs its disks on its node now."""
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return False
        node = self.nodes.get(node_name)
        if node is None:
            return False
        return not (pod["metadata"].get("deletionTimestamp") and out_of_service(node))

    async def reconcile(self, key: str) -> None:
        volume = self.volumes.get(key)
        handle = pv.disk_handle(volume) if volume else ""
        users: list[Object] = []
        if handle and volume is not None:
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            claim_key = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
            users = [p for p in self.pods.by_index(_BY_CLAIM, claim_key) if self._needs(p)]
        wanted = {p["spec"]["nodeName"] for p in users}
        existing = [
            a
            for a in self.attachments.by_index(_BY_VOLUME, key)
            if a["spec"].get("attacher") == pv.DISK_DRIVER
        ]
        for attachment in existing:
            if attachment["spec"]["nodeName"] not in wanted:
                await self._detach(attachment)
        held = {a["spec"]["nodeName"] for a in existing}
        for node in sorted(wanted - held):
            if held:
                for pod in users:
                    if pod["spec"]["nodeName"] == node:
                        self._events.record(
                            pod,
                            "Warning",
                            "FailedAttachVolume",
                            f'Multi-Attach error for volume "{key}" Volume is already '
                            f"exclusively attached to one node and can't be attached to another",
                        )
                continue
            log.info("attaching volume %s to node %s", key, node)
            try:
                await self.client.create(ATTACHMENTS, attachment_for(key, handle, node))
            except APIStatusError as e:
                if e.code != 409:
                    raise
            held.add(node)

    async def _detach(self, attachment: Object) -> None:
        if attachment["metadata"].get("deletionTimestamp"):
            return
        log.info(
            "detaching volume %s from node %s",
            _attachment_volume(attachment),
            attachment["spec"]["nodeName"],
        )
        try:
            await self.client.delete(f"{ATTACHMENTS}/{meta.name_of(attachment)}")
        except APIStatusError as e:
            if e.code != 404:
                raise
