"""Which PersistentVolume may serve which claim, as the PV controller binds them and the
scheduler's volume binding plugin checks them: same class, every access mode the claim
asks for, enough capacity, the same volume mode, the claim's selector, and (for volumes
tied to nodes) a node the pod may use. The smallest volume that fits wins, as upstream."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from ku7s.api import meta
from ku7s.api.node_selection import term_matches
from ku7s.api.quantity import QuantityError, parse_quantity
from ku7s.api.selectors import SelectorError, from_label_selector
from ku7s.names import DOCKER_HOST_LABEL, PROVIDER_LABEL

Object = dict[str, Any]

#: Set by the scheduler on a WaitForFirstConsumer claim: the node its first pod goes to.
SELECTED_NODE = "volume.kubernetes.io/selected-node"
#: Set by the PV controller on a claim it wants a provisioner to make a volume for.
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
#: Set by a provisioner on the volumes it made, so that it alone deletes them.
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
CLAIM_PROTECTION = "kubernetes.io/pvc-protection"
VOLUME_PROTECTION = "kubernetes.io/pv-protection"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
#: The volume sources a PersistentVolume may have (exactly one).
VOLUME_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "nfs",
    "iscsi",
    "fc",
    "local",
    "csi",
)


def storage_of(quantities: Object | None) -> Decimal:
    """The storage quantity of a capacity or requests map (0 when missing or bad)."""
    try:
        return parse_quantity(str((quantities or {}).get("storage", "0")))
    except QuantityError:
        return Decimal(0)


def requested_storage(claim: Object) -> Decimal:
    return storage_of(((claim.get("spec") or {}).get("resources") or {}).get("requests"))


def claim_class(claim: Object) -> str:
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def claim_reference(claim: Object) -> Object:
    """A volume's claimRef to the claim (at the version read)."""
    return {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "namespace": meta.namespace_of(claim),
        "name": meta.name_of(claim),
        "uid": meta.uid_of(claim),
        "resourceVersion": meta.resource_version(claim),
    }


def claim_key(claim: Object) -> str:
    return f"{meta.namespace_of(claim)}/{meta.name_of(claim)}"


def claim_ref_key(volume: Object) -> str:
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""


def ephemeral_claim_name(pod: Object, volume_name: str) -> str:
    """The claim of a generic ephemeral volume: <pod>-<volume>, owned by the pod."""
    return f"{meta.name_of(pod)}-{volume_name}"


def pod_claim_names(pod: Object) -> list[str]:
    """The claims a pod's volumes use (named, and made for its ephemeral volumes), in order."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if isinstance(volume.get("persistentVolumeClaim"), dict):
            names.append(str(volume["persistentVolumeClaim"].get("claimName", "")))
        elif isinstance(volume.get("ephemeral"), dict):
            names.append(ephemeral_claim_name(pod, str(volume.get("name", ""))))
    return names


def volume_fits_node(volume: Object, node: Object) -> bool:
    """The volume's required node affinity lets node use it (no affinity: any node)."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def prebound_to(volume: Object, claim: Object) -> bool:
    """The volume names this claim (by name, and by uid when it has one)."""
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    if not ref or claim_ref_key(volume) != claim_key(claim):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.uid_of(claim)


def volume_matches(claim: Object, volume: Object) -> bool:
    """Whether volume may serve claim, leaving node constraints aside."""
    spec, claim_spec = volume.get("spec") or {}, claim.get("spec") or {}
    if volume["metadata"].get("deletionTimestamp"):
        return False
    if spec.get("claimRef") and not prebound_to(volume, claim):
        return False
    phase = (volume.get("status") or {}).get("phase")
    if phase not in (None, "Available", "Pending") and not prebound_to(volume, claim):
        return False
    if str(spec.get("storageClassName") or "") != claim_class(claim):
        return False
    if spec.get("volumeMode", "Filesystem") != claim_spec.get("volumeMode", "Filesystem"):
        return False
    if not set(claim_spec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    if storage_of(spec.get("capacity")) < requested_storage(claim):
        return False
    selector = claim_spec.get("selector")
    if selector:
        try:
            if not from_label_selector(selector).matches(meta.labels_of(volume)):
                return False
        except SelectorError:
            return False
    return True


def best_volume(claim: Object, volumes: list[Object], node: Object | None = None) -> Object | None:
    """A volume pre-bound to the claim, else the smallest that matches (and fits node)."""
    fitting = [
        v
        for v in volumes
        if volume_matches(claim, v) and (node is None or volume_fits_node(v, node))
    ]
    for volume in fitting:
        if prebound_to(volume, claim):
            return volume
    if not fitting:
        return None
    return min(fitting, key=lambda v: storage_of((v.get("spec") or {}).get("capacity")))


#: The provisioner of the default class `standard`: a directory on the pod's node.
LOCAL_PATH_PROVISIONER = "ku7s.dev/local-path"
#: Where on a node its local-path volumes live (as kind's provisioner keeps them).
LOCAL_PATH_ROOT = "/var/local-path-provisioner"


def local_path_directory(volume_name: str, claim: Object) -> str:
    """The node directory of a provisioned volume: named after volume and claim, so an
    admin looking at the disk knows whose data it is."""
    return f"{LOCAL_PATH_ROOT}/{volume_name}_{meta.namespace_of(claim)}_{meta.name_of(claim)}"


_PROVISIONED_DIRECTORY = re.compile(r"(pvc-[0-9a-f-]{36})_[^_/]+_[^/]+")


def volume_name_of_directory(directory: str) -> str:
    """The volume a provisioned directory belongs to; "" for anything else found there."""
    match = _PROVISIONED_DIRECTORY.fullmatch(directory.rsplit("/", 1)[-1])
    return match.group(1) if match else ""


#: The mock cloud's disks (StorageClass `ku7s-disk`): provisioner, CSI driver and attacher.
DISK_DRIVER = "disk.ku7s.dev"
DISK_CLASS = "ku7s-disk"
#: Where a node sees each disk attached to it, by volume handle.
DISKS_ROOT = "/var/lib/ku7s/disks"
#: Node labels of machines the cloud cannot attach its disks to (SSH machines, nodes on
#: another Docker engine: a disk lives on the control plane's engine, as in one zone).
UNATTACHABLE_NODE_LABELS = (PROVIDER_LABEL, DOCKER_HOST_LABEL)


def disk_handle(volume: Object) -> str:
    """The cloud disk behind a volume ("" if it is not one)."""
    csi = (volume.get("spec") or {}).get("csi") or {}
    return str(csi.get("volumeHandle") or "") if csi.get("driver") == DISK_DRIVER else ""


def disk_attachable(node: Object) -> bool:
    labels = meta.labels_of(node)
    return not any(label in labels for label in UNATTACHABLE_NODE_LABELS)


def attachment_name(handle: str, attacher: str, node: str) -> str:
    """A VolumeAttachment's name, as upstream derives it: one per volume, driver and node."""
    return "csi-" + hashlib.sha256(f"{handle}{attacher}{node}".encode()).hexdigest()
