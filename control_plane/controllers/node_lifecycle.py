"""The node lifecycle controller: taints follow the Ready condition, pods leave tainted nodes.

- Ready False: node.kubernetes.io/not-ready (NoSchedule and NoExecute); Ready Unknown (the
  kubelet went quiet): node.kubernetes.io/unreachable; Ready True: neither.
- A pod on a node with a NoExecute taint it does not tolerate is evicted (deleted) at once;
  one that tolerates it for tolerationSeconds is evicted when they run out (the apiserver
  gives every pod such tolerations, tuned short in ku7s).
- Pods bound to a node that no longer exists are deleted outright (upstream's pod GC), as
  are pods being deleted on a NotReady node its admin marked out of service.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry

from control_plane.controllers import pod_control as pc
from control_plane.controllers.node_lifecycle_metrics import NodeCollectorMetrics
from ku7s.api import meta
from ku7s.api.taints import out_of_service, tolerates
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("node-lifecycle-controller")

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
_MANAGED = (NOT_READY, UNREACHABLE)


def node_name_index(pod: Object) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def wanted_taints(node: Object, now: str) -> list[Object]:
    """The node's taints with the condition taints as its Ready condition says."""
    ready = meta.condition(node, "Ready") or {}
    status = ready.get("status")
    key = None if status == "True" else UNREACHABLE if status == "Unknown" else NOT_READY
    current = list((node.get("spec") or {}).get("taints") or [])
    kept = [t for t in current if t.get("key") not in _MANAGED or t.get("key") == key]
    if key is None:
        return kept
    for effect in ("NoSchedule", "NoExecute"):
        if not any(t.get("key") == key and t.get("effect") == effect for t in kept):
            taint: Object = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = now
            kept.append(taint)
    return kept


def eviction_delay(pod: Object, taints: list[Object], now: datetime.datetime) -> float | None:
    """Seconds until the pod must go (0: now), or None when it may stay."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    delay: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        seconds = [t.get("tolerationSeconds") for t in matching]
        if any(s is None for s in seconds):
            continue  # tolerated for ever
        added = taint.get("timeAdded")
        since = (now - meta.parse_time(added)).total_seconds() if added else 0.0
        left = max(0.0, min(int(s) for s in seconds if s is not None) - since)
        delay = left if delay is None else min(delay, left)
    return delay


class NodeLifecycleController(Controller):
    name: ClassVar[str] = "node-lifecycle"

    def __init__(
        self,
        client: APIClient,
        informers: InformerFactory | None = None,
        *,
        workers: int = 2,
        metrics: NodeCollectorMetrics | None = None,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.metrics = metrics or NodeCollectorMetrics(CollectorRegistry())
        self.metrics.watch(self.nodes)
        self.pods = self.factory.informer("/api/v1/pods")
        self.pods.add_index("node", node_name_index)
        self.nodes.on_change(lambda _, node: self.queue.add(meta.name_of(node)))
        self.pods.on_change(self._pod_changed)
        self.informers = [self.nodes, self.pods]
        self._events = EventRecorder(client, "node-controller")

    def _pod_changed(self, event: str, pod: Object) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if event != "DELETED" and node:
            self.queue.add(node)

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            await self._delete_orphaned_pods(key)
            return
        now = datetime.datetime.now(datetime.UTC)
        taints = wanted_taints(node, meta.now_rfc3339())
        if taints != ((node.get("spec") or {}).get("taints") or []):
            try:
                node = await self.client.patch(f"/api/v1/nodes/{key}", {"spec": {"taints": taints}})
            except APIStatusError as e:
                if e.code == 404:
                    return
                raise
        next_check: float | None = None
        down = out_of_service(node) and not meta.is_ready(node)
        going: list[Awaitable[None]] = []
        for pod in self.pods.by_index("node", key):
            if down and pod["metadata"].get("deletionTimestamp"):
                going.append(self._force_delete(pod, f"out-of-service node {key}"))
                continue
            if not pc.is_active(pod):
                continue
            delay = eviction_delay(pod, taints, now)
            if delay is None:
                continue
            if delay > 0:
                next_check = delay if next_check is None else min(next_check, delay)
                continue
            going.append(self._evict(pod))
        # A lost node's pods leave together, not one round trip after another.
        for failure in await asyncio.gather(*going, return_exceptions=True):
            if isinstance(failure, BaseException):
                raise failure
        if next_check is not None:
            self.queue.add_after(key, next_check + 0.05)

    async def _evict(self, pod: Object) -> None:
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        log.info("evicting pod %s/%s from node %s", namespace, name, pod["spec"]["nodeName"])
        self._events.record(
            pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {namespace}/{name}"
        )
        try:
            await self.client.delete(f"/api/v1/namespaces/{namespace}/pods/{name}")
        except APIStatusError as e:
            if e.code != 404:
                raise
            return
        self.metrics.evicted(self.nodes.get(pod["spec"]["nodeName"]))

    async def _delete_orphaned_pods(self, node_name: str) -> None:
        """The node is gone: nothing will ever stop its pods, so they go at once."""
        pods = self.pods.by_index("node", node_name)
        if not pods:
            return
        try:
            await self.client.get(f"/api/v1/nodes/{node_name}")
            return  # it exists; this informer has not seen it yet
        except APIStatusError as e:
            if e.code != 404:
                raise
        for pod in pods:
            await self._force_delete(pod, f"deleted node {node_name}")

    async def _force_delete(self, pod: Object, where: str) -> None:
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        log.info("deleting pod %s/%s of %s", namespace, name, where)
        try:
            await self.client.delete(
                f"/api/v1/namespaces/{namespace}/pods/{name}", {"gracePeriodSeconds": "0"}
            )
        except APIStatusError as e:
            if e.code != 404:
                raise
