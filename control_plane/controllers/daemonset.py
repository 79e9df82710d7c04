"""The DaemonSet controller: one pod on every node the template may run on (node selector,
required node affinity, taints), also on nodes that join later; pods of an old template
are replaced a few at a time (updateStrategy RollingUpdate, maxUnavailable)."""

from __future__ import annotations

import datetime
import logging
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.history import REVISION_LABEL, History, revision_informer
from control_plane.controllers.pod_owner import (
    PodOwnerController,
    apps_path,
    patch_status,
)
from ku7s.api import meta
from ku7s.api.node_selection import selects_node
from ku7s.api.taints import tolerates
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient

Object = dict[str, Any]

log = logging.getLogger("daemonset-controller")

#: Tolerations every daemon pod gets, as upstream adds them.
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def should_run(template: Object, node: Object) -> bool:
    """Whether a daemon pod of the template belongs on the node."""
    spec = template.get("spec") or {}
    if not selects_node(spec, node):
        return False
    tolerations = [*(spec.get("tolerations") or []), *DAEMON_TOLERATIONS]
    return not any(
        taint.get("effect") in ("NoSchedule", "NoExecute")
        and not any(tolerates(t, taint) for t in tolerations)
        for taint in (node.get("spec") or {}).get("taints") or []
    )


def daemon_pod(ds: Object, node_name: str, revision: str) -> Object:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = pc.pod_from_template(template, ds, extra_labels={REVISION_LABEL: revision})
    spec = pod["spec"]
    tolerations = list(spec.get("tolerations") or [])
    for toleration in DAEMON_TOLERATIONS:
        if toleration not in tolerations:
            tolerations.append(toleration)
    spec["tolerations"] = tolerations
    # The scheduler places the pod, held to its node by affinity (as upstream does).
    spec.setdefault("affinity", {})["nodeAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
            ]
        }
    }
    return pod


def pod_node(pod: Object) -> str:
    """The node a daemon pod is for: where it runs, or what its affinity names."""
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        return str(node)
    terms = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution", {}
    ).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return ""


class DaemonSetController(PodOwnerController):
    name: ClassVar[str] = "daemonset"
    owner_kind: ClassVar[str] = "DaemonSet"
    owner_path: ClassVar[str] = "/apis/apps/v1/daemonsets"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.daemonsets = self.owners
        self.nodes = self.factory.informer("/api/v1/nodes")
        self.nodes.on_change(lambda *_: self._all())
        self.revisions = revision_informer(self.factory)
        self.informers += [self.nodes, self.revisions]
        self._history = History(client, self.revisions)

    def _all(self) -> None:
        for ds in self.daemonsets.list():
            self.queue.add(object_key(ds))

    async def reconcile(self, key: str) -> None:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        owned = await self._owned.claim(ds, spec.get("selector"))
        in_use = {meta.labels_of(p).get(REVISION_LABEL, "") for p in owned}
        revision = await self._history.record(ds, in_use)
        by_node: dict[str, list[Object]] = {}
        for pod in owned:
            if not pc.is_terminating(pod):
                by_node.setdefault(pod_node(pod), []).append(pod)
        wanted = {meta.name_of(n) for n in self.nodes.list() if should_run(template, n)}
        create: list[Object] = []
        delete: list[Object] = []
        for node in wanted:
            pods = by_node.get(node, [])
            failed = [p for p in pods if pc.is_finished(p)]
            delete += failed
            running = [p for p in pods if not pc.is_finished(p)]
            if not running:
                create.append(daemon_pod(ds, node, revision))
            delete += sorted(running, key=pc.deletion_rank)[: max(0, len(running) - 1)]
        for node, pods in by_node.items():
            if node not in wanted:
                delete += pods
        delete += self._outdated(ds, revision, wanted, by_node)
        if self.expectations.satisfied(key) and not ds["metadata"].get("deletionTimestamp"):
            if delete:
                await self._scaler.delete(key, delete)
            elif create:
                await self._scaler.create(key, meta.namespace_of(ds), create)
        await self._write_status(ds, revision, wanted, by_node)

    def _outdated(
        self, ds: Object, revision: str, wanted: set[str], by_node: dict[str, list[Object]]
    ) -> list[Object]:
        """Pods of an old template to replace now, within maxUnavailable."""
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return []
        limit = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
        if isinstance(limit, str) and limit.endswith("%"):
            limit = max(1, len(wanted) * int(limit[:-1]) // 100)
        limit = int(limit)
        pods = [p for node in wanted for p in by_node.get(node, []) if not pc.is_finished(p)]
        unavailable = len(wanted) - sum(1 for p in pods if pc.is_ready(p))
        old = [p for p in pods if meta.labels_of(p).get(REVISION_LABEL) != revision]
        old.sort(key=lambda p: pc.is_ready(p))  # unready old pods first: they cost nothing
        chosen = []
        for pod in old:
            if not pc.is_ready(pod):
                chosen.append(pod)
            elif unavailable < limit:
                chosen.append(pod)
                unavailable += 1
        return chosen

    async def _write_status(
        self, ds: Object, revision: str, wanted: set[str], by_node: dict[str, list[Object]]
    ) -> None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds", 0))
        now = datetime.datetime.now(datetime.UTC)
        scheduled = [n for n in wanted if by_node.get(n)]
        pods = [p for n in wanted for p in by_node.get(n, [])[:1]]
        ready = [p for p in pods if pc.is_ready(p)]
        available = [p for p in ready if pc.is_available(p, min_ready, now)]
        updated = [p for p in pods if meta.labels_of(p).get(REVISION_LABEL) == revision]
        status = {
            "currentNumberScheduled": len(scheduled),
            "numberMisscheduled": sum(1 for n in by_node if n not in wanted),
            "desiredNumberScheduled": len(wanted),
            "numberReady": len(ready),
            "updatedNumberScheduled": len(updated),
            "numberAvailable": len(available),
            "numberUnavailable": len(wanted) - len(available),
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        await patch_status(self.client, apps_path("daemonsets", ds), ds.get("status") or {}, status)
        if len(available) < len(ready):
            self.queue.add_after(object_key(ds), 1.0)
