"""The Deployment controller: one ReplicaSet per pod template, rolled from old to new by
the deployment's strategy (RollingUpdate with maxSurge and maxUnavailable, or Recreate),
with the revision annotations and conditions `kubectl rollout status|history|undo|restart`
read."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.pod_owner import (
    OwnedPods,
    apps_path,
    namespace_index,
    patch_status,
    pod_informer,
)
from ku7s.api import meta
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("deployment-controller")

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _same_template(rs: Object, deployment: Object, template: Object) -> bool:
    """Whether the ReplicaSet is the deployment's own, for this template (hash aside)."""
    owners = rs["metadata"].get("ownerReferences") or []
    ours = any(o.get("uid") == meta.uid_of(deployment) and o.get("controller") for o in owners)
    return ours and without_hash((rs.get("spec") or {}).get("template") or {}) == template


def template_hash(template: Object, collisions: int) -> str:
    """A short, stable name part for a pod template (upstream uses an FNV hash; the value
    only has to be stable and label-safe)."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":")) + f"/{collisions}"
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        number, digit = divmod(number, len(_ALPHABET))
        out.append(_ALPHABET[digit])
    return "".join(out)


def _pruned(value: Any) -> Any:
    """Nulls dropped: a template read back as {"creationTimestamp": null} (as kubectl
    sends it on undo) is the same template without it."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def without_hash(template: Object) -> Object:
    """The template as it is compared between a deployment and its ReplicaSets."""
    stripped: Object = _pruned(template)
    labels = (stripped.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return stripped


def resolve(value: int | str | None, total: int, *, round_up: bool, default: str) -> int:
    """maxSurge / maxUnavailable: a count, or a percentage of the replicas."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text)


def revision(rs: Object) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _condition(status: Object, kind: str) -> Object | None:
    for c in status.get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return None


def set_condition(conditions: list[Object], new: Object, now: str) -> list[Object]:
    """Replace the condition of new's type; lastTransitionTime moves only on a status
    change, lastUpdateTime on any change."""
    old = next((c for c in conditions if c.get("type") == new["type"]), None)
    if old is not None and all(old.get(k) == new.get(k) for k in ("status", "reason", "message")):
        return conditions
    new = {**new, "lastUpdateTime": now}
    new["lastTransitionTime"] = (
        old["lastTransitionTime"]
        if old is not None and old.get("status") == new["status"] and old.get("lastTransitionTime")
        else now
    )
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


class DeploymentController(Controller):
    name: ClassVar[str] = "deployment"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 4
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.deployments = self.factory.informer("/apis/apps/v1/deployments")
        self.deployments.add_index("namespace", namespace_index)
        self.replicasets = self.factory.informer("/apis/apps/v1/replicasets")
        self.replicasets.add_index("controller", pc.controller_uid)
        self.replicasets.add_index("namespace", namespace_index)
        self.pods = pod_informer(self.factory)
        self.deployments.on_change(lambda _, d: self.queue.add(object_key(d)))
        self.replicasets.on_change(self._rs_changed)
        self.pods.on_change(self._pod_changed)
        self.informers = [self.deployments, self.replicasets, self.pods]
        self._owned = OwnedReplicaSets(client, self.replicasets)
        self._events = EventRecorder(client, "deployment-controller")

    def _rs_changed(self, _: str, rs: Object) -> None:
        ref = pc.controller_of(rs)
        if ref is not None and ref.get("kind") == "Deployment":
            self.queue.add(f"{meta.namespace_of(rs)}/{ref.get('name')}")
            return
        for d in self.deployments.by_index("namespace", meta.namespace_of(rs)):
            selector = (d.get("spec") or {}).get("selector")
            if pc.selector_matches(selector, meta.labels_of(rs)):
                self.queue.add(object_key(d))

    def _pod_changed(self, event: str, pod: Object) -> None:
        """A Recreate rollout waits for the old pods to be gone."""
        if event != "DELETED":
            return
        ref = pc.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{meta.namespace_of(pod)}/{ref.get('name')}")
        owner = pc.controller_of(rs) if rs is not None else None
        if owner is not None and owner.get("kind") == "Deployment":
            self.queue.add(f"{meta.namespace_of(pod)}/{owner.get('name')}")

    async def reconcile(self, key: str) -> None:
        deployment = self.deployments.get(key)
        if not deployment or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec") or {}
        all_rs = await self._owned.claim(deployment, spec.get("selector"))
        template = spec.get("template") or {}
        new_rs = next(
            (
                rs
                for rs in sorted(all_rs, key=revision, reverse=True)
                if without_hash((rs.get("spec") or {}).get("template") or {})
                == without_hash(template)
            ),
            None,
        )
        old = [rs for rs in all_rs if rs is not new_rs]
        if spec.get("paused"):
            await self._write_status(deployment, new_rs, old)
            return
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            new_rs = await self._recreate(deployment, new_rs, old)
        else:
            new_rs = await self._rolling(deployment, new_rs, old)
        await self._clean_up(deployment, [rs for rs in all_rs if rs is not new_rs])
        await self._write_status(deployment, new_rs, [rs for rs in all_rs if rs is not new_rs])

    # -- strategies --

    async def _rolling(
        self, deployment: Object, new_rs: Object | None, old: list[Object]
    ) -> Object | None:
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
        unavailable = resolve(
            rolling.get("maxUnavailable"), replicas, round_up=False, default="25%"
        )
        if surge == 0 and unavailable == 0:
            unavailable = 1
        active_old = [rs for rs in old if _replicas(rs) > 0]
        total = sum(_replicas(rs) for rs in old) + (_replicas(new_rs) if new_rs else 0)
        if new_rs is None:
            room = replicas + surge - total if active_old else replicas
            new_rs = await self._create_rs(deployment, old, max(0, min(replicas, room)))
        elif not active_old:
            if _replicas(new_rs) != replicas:
                new_rs = await self._scale(new_rs, replicas, deployment)
        else:
            current = _replicas(new_rs)
            if current > replicas:
                new_rs = await self._scale(new_rs, replicas, deployment)
            elif current < replicas:
                grow = min(replicas + surge - total, replicas - current)
                if grow > 0:
                    new_rs = await self._scale(new_rs, current + grow, deployment)
        if new_rs is None or not active_old:
            return new_rs
        # Scale the old ReplicaSets down as far as availability allows: first the pods
        # that are not available anyway, then available ones down to the minimum.
        min_available = replicas - unavailable
        all_rs = [*active_old, new_rs]
        available = sum(_available(rs) for rs in all_rs)
        removable = max(0, available - min_available)
        for rs in sorted(active_old, key=lambda r: r["metadata"].get("creationTimestamp", "")):
            unhealthy = _replicas(rs) - _available(rs)
            take = unhealthy + min(removable, _available(rs))
            take = min(take, _replicas(rs))
            if take <= 0:
                continue
            removable -= max(0, take - unhealthy)
            await self._scale(rs, _replicas(rs) - take, deployment)
        return new_rs

    async def _recreate(
        self, deployment: Object, new_rs: Object | None, old: list[Object]
    ) -> Object | None:
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        for rs in old:
            if _replicas(rs) > 0:
                await self._scale(rs, 0, deployment)
        for rs in old:
            if any(
                not pc.is_finished(p) for p in self.pods.by_index("controller", meta.uid_of(rs))
            ):
                return new_rs  # the old pods must be gone before new ones start
        if new_rs is None:
            return await self._create_rs(deployment, old, replicas)
        if _replicas(new_rs) != replicas:
            return await self._scale(new_rs, replicas, deployment)
        return new_rs

    # -- ReplicaSets --

    async def _create_rs(self, deployment: Object, old: list[Object], replicas: int) -> Object:
        spec = deployment.get("spec") or {}
        status = deployment.get("status") or {}
        collisions = int(status.get("collisionCount", 0))
        template = without_hash(spec.get("template") or {})
        next_revision = max((revision(rs) for rs in old), default=0) + 1
        while True:
            digest = template_hash(template, collisions)
            rs_template = meta.clone(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = digest
            selector = meta.clone(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})[HASH_LABEL] = digest
            annotations = {
                k: v
                for k, v in (deployment["metadata"].get("annotations") or {}).items()
                if k not in _NOT_COPIED
            }
            annotations[REVISION] = str(next_revision)
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{meta.name_of(deployment)}-{digest}",
                    "namespace": meta.namespace_of(deployment),
                    "labels": dict(rs_template["metadata"]["labels"]),
                    "annotations": {**annotations, **self._size_annotations(deployment)},
                    "ownerReferences": [pc.controller_ref(deployment)],
                },
                "spec": {
                    "replicas": replicas,
                    "minReadySeconds": int(spec.get("minReadySeconds", 0)),
                    "selector": selector,
                    "template": rs_template,
                },
            }
            namespace = meta.namespace_of(deployment)
            try:
                created = await self.client.create(
                    f"/apis/apps/v1/namespaces/{namespace}/replicasets", rs
                )
            except APIStatusError as e:
                if e.code != 409:
                    raise
                existing = await self._existing_rs(namespace, meta.name_of(rs))
                if existing is not None and _same_template(existing, deployment, template):
                    # Ours already, made by an earlier pass this cache has not shown yet.
                    return existing
                collisions += 1  # a ReplicaSet of that name with another template
                await patch_status(
                    self.client,
                    apps_path("deployments", deployment),
                    status,
                    {"collisionCount": collisions},
                )
                continue
            self._events.record(
                deployment,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {meta.name_of(created)} from 0 to {replicas}",
            )
            await self._annotate_revision(deployment, next_revision)
            return created

    async def _existing_rs(self, namespace: str, name: str) -> Object | None:
        try:
            found: Object = await self.client.get(
                f"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}"
            )
        except APIStatusError as e:
            if e.code != 404:
                raise
            return None
        return found

    def _size_annotations(self, deployment: Object) -> dict[str, str]:
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
        return {DESIRED_REPLICAS: str(replicas), MAX_REPLICAS: str(replicas + surge)}

    async def _scale(self, rs: Object, replicas: int, deployment: Object) -> Object:
        before = _replicas(rs)
        patch: Object = {
            "metadata": {"annotations": self._size_annotations(deployment)},
            "spec": {"replicas": replicas},
        }
        if replicas > before and self._is_current(rs, deployment):
            # An old template made current again (rollout undo) takes the next revision.
            patch["metadata"]["annotations"][REVISION] = str(self._next_revision(rs, deployment))
        scaled = await self.client.patch(apps_path("replicasets", rs), patch)
        direction = "up" if replicas > before else "down"
        self._events.record(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {meta.name_of(rs)} from {before} to {replicas}",
        )
        if REVISION in patch["metadata"]["annotations"]:
            await self._annotate_revision(deployment, revision(scaled))
        return scaled

    def _is_current(self, rs: Object, deployment: Object) -> bool:
        template = (deployment.get("spec") or {}).get("template") or {}
        return without_hash((rs.get("spec") or {}).get("template") or {}) == without_hash(template)

    def _next_revision(self, rs: Object, deployment: Object) -> int:
        siblings = self.replicasets.by_index("controller", meta.uid_of(deployment))
        highest = max((revision(r) for r in siblings), default=0)
        return revision(rs) if revision(rs) == highest else highest + 1

    async def _annotate_revision(self, deployment: Object, number: int) -> None:
        annotations = deployment["metadata"].get("annotations") or {}
        if annotations.get(REVISION) == str(number):
            return
        try:
            await self.client.patch(
                apps_path("deployments", deployment),
                {"metadata": {"annotations": {REVISION: str(number)}}},
            )
        except APIStatusError as e:
            if e.code != 404:
                raise

    async def _clean_up(self, deployment: Object, old: list[Object]) -> None:
        """Keep revisionHistoryLimit old ReplicaSets (the empty ones beyond go)."""
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        empty = [
            rs for rs in old if _replicas(rs) == 0 and not (rs.get("status") or {}).get("replicas")
        ]
        empty.sort(key=revision)
        for rs in empty[: max(0, len(old) - limit)]:
            try:
                await self.client.delete(apps_path("replicasets", rs))
            except APIStatusError as e:
                if e.code != 404:
                    raise

    # -- status --

    async def _write_status(
        self, deployment: Object, new_rs: Object | None, old: list[Object]
    ) -> None:
        spec = deployment.get("spec") or {}
        old_status = deployment.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        all_rs = [*old, *([new_rs] if new_rs else [])]
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        unavailable = resolve(
            rolling.get("maxUnavailable"), replicas, round_up=False, default="25%"
        )
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            unavailable = 0
        available = sum(_available(rs) for rs in all_rs)
        updated = int(((new_rs or {}).get("status") or {}).get("replicas", 0))
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in all_rs)
        now = meta.now_rfc3339()
        conditions = [dict(c) for c in old_status.get("conditions") or []]
        if available >= replicas - unavailable:
            available_condition = {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        else:
            available_condition = {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            }
        conditions = set_condition(conditions, available_condition, now)
        progressing = self._progressing(deployment, new_rs, updated, total, available)
        moved = (updated, available, total) != (
            old_status.get("updatedReplicas", 0),
            old_status.get("availableReplicas", 0),
            old_status.get("replicas", 0),
        )
        if moved:  # progress restarts the deadline
            for condition in conditions:
                if condition.get("type") == "Progressing":
                    condition["lastUpdateTime"] = now
        conditions = set_condition(conditions, progressing, now)
        conditions = self._check_deadline(deployment, new_rs, conditions, now)
        status: Object = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": sum(
                int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in all_rs
            ),
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
            "conditions": conditions,
        }
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        await patch_status(self.client, apps_path("deployments", deployment), old_status, status)
        if status["unavailableReplicas"] and self._deadline(deployment) is not None:
            self.queue.add_after(object_key(deployment), 5.0)

    def _progressing(
        self, deployment: Object, new_rs: Object | None, updated: int, total: int, available: int
    ) -> Object:
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        if spec.get("paused"):
            return {
                "type": "Progressing",
                "status": "Unknown",
                "reason": "DeploymentPaused",
                "message": "Deployment is paused",
            }
        name = meta.name_of(new_rs) if new_rs else ""
        if (
            new_rs is not None
            and updated == replicas
            and total == replicas
            and available >= replicas
        ):
            return {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}" has successfully progressed.',
            }
        current = _condition(deployment.get("status") or {}, "Progressing")
        if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
            return current
        return {
            "type": "Progressing",
            "status": "True",
            "reason": "ReplicaSetUpdated",
            "message": f'ReplicaSet "{name}" is progressing.',
        }

    def _deadline(self, deployment: Object) -> int | None:
        value = (deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
        return None if value is None else int(value)

    def _check_deadline(
        self, deployment: Object, new_rs: Object | None, conditions: list[Object], now: str
    ) -> list[Object]:
        deadline = self._deadline(deployment)
        progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
        if (
            deadline is None
            or progressing is None
            or progressing.get("reason") != "ReplicaSetUpdated"
        ):
            return conditions
        since = meta.parse_time(progressing.get("lastUpdateTime") or now)
        if (datetime.datetime.now(datetime.UTC) - since).total_seconds() < deadline:
            return conditions
        return set_condition(
            conditions,
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{meta.name_of(new_rs or {})}" has timed out progressing.',
            },
            now,
        )


def _replicas(rs: Object | None) -> int:
    return int(((rs or {}).get("spec") or {}).get("replicas", 1))


def _available(rs: Object) -> int:
    return int((rs.get("status") or {}).get("availableReplicas", 0))


class OwnedReplicaSets(OwnedPods):
    """Claiming works the same for a deployment's ReplicaSets as for a ReplicaSet's pods."""

    def __init__(self, client: APIClient, replicasets: Any) -> None:
        super().__init__(client, replicasets)

    @staticmethod
    def _path(obj: Object) -> str:
        return apps_path("replicasets", obj)
