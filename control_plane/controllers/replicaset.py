"""The ReplicaSet controller: keep spec.replicas pods of the template running, adopting
matching orphans and releasing pods that no longer match; report how many are ready and
available."""

from __future__ import annotations

import datetime
import logging
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import PodOwnerController, apps_path, patch_status
from ku7s.api import meta
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient

Object = dict[str, Any]

log = logging.getLogger("replicaset-controller")


class ReplicaSetController(PodOwnerController):
    name: ClassVar[str] = "replicaset"
    owner_kind: ClassVar[str] = "ReplicaSet"
    owner_path: ClassVar[str] = "/apis/apps/v1/replicasets"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 4
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.replicasets = self.owners

    def selector(self, rs: Object) -> Object | None:
        """The pods' label selector, as a LabelSelector object."""
        return (rs.get("spec") or {}).get("selector")

    def status_path(self, rs: Object) -> str:
        return apps_path("replicasets", rs)

    def orphan_changed(self, pod: Object) -> None:
        """An orphan may be adopted by a ReplicaSet whose selector matches it."""
        for rs in self.replicasets.by_index("namespace", meta.namespace_of(pod)):
            if pc.selector_matches(self.selector(rs), meta.labels_of(pod)):
                self.queue.add(object_key(rs))

    async def reconcile(self, key: str) -> None:
        rs = self.replicasets.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        spec = rs.get("spec") or {}
        namespace = meta.namespace_of(rs)
        owned = await self._owned.claim(rs, self.selector(rs))
        active = [p for p in owned if pc.is_active(p)]
        wanted = int(spec.get("replicas", 1))
        if self.expectations.satisfied(key) and not rs["metadata"].get("deletionTimestamp"):
            if len(active) < wanted:
                template = spec.get("template") or {}
                pods = [pc.pod_from_template(template, rs) for _ in range(wanted - len(active))]
                await self._scaler.create(key, namespace, pods)
            elif len(active) > wanted:
                doomed = sorted(active, key=pc.deletion_rank)[: len(active) - wanted]
                await self._scaler.delete(key, doomed)
        await self._write_status(rs, active)

    async def _write_status(self, rs: Object, active: list[Object]) -> None:
        spec = rs.get("spec") or {}
        now = datetime.datetime.now(datetime.UTC)
        min_ready = int(spec.get("minReadySeconds", 0))
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        ready = [p for p in active if pc.is_ready(p)]
        available = [p for p in ready if pc.is_available(p, min_ready, now)]
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all(meta.labels_of(p).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        await patch_status(self.client, self.status_path(rs), rs.get("status") or {}, status)
        if len(available) < len(ready):
            wait = min(pc.ready_for(p, min_ready, now) for p in ready if p not in available)
            self.queue.add_after(object_key(rs), wait + 0.1)
