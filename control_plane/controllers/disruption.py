"""The disruption controller: keeps each PodDisruptionBudget's status (how many of its pods
are healthy, how many must be, how many may go now), which the eviction subresource
checks and decrements. Evictions it has not seen through yet (``disruptedPods``) do not
count as healthy until the pod is gone or two minutes have passed."""

from __future__ import annotations

import datetime
import logging
import math
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import namespace_index, pod_informer
from ku7s.api import meta
from ku7s.api.disruption_budgets import budget_selects
from ku7s.client.controller import Controller
from ku7s.client.informer import Informer, InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("disruption-controller")

#: How long an eviction the controller has not seen completed keeps its pod unhealthy.
DELETION_TIMEOUT = 120.0

#: Controllers whose scale gives the expected pod count: kind -> collection.
SCALABLE = {
    "Deployment": "/apis/apps/v1/deployments",
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "StatefulSet": "/apis/apps/v1/statefulsets",
    "ReplicationController": "/api/v1/replicationcontrollers",
}


class SyncFailed(Exception):
    """The budget's expected pods cannot be known (a pod's controller has no scale)."""


def scaled(value: int | str, total: int, *, round_up: bool) -> int:
    """An IntOrString against a total, as upstream's GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    share = int(value.rstrip("%")) * total / 100
    return math.ceil(share) if round_up else math.floor(share)


class DisruptionController(Controller):
    name: ClassVar[str] = "disruption"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.budgets = self.factory.informer("/apis/policy/v1/poddisruptionbudgets")
        self.budgets.add_index("namespace", namespace_index)
        self.pods = pod_informer(self.factory)
        self.scalables: dict[str, Informer] = {
            kind: self.factory.informer(path) for kind, path in SCALABLE.items()
        }
        self.budgets.on_change(lambda _, budget: self.queue.add(object_key(budget)))
        self.pods.on_change(self._pod_changed)
        for informer in self.scalables.values():
            informer.on_change(lambda _, owner: self._namespace_changed(meta.namespace_of(owner)))
        self.informers = [self.budgets, self.pods, *self.scalables.values()]

    def _pod_changed(self, _: str, pod: Object) -> None:
        for budget in self.budgets.by_index("namespace", meta.namespace_of(pod)):
            if budget_selects(budget, pod):
                self.queue.add(object_key(budget))

    def _namespace_changed(self, namespace: str) -> None:
        for budget in self.budgets.by_index("namespace", namespace):
            self.queue.add(object_key(budget))

    async def reconcile(self, key: str) -> None:
        budget = self.budgets.get(key)
        if budget is None:
            return
        namespace = meta.namespace_of(budget)
        pods = [p for p in self.pods.by_index("namespace", namespace) if budget_selects(budget, p)]
        now = datetime.datetime.now(datetime.UTC)
        disrupted, recheck = self._recent_disruptions(budget, pods, now)
        healthy = sum(
            1
            for p in pods
            if not pc.is_terminating(p) and pc.is_ready(p) and meta.name_of(p) not in disrupted
        )
        try:
            expected, desired = self._expected_and_desired(budget, pods)
        except SyncFailed as e:
            await self._write(budget, 0, 0, healthy, disrupted, ("False", "SyncFailed", str(e)))
            return
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        reason = (
            ("True", "SufficientPods", "") if allowed > 0 else ("False", "InsufficientPods", "")
        )
        await self._write(budget, expected, desired, healthy, disrupted, reason, allowed)
        if recheck is not None:
            self.queue.add_after(key, recheck)

    @staticmethod
    def _recent_disruptions(
        budget: Object, pods: list[Object], now: datetime.datetime
    ) -> tuple[dict[str, str], float | None]:
        """The evictions still in flight, and when the oldest of them expires."""
        by_name = {meta.name_of(p): p for p in pods}
        kept: dict[str, str] = {}
        soonest: float | None = None
        for name, when in ((budget.get("status") or {}).get("disruptedPods") or {}).items():
            pod = by_name.get(name)
            if pod is None or pc.is_terminating(pod):
                continue
            left = DELETION_TIMEOUT - (now - meta.parse_time(when)).total_seconds()
            if left <= 0:
                log.info("pod %s was expected to be deleted but was not", name)
                continue
            kept[name] = when
            soonest = left if soonest is None else min(soonest, left)
        return kept, soonest

    def _expected_and_desired(self, budget: Object, pods: list[Object]) -> tuple[int, int]:
        spec = budget.get("spec") or {}
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            expected = self._expected_from_controllers(pods)
            return expected, max(0, expected - scaled(max_unavailable, expected, round_up=True))
        if isinstance(min_available, int):
            return len(pods), min_available
        if isinstance(min_available, str):
            expected = self._expected_from_controllers(pods)
            return expected, scaled(min_available, expected, round_up=True)
        return len(pods), 0

    def _expected_from_controllers(self, pods: list[Object]) -> int:
        """The sum of the replicas wanted by the controllers of the pods."""
        counted: dict[str, int] = {}
        for pod in pods:
            ref = pc.controller_of(pod)
            if ref is None:
                raise SyncFailed(f"found no controller ref for pod {meta.name_of(pod)!r}")
            owner = self._scalable(meta.namespace_of(pod), ref)
            if owner is None:
                raise SyncFailed(f"found no controllers for pod {meta.name_of(pod)!r}")
            counted[meta.uid_of(owner)] = int((owner.get("spec") or {}).get("replicas", 1))
        return sum(counted.values())

    def _scalable(self, namespace: str, ref: Object) -> Object | None:
        """The controller whose scale counts: a ReplicaSet's Deployment if it has one."""
        informer = self.scalables.get(str(ref.get("kind")))
        if informer is None:
            return None
        owner = informer.get(f"{namespace}/{ref.get('name')}")
        if owner is None or meta.uid_of(owner) != ref.get("uid"):
            return None
        if ref.get("kind") == "ReplicaSet":
            parent = pc.controller_of(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                return self._scalable(namespace, parent) or owner
        return owner

    async def _write(
        self,
        budget: Object,
        expected: int,
        desired: int,
        healthy: int,
        disrupted: dict[str, str],
        condition: tuple[str, str, str],
        allowed: int = 0,
    ) -> None:
        old = budget.get("status") or {}
        status, reason, message = condition
        previous = meta.condition(budget, "DisruptionAllowed") or {}
        changed_at = (
            previous.get("lastTransitionTime")
            if previous.get("status") == status and previous.get("reason") == reason
            else meta.now_rfc3339()
        )
        forgotten = {name: None for name in old.get("disruptedPods") or {} if name not in disrupted}
        new: Object = {
            "observedGeneration": budget["metadata"].get("generation", 1),
            "disruptedPods": {**forgotten, **disrupted} or None,
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "observedGeneration": budget["metadata"].get("generation", 1),
                    "lastTransitionTime": changed_at,
                }
            ],
        }
        if all(old.get(k) == v for k, v in new.items() if k != "disruptedPods") and (
            (old.get("disruptedPods") or {}) == disrupted
        ):
            return
        path = (
            f"/apis/policy/v1/namespaces/{meta.namespace_of(budget)}/poddisruptionbudgets/"
            f"{meta.name_of(budget)}/status"
        )
        # The version guards against an eviction that took a disruption meanwhile.
        patch = {"metadata": {"resourceVersion": meta.resource_version(budget)}, "status": new}
        try:
            await self.client.patch(path, patch)
        except APIStatusError as e:
            if e.code != 404:
                raise
