"""``drain``: a node taken out of service as an operator would (``kubectl drain``): cordoned,
then its pods evicted through the eviction API, so PodDisruptionBudgets decide what may go
and when. A pod a budget holds back is asked again every few seconds while the fault
lasts. DaemonSet pods, mirror pods and finished pods stay, as kubectl leaves them. The
revert uncordons the node (evicted pods are not brought back: their controllers have
replaced them elsewhere)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ku7s.api import meta
from ku7s.client.rest import APIClient, APIStatusError

log = logging.getLogger("ku7s.chaos")

DRAIN_KINDS = ("drain",)
#: How often a pod refused by its budget is asked for again (kubectl drain's pause).
RETRY_SECONDS = 5.0
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _stays(pod: dict[str, Any]) -> bool:
    """Pods a drain leaves where they are."""
    owners = pod["metadata"].get("ownerReferences") or []
    if any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners):
        return True
    if MIRROR_ANNOTATION in meta.annotations_of(pod) or pod["metadata"].get("deletionTimestamp"):
        return True
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


@dataclass
class DrainFault:
    kind: str
    client: APIClient
    targets: list[str] = field(default_factory=list)
    _retrying: asyncio.Task[None] | None = None
    #: Pods evicted so far, as namespace/name.
    evicted: list[str] = field(default_factory=list)

    @property
    def reversible(self) -> bool:
        return True

    def parameters(self) -> dict[str, Any]:
        return {}

    async def inject(self) -> None:
        for node in self.targets:
            await self._cordon(node, True)
        held = await self._evict_all()
        if held:
            self._retrying = asyncio.ensure_future(self._keep_evicting())

    async def revert(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        for node in self.targets:
            with contextlib.suppress(APIStatusError):  # a node removed meanwhile
                await self._cordon(node, False)

    async def _cordon(self, node: str, unschedulable: bool) -> None:
        await self.client.patch(
            f"/api/v1/nodes/{node}", {"spec": {"unschedulable": unschedulable or None}}
        )

    async def _keep_evicting(self) -> None:
        while await self._evict_all():
            await asyncio.sleep(RETRY_SECONDS)

    async def _evict_all(self) -> int:
        """Ask to evict every pod on the nodes; return how many their budgets held back."""
        held = 0
        for node in self.targets:
            listed = await self.client.get(
                "/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"}
            )
            for pod in listed.get("items") or []:
                if not _stays(pod) and not await self._evict(pod):
                    held += 1
        return held

    async def _evict(self, pod: dict[str, Any]) -> bool:
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        eviction = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        try:
            await self.client.create(
                f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", eviction
            )
        except APIStatusError as e:
            if e.code == 404:
                return True
            if e.code == 429:
                log.info("eviction of %s/%s refused by its disruption budget", namespace, name)
                return False
            raise
        self.evicted.append(f"{namespace}/{name}")
        return True
