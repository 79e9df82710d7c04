"""The StatefulSet controller: pods with stable names (<set>-0, <set>-1, ...) and
hostnames under the set's service, started in order (each waits for the one before to be
running and ready, unless podManagementPolicy is Parallel), removed from the highest
ordinal down, and replaced one at a time, highest first, when the template changes."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from control_plane.controllers import pod_control as pc
from control_plane.controllers.history import REVISION_LABEL, History, revision_informer
from control_plane.controllers.pod_owner import (
    PodOwnerController,
    apps_path,
    patch_status,
)
from ku7s.api import meta
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("statefulset-controller")

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(set_name: str, pod: Object) -> int | None:
    match = re.fullmatch(re.escape(set_name) + r"-(\d+)", meta.name_of(pod))
    return int(match.group(1)) if match else None


def stateful_pod(sts: Object, index: int, revision: str) -> Object:
    spec = sts.get("spec") or {}
    name = f"{meta.name_of(sts)}-{index}"
    pod = pc.pod_from_template(
        spec.get("template") or {},
        sts,
        name=name,
        extra_labels={
            POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(index),
            REVISION_LABEL: revision,
        },
    )
    pod["spec"]["hostname"] = name
    if spec.get("serviceName"):
        pod["spec"]["subdomain"] = spec["serviceName"]
    claimed = {meta.name_of(t): claim_name(sts, t, index) for t in claim_templates(sts)}
    if claimed:
        volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in claimed]
        volumes += [
            {"name": volume, "persistentVolumeClaim": {"claimName": claim}}
            for volume, claim in claimed.items()
        ]
        pod["spec"]["volumes"] = volumes
    return pod


def claim_templates(sts: Object) -> list[Object]:
    return list((sts.get("spec") or {}).get("volumeClaimTemplates") or [])


def claim_name(sts: Object, template: Object, index: int) -> str:
    """<template>-<set>-<ordinal>, as upstream names a stateful pod's claims."""
    return f"{meta.name_of(template)}-{meta.name_of(sts)}-{index}"


def stateful_claim(sts: Object, template: Object, index: int) -> Object:
    """A claim of a set's pod from its template: the template's labels and the set's
    selector labels; owned by the set only when its retention policy deletes claims with
    it (the default keeps them, so data outlives the set)."""
    spec = sts.get("spec") or {}
    labels = dict(meta.labels_of(template))
    labels.update((spec.get("selector") or {}).get("matchLabels") or {})
    metadata: Object = {
        "name": claim_name(sts, template, index),
        "namespace": meta.namespace_of(sts),
        "labels": labels,
    }
    if meta.annotations_of(template):
        metadata["annotations"] = dict(meta.annotations_of(template))
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    if retention.get("whenDeleted") == "Delete":
        metadata["ownerReferences"] = [{**pc.controller_ref(sts), "controller": False}]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": meta.clone(template.get("spec") or {}),
    }


class StatefulSetController(PodOwnerController):
    name: ClassVar[str] = "statefulset"
    owner_kind: ClassVar[str] = "StatefulSet"
    owner_path: ClassVar[str] = "/apis/apps/v1/statefulsets"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 2
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.sets = self.owners
        self.revisions = revision_informer(self.factory)
        self.informers.append(self.revisions)
        self._history = History(client, self.revisions)

    async def reconcile(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None:
            self.expectations.forget(key)
            return
        spec = sts.get("spec") or {}
        name = meta.name_of(sts)
        replicas = int(spec.get("replicas", 1))
        parallel = spec.get("podManagementPolicy") == "Parallel"
        owned = await self._owned.claim(sts, spec.get("selector"))
        in_use = {meta.labels_of(p).get(REVISION_LABEL, "") for p in owned}
        revision = await self._history.record(sts, in_use)
        by_index: dict[int, Object] = {}
        for pod in owned:
            index = ordinal(name, pod)
            if index is not None:
                by_index[index] = pod
        if self.expectations.satisfied(key) and not sts["metadata"].get("deletionTimestamp"):
            await self._step(key, sts, by_index, replicas, parallel, revision)
        await self._write_status(sts, by_index, replicas, revision)

    async def _step(
        self,
        key: str,
        sts: Object,
        by_index: dict[int, Object],
        replicas: int,
        parallel: bool,
        revision: str,
    ) -> None:
        """One move toward the wanted pods; in order unless Parallel."""
        namespace = meta.namespace_of(sts)
        if any(pc.is_terminating(p) for p in by_index.values()) and not parallel:
            return  # wait for a pod to finish going before the next move
        # Failed pods are replaced.
        failed = [p for i, p in by_index.items() if i < replicas and pc.is_finished(p)]
        if failed:
            await self._scaler.delete(key, failed)
            return
        missing = [i for i in range(replicas) if i not in by_index]
        if missing:
            if parallel:
                await self._create_claims(sts, missing)
                pods = [stateful_pod(sts, i, revision) for i in missing]
                await self._scaler.create(key, namespace, pods)
                return
            first = missing[0]
            if all(pc.is_ready(by_index[i]) for i in range(first) if i in by_index):
                await self._create_claims(sts, [first])
                await self._scaler.create(key, namespace, [stateful_pod(sts, first, revision)])
            return
        extra = sorted((i for i in by_index if i >= replicas), reverse=True)
        if extra:
            doomed = [by_index[i] for i in (extra if parallel else extra[:1])]
            if parallel or all(pc.is_ready(by_index[i]) for i in range(replicas)):
                await self._scaler.delete(key, doomed)
            return
        strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get(
            "type", "RollingUpdate"
        )
        if strategy != "RollingUpdate":
            return
        if not all(pc.is_ready(by_index[i]) for i in range(replicas)):
            return
        for i in range(replicas - 1, -1, -1):
            if meta.labels_of(by_index[i]).get(REVISION_LABEL) != revision:
                await self._scaler.delete(key, [by_index[i]])
                return

    async def _create_claims(self, sts: Object, indexes: list[int]) -> None:
        """The claims of the pods about to be made; those that exist are kept as they are."""
        path = f"/api/v1/namespaces/{meta.namespace_of(sts)}/persistentvolumeclaims"
        for index in indexes:
            for template in claim_templates(sts):
                try:
                    await self.client.create(path, stateful_claim(sts, template, index))
                except APIStatusError as e:
                    if e.code != 409:
                        raise

    async def _write_status(
        self, sts: Object, by_index: dict[int, Object], replicas: int, revision: str
    ) -> None:
        pods = [p for p in by_index.values() if not pc.is_terminating(p)]
        updated = sum(1 for p in pods if meta.labels_of(p).get(REVISION_LABEL) == revision)
        revisions = {meta.labels_of(p).get(REVISION_LABEL) for p in pods}
        prefix = f"{meta.name_of(sts)}-"
        current = (sts.get("status") or {}).get("currentRevision", "").removeprefix(prefix)
        current = current or revision
        if updated == replicas == len(pods):
            current = revision
        elif revisions and current not in revisions:
            current = next(iter(revisions - {revision, None}), None) or revision
        ready = sum(1 for p in pods if pc.is_ready(p))
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": sum(
                1 for p in pods if meta.labels_of(p).get(REVISION_LABEL) == current
            ),
            "updatedReplicas": updated,
            "currentRevision": prefix + current,
            "updateRevision": prefix + revision,
            "collisionCount": 0,
        }
        await patch_status(
            self.client, apps_path("statefulsets", sts), sts.get("status") or {}, status
        )
