"""VolumeBinding: a pod's claims must be usable on the node. A bound claim's volume must
allow the node (its node affinity); an unbound claim must be of a WaitForFirstConsumer
class and have, on that node, a free volume that fits or a provisioner that can make one
there. Before binding the pod, PreBind names the node on each such claim and waits until
the PV controller (or provisioner) has bound it, as upstream's plugin does."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from control_plane.scheduler.framework import NodeInfo, PodInfo
from control_plane.scheduler.volume_catalog import VolumeCatalog
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.rest import APIClient

#: How long PreBind waits for claims to be bound (upstream's bind timeout is 600 s).
BIND_TIMEOUT = 120.0


class BindingTimedOut(Exception):
    """The claims of a pod were not bound in time; the pod is scheduled again."""


class VolumeBinding:
    name: ClassVar[str] = "VolumeBinding"

    def __init__(self, catalog: VolumeCatalog) -> None:
        self._catalog = catalog

    def filter(self, pod: PodInfo, node: NodeInfo) -> list[str]:
        names = pv.pod_claim_names(pod.pod)
        if not names:
            return []
        namespace = meta.namespace_of(pod.pod)
        for name in names:
            claim = self._catalog.claim(namespace, name)
            if claim is None:
                return [f'persistentvolumeclaim "{name}" not found']
            if claim["metadata"].get("deletionTimestamp"):
                return [f'persistentvolumeclaim "{name}" is being deleted']
            why = self._claim_on_node(claim, node)
            if why:
                return [why]
        return []

    def _claim_on_node(self, claim: pv.Object, node: NodeInfo) -> str:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = self._catalog.volume(volume_name)
            if volume is None:
                return "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
            if not pv.volume_fits_node(volume, node.node):
                return "node(s) had volume node affinity conflict"
            return ""
        storage_class = self._catalog.storage_class(pv.claim_class(claim))
        if (storage_class or {}).get("volumeBindingMode") != pv.WAIT_FOR_FIRST_CONSUMER:
            return "pod has unbound immediate PersistentVolumeClaims"
        assert storage_class is not None
        if pv.best_volume(claim, self._catalog.all_volumes(), node.node) is not None:
            return ""
        provisioner = storage_class.get("provisioner")
        if provisioner == "kubernetes.io/no-provisioner":
            return "node(s) didn't find available persistent volumes to bind"
        if provisioner == pv.LOCAL_PATH_PROVISIONER:
            disk = node.allocatable.get("ephemeral-storage", Decimal(0))
            if pv.requested_storage(claim) > disk:
                return "node(s) did not have enough free storage"
        if provisioner == pv.DISK_DRIVER and not pv.disk_attachable(node.node):
            return "node(s) cannot attach ku7s-disk volumes"
        return ""

    async def pre_bind(self, client: APIClient, pod: pv.Object, node: str) -> None:
        """Name the node on each unbound claim, then wait for all to be bound."""
        namespace = meta.namespace_of(pod)
        waiting = []
        for name in pv.pod_claim_names(pod):
            claim = self._catalog.claim(namespace, name)
            if claim is None or (claim.get("spec") or {}).get("volumeName"):
                continue
            if meta.annotations_of(claim).get(pv.SELECTED_NODE) != node:
                await client.patch(
                    f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}",
                    {"metadata": {"annotations": {pv.SELECTED_NODE: node}}},
                )
            waiting.append(name)
        for name in waiting:
            if not await self._catalog.wait_bound(namespace, name, BIND_TIMEOUT):
                raise BindingTimedOut(
                    f'binding volumes: persistentvolumeclaim "{name}" was not bound in '
                    f"{BIND_TIMEOUT:.0f}s"
                )
