"""The resource quota controller: recounts what each ResourceQuota's namespace uses of
what the quota limits (pods and their compute requests and limits, object counts,
node ports, storage) and writes it to status.used, with status.hard copied from spec.
Admission charges new objects as they come; this catches up with deletions and with
creates that failed after being charged."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, ClassVar

from control_plane.controllers.pod_owner import namespace_index, pod_informer
from ku7s.api import meta
from ku7s.api.quota import format_quantity, quota_covers, usage
from ku7s.client.controller import Controller
from ku7s.client.informer import Informer, InformerFactory, object_key
from ku7s.client.rest import APIClient

Object = dict[str, Any]

log = logging.getLogger("resourcequota-controller")

#: Recount even without a change seen (kinds counted by listing rather than by watch).
RESYNC_SECONDS = 30.0

#: Kinds whose objects quotas count, by (plural, group): the collection's URL. The first
#: few are watched (shared with other controllers); the rest are listed when a quota asks.
WATCHED = {
    ("pods", ""): "/api/v1/pods",
    ("services", ""): "/api/v1/services",
    ("configmaps", ""): "/api/v1/configmaps",
    ("secrets", ""): "/api/v1/secrets",
}
LISTED = {
    ("persistentvolumeclaims", ""): "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    ("replicationcontrollers", ""): "/api/v1/namespaces/{ns}/replicationcontrollers",
    ("resourcequotas", ""): "/api/v1/namespaces/{ns}/resourcequotas",
    ("deployments", "apps"): "/apis/apps/v1/namespaces/{ns}/deployments",
    ("replicasets", "apps"): "/apis/apps/v1/namespaces/{ns}/replicasets",
    ("statefulsets", "apps"): "/apis/apps/v1/namespaces/{ns}/statefulsets",
    ("daemonsets", "apps"): "/apis/apps/v1/namespaces/{ns}/daemonsets",
    ("jobs", "batch"): "/apis/batch/v1/namespaces/{ns}/jobs",
    ("cronjobs", "batch"): "/apis/batch/v1/namespaces/{ns}/cronjobs",
    (
        "horizontalpodautoscalers",
        "autoscaling",
    ): "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    ("ingresses", "networking.k8s.io"): "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    ("poddisruptionbudgets", "policy"): "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
}
_LEGACY = {
    "pods": ("pods", ""),
    "services": ("services", ""),
    "services.nodeports": ("services", ""),
    "services.loadbalancers": ("services", ""),
    "configmaps": ("configmaps", ""),
    "secrets": ("secrets", ""),
    "persistentvolumeclaims": ("persistentvolumeclaims", ""),
    "requests.storage": ("persistentvolumeclaims", ""),
    "replicationcontrollers": ("replicationcontrollers", ""),
    "resourcequotas": ("resourcequotas", ""),
}


def counted_kind(resource: str) -> tuple[str, str] | None:
    """Which kind's objects a quota's resource name counts."""
    if resource in _LEGACY:
        return _LEGACY[resource]
    if resource.startswith("count/"):
        plural, _, group = resource.removeprefix("count/").partition(".")
        return plural, group
    if resource in ("cpu", "memory", "ephemeral-storage") or resource.partition(".")[0] in (
        "requests",
        "limits",
    ):
        return "pods", ""
    return None


def _replacing(old: Object | None, new: Object) -> Object:
    """A merge patch turning map old into new (keys no longer there are nulled)."""
    return {**{k: None for k in old or {} if k not in new}, **new}


class ResourceQuotaController(Controller):
    name: ClassVar[str] = "resourcequota"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.quotas = self.factory.informer("/api/v1/resourcequotas")
        self.quotas.add_index("namespace", namespace_index)
        self.watched: dict[tuple[str, str], Informer] = {("pods", ""): pod_informer(self.factory)}
        for key, path in WATCHED.items():
            if key not in self.watched:
                self.watched[key] = self.factory.informer(path)
                self.watched[key].add_index("namespace", namespace_index)
        self.quotas.on_change(self._quota_changed)
        for (plural, _), informer in self.watched.items():
            informer.on_change(self._pod_released if plural == "pods" else self._released)
        self.informers = [self.quotas, *self.watched.values()]

    def _quota_changed(self, event: str, quota: Object) -> None:
        """A new quota, or new limits; a status write (admission charging) is no news."""
        hard = (quota.get("spec") or {}).get("hard")
        if event == "ADDED" or hard != (quota.get("status") or {}).get("hard"):
            self.queue.add(object_key(quota))

    def _released(self, event: str, obj: Object) -> None:
        """What gives usage back (upstream's replenishment): an object deleted. What takes
        usage was charged by admission already."""
        if event == "DELETED":
            self._namespace_changed(meta.namespace_of(obj))

    def _pod_released(self, event: str, pod: Object) -> None:
        """A pod deleted, or finished (a finished pod uses nothing)."""
        if event == "DELETED" or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._namespace_changed(meta.namespace_of(pod))

    def _namespace_changed(self, namespace: str) -> None:
        for quota in self.quotas.by_index("namespace", namespace):
            self.queue.add(object_key(quota))

    async def reconcile(self, key: str) -> None:
        quota = self.quotas.get(key)
        if quota is None:
            return
        namespace = meta.namespace_of(quota)
        hard = (quota.get("spec") or {}).get("hard") or {}
        kinds = {k for k in (counted_kind(r) for r in hard) if k is not None}
        used: dict[str, Decimal] = {r: Decimal(0) for r in hard}
        for plural, group in sorted(kinds):
            for obj in await self._objects(plural, group, namespace):
                if not quota_covers(quota, plural, group, obj):
                    continue
                for resource, value in usage(plural, group, obj).items():
                    if resource in used:
                        used[resource] += value
        status = {"hard": hard, "used": {r: format_quantity(r, v) for r, v in used.items()}}
        old = quota.get("status") or {}
        if old.get("hard") != status["hard"] or old.get("used") != status["used"]:
            path = f"/api/v1/namespaces/{namespace}/resourcequotas/{meta.name_of(quota)}/status"
            patch = {
                "metadata": {"resourceVersion": meta.resource_version(quota)},
                "status": status,
            }
            await self.client.patch(path, patch)  # a conflict (admission charged) retries
        self.queue.add_after(key, RESYNC_SECONDS)

    async def _objects(self, plural: str, group: str, namespace: str) -> list[Object]:
        informer = self.watched.get((plural, group))
        if informer is not None:
            return informer.by_index("namespace", namespace)
        path = LISTED.get((plural, group))
        if path is None:
            return []
        return (await self.client.get(path.format(ns=namespace))).get("items") or []
