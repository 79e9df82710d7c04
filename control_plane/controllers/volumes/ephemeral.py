"""The ephemeral volume controller: a pod's generic ephemeral volume (``ephemeral:
volumeClaimTemplate``) gets its claim, ``<pod>-<volume>``, owned by the pod, so it is
provisioned as any claim and deleted with the pod by the garbage collector."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import pod_informer
from ku7s.api import meta
from ku7s.api.persistent_volumes import ephemeral_claim_name
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]


def ephemeral_claims(pod: Object) -> list[Object]:
    """The claims a pod's ephemeral volumes need, as the controller creates them."""
    claims = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate")
        if not isinstance(template, dict):
            continue
        metadata = dict(template.get("metadata") or {})
        metadata.update(
            name=ephemeral_claim_name(pod, str(volume.get("name", ""))),
            namespace=meta.namespace_of(pod),
            ownerReferences=[pc.controller_ref({"apiVersion": "v1", "kind": "Pod", **pod})],
        )
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": metadata,
                "spec": meta.clone(template.get("spec") or {}),
            }
        )
    return claims


class EphemeralVolumeController(Controller):
    name: ClassVar[str] = "ephemeral-volume"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.pods = pod_informer(self.factory)
        self.claims = self.factory.informer("/api/v1/persistentvolumeclaims")
        self.pods.on_change(self._pod_changed)
        self.informers = [self.pods, self.claims]
        self._events = EventRecorder(client, "ephemeral_volume")

    def _pod_changed(self, event: str, pod: Object) -> None:
        if event != "DELETED" and any(
            "ephemeral" in v for v in (pod.get("spec") or {}).get("volumes") or []
        ):
            self.queue.add(object_key(pod))

    async def reconcile(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or pc.is_terminating(pod):
            return
        for claim in ephemeral_claims(pod):
            existing = self.claims.get(object_key(claim))
            if existing is not None:
                owners = [r.get("uid") for r in existing["metadata"].get("ownerReferences") or []]
                if meta.uid_of(pod) not in owners:
                    self._events.record(
                        pod, "Warning", "FailedBinding",
                        f"PVC {object_key(claim)} was not created for the pod",
                    )  # fmt: skip
                continue
            path = f"/api/v1/namespaces/{meta.namespace_of(pod)}/persistentvolumeclaims"
            try:
                await self.client.create(path, claim)
            except APIStatusError as e:
                if e.code != 409:
                    raise
