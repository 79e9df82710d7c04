"""The persistent volume controller: binds each claim to a volume that fits it (or asks the
class's provisioner for one), keeps both sides' phases (Pending, Available, Bound,
Released, Lost) as upstream's, and notices when either side goes away.

Binding writes the volume first (its claimRef, with the version it was read at, so two
claims never take one volume), then the claim; a claim of a WaitForFirstConsumer class
waits until the scheduler names its pod's node.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from control_plane.controllers.pod_owner import patch_status
from control_plane.controllers.volumes.storage_informers import StorageInformers
from ku7s.api import meta
from ku7s.api import persistent_volumes as pv
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError

Object = dict[str, Any]

log = logging.getLogger("persistentvolume-binder")

CLAIM = "claim:"
VOLUME = "volume:"


def claim_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"


def volume_path(name: str) -> str:
    return f"/api/v1/persistentvolumes/{name}"


class PersistentVolumeBinder(Controller):
    name: ClassVar[str] = "persistentvolume-binder"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 1
    ) -> None:
        super().__init__(client, informers, workers=workers)
        storage = StorageInformers.of(self.factory)
        self.claims, self.volumes = storage.claims, storage.volumes
        self.classes, self.nodes = storage.classes, storage.nodes
        self.volumes.add_index("claim", lambda v: [pv.claim_ref_key(v)])
        self.claims.on_change(self._claim_changed)
        self.volumes.on_change(self._volume_changed)
        self.classes.on_change(lambda _, __: self._all_pending_claims())
        self.informers = storage.all()
        self._events = EventRecorder(client, "persistentvolume-controller")

    def _claim_changed(self, event: str, claim: Object) -> None:
        self.queue.add(CLAIM + object_key(claim))
        for volume in self.volumes.by_index("claim", pv.claim_key(claim)):
            self.queue.add(VOLUME + meta.name_of(volume))

    def _volume_changed(self, event: str, volume: Object) -> None:
        self.queue.add(VOLUME + meta.name_of(volume))
        if pv.claim_ref_key(volume):
            self.queue.add(CLAIM + pv.claim_ref_key(volume))
        if event != "DELETED" and (volume.get("status") or {}).get("phase") == "Available":
            self._all_pending_claims()  # a freed or new volume may serve a waiting claim

    def _all_pending_claims(self) -> None:
        for claim in self.claims.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add(CLAIM + object_key(claim))

    async def reconcile(self, key: str) -> None:
        if key.startswith(CLAIM):
            claim = self.claims.get(key.removeprefix(CLAIM))
            if claim is not None and not claim["metadata"].get("deletionTimestamp"):
                await self._sync_claim(claim)
        else:
            volume = self.volumes.get(key.removeprefix(VOLUME))
            if volume is not None:
                await self._sync_volume(volume)

    # -- claims --

    async def _sync_claim(self, claim: Object) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            await self._sync_bound_claim(claim, self.volumes.get(name))
            return
        volume = self._find_volume(claim)
        if volume is not None:
            await self._bind(claim, volume)
            return
        await self._wait_or_provision(claim)

    def _find_volume(self, claim: Object) -> Object | None:
        storage_class = self.classes.get(pv.claim_class(claim)) if pv.claim_class(claim) else None
        node: Object | None = None
        if (storage_class or {}).get("volumeBindingMode") == pv.WAIT_FOR_FIRST_CONSUMER:
            selected = meta.annotations_of(claim).get(pv.SELECTED_NODE)
            node = self.nodes.get(selected) if selected else None
            if node is None:
                # Only a volume pre-bound to the claim may go before the pod has a node.
                volume = pv.best_volume(claim, self.volumes.list())
                return volume if volume is not None and pv.prebound_to(volume, claim) else None
        return pv.best_volume(claim, self.volumes.list(), node)

    async def _wait_or_provision(self, claim: Object) -> None:
        class_name = pv.claim_class(claim)
        if not class_name:
            self._events.record(
                claim,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            await self._set_claim_phase(claim, "Pending")
            return
        storage_class = self.classes.get(class_name)
        if storage_class is None:
            self._events.record(
                claim,
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return
        annotations = meta.annotations_of(claim)
        waits = storage_class.get("volumeBindingMode") == pv.WAIT_FOR_FIRST_CONSUMER
        if waits and not annotations.get(pv.SELECTED_NODE):
            self._events.record(
                claim,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        provisioner = str(storage_class.get("provisioner") or "")
        if provisioner == "kubernetes.io/no-provisioner":
            self._events.record(
                claim,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim",
            )
            return
        if annotations.get(pv.STORAGE_PROVISIONER) != provisioner:
            await self.client.patch(
                claim_path(meta.namespace_of(claim), meta.name_of(claim)),
                {
                    "metadata": {
                        "annotations": {
                            pv.STORAGE_PROVISIONER: provisioner,
                            pv.BETA_STORAGE_PROVISIONER: provisioner,
                        }
                    }
                },
            )
            self._events.record(
                claim,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner "
                f"'{provisioner}' or manually by the system administrator. If volume "
                "creation is delayed, please verify that the provisioner is running and "
                "correctly registered.",
            )

    async def _bind(self, claim: Object, volume: Object) -> None:
        """The volume first (its claimRef at the version read), then the claim."""
        name = meta.name_of(volume)
        if not pv.prebound_to(volume, claim) or not (volume["spec"].get("claimRef") or {}).get(
            "uid"
        ):
            updated = meta.clone(volume)
            updated["spec"]["claimRef"] = pv.claim_reference(claim)
            updated["metadata"].setdefault("annotations", {})[pv.BOUND_BY_CONTROLLER] = "yes"
            volume = await self.client.replace(volume_path(name), updated)
        await self._set_volume_phase(volume, "Bound")
        await self._complete_claim(claim, volume)

    async def _complete_claim(self, claim: Object, volume: Object) -> None:
        namespace, name = meta.namespace_of(claim), meta.name_of(claim)
        annotations = meta.annotations_of(claim)
        if claim["spec"].get("volumeName") != meta.name_of(volume) or not annotations.get(
            pv.BIND_COMPLETED
        ):
            updated = meta.clone(claim)
            updated["spec"]["volumeName"] = meta.name_of(volume)
            marks = updated["metadata"].setdefault("annotations", {})
            marks[pv.BIND_COMPLETED] = "yes"
            if not claim["spec"].get("volumeName"):
                marks[pv.BOUND_BY_CONTROLLER] = "yes"
            claim = await self.client.replace(claim_path(namespace, name), updated)
        spec = volume.get("spec") or {}
        status = {
            "phase": "Bound",
            "accessModes": spec.get("accessModes") or [],
            "capacity": spec.get("capacity") or {},
        }
        await patch_status(
            self.client, claim_path(namespace, name), claim.get("status") or {}, status
        )

    async def _sync_bound_claim(self, claim: Object, volume: Object | None) -> None:
        phase = (claim.get("status") or {}).get("phase")
        if volume is None:
            if phase == "Bound":
                self._events.record(
                    claim, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. "
                    "Data on the volume is lost!",
                )  # fmt: skip
                await self._set_claim_phase(claim, "Lost")
            return
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if not ref or pv.prebound_to(volume, claim):
            if pv.volume_matches(claim, volume) or pv.prebound_to(volume, claim):
                await self._bind(claim, volume)
            return
        if ref.get("uid") != meta.uid_of(claim) and phase == "Bound":
            self._events.record(
                claim, "Warning", "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly",
            )  # fmt: skip
            await self._set_claim_phase(claim, "Lost")

    # -- volumes --

    async def _sync_volume(self, volume: Object) -> None:
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if not ref:
            await self._set_volume_phase(volume, "Available")
            return
        claim = self.claims.get(pv.claim_ref_key(volume))
        if claim is not None and ref.get("uid") and ref["uid"] != meta.uid_of(claim):
            claim = None  # a new claim of the same name is not this volume's
        if claim is None:
            if not ref.get("uid"):
                await self._set_volume_phase(volume, "Available")  # pre-bound, claim to come
            elif (volume.get("status") or {}).get("phase") != "Failed":
                await self._release(volume)
            return
        if (claim.get("spec") or {}).get("volumeName") == meta.name_of(volume):
            await self._set_volume_phase(volume, "Bound")
        elif ref.get("uid") and not (claim.get("spec") or {}).get("volumeName"):
            self.queue.add(CLAIM + pv.claim_key(claim))  # half bound: finish with the claim

    async def _release(self, volume: Object) -> None:
        """The claim is gone: Released; a Retain volume waits for an admin, a Delete one for
        its provisioner (which deletes it), a Recycle one is scrubbed and Available again."""
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        if policy == "Recycle":
            updated = meta.clone(volume)
            updated["spec"].pop("claimRef", None)
            await self.client.replace(volume_path(meta.name_of(volume)), updated)
            return
        await self._set_volume_phase(volume, "Released")
        if policy == "Delete" and not meta.annotations_of(volume).get(pv.PROVISIONED_BY):
            message = "no volume plugin matched to delete this volume"
            await self._set_volume_phase(volume, "Failed", message)
            self._events.record(volume, "Warning", "VolumeFailedDelete", message)

    # -- writes --

    async def _set_volume_phase(self, volume: Object, phase: str, message: str = "") -> None:
        status = volume.get("status") or {}
        if status.get("phase") == phase and status.get("message", "") == message:
            return
        new: Object = {"phase": phase, "message": message or None}
        if status.get("phase") != phase:
            new["lastPhaseTransitionTime"] = meta.now_rfc3339()
        try:
            await self.client.patch(f"{volume_path(meta.name_of(volume))}/status", {"status": new})
        except APIStatusError as e:
            if e.code != 404:
                raise
        status["phase"] = phase

    async def _set_claim_phase(self, claim: Object, phase: str) -> None:
        path = claim_path(meta.namespace_of(claim), meta.name_of(claim))
        await patch_status(self.client, path, claim.get("status") or {}, {"phase": phase})

    def _event_once(self, obj: Object, kind: str, reason: str, message: str) -> None:
        """Events for a state that lasts: the recorder counts repeats on one Event."""
        self._events.record(obj, kind, reason, message)
