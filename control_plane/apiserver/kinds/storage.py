"""Storage kinds: v1 PersistentVolumes and PersistentVolumeClaims, storage.k8s.io/v1
StorageClasses, CSIDrivers, CSINodes and VolumeAttachments. Stored, validated, listed and
watched as upstream does; binding and provisioning are the volume add-on's work."""

from __future__ import annotations

from typing import Any, ClassVar

from control_plane.apiserver.kinds.base import AGE, NAME, Kind, Object, age
from control_plane.apiserver.kinds.resource_quota import validate_quantities
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.persistent_volumes import DEFAULT_CLASS, VOLUME_SOURCES

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")

_ACCESS_SHORT = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def access_modes_cell(modes: list[str] | None) -> str:
    return ",".join(_ACCESS_SHORT.get(m, m) for m in modes or [])


def _validate_access_modes(path: str, modes: Any, errors: FieldErrors) -> None:
    if not modes:
        errors.required(path)
        return
    for i, mode in enumerate(modes):
        errors.one_of(f"{path}[{i}]", mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errors.forbidden(path, "may not use ReadWriteOncePod with other access modes")


class _VolumeKind(Kind):
    """What volumes and claims share: a Pending phase at first, Filesystem mode unless
    told otherwise."""

    resets_status_on_create = True

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Pending"}

    @staticmethod
    def phase_cell(obj: Object) -> str:
        """The phase, or Terminating once deletion began (as kubectl's printers)."""
        if obj["metadata"].get("deletionTimestamp"):
            return "Terminating"
        return str((obj.get("status") or {}).get("phase", ""))

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")


class PersistentVolumeKind(_VolumeKind):
    resource = ResourceType(
        "", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False,
        short_names=("pv",), subresources=("status",),
    )  # fmt: skip
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Capacity", "string", "", 0),
        ("Access Modes", "string", "", 0),
        ("Reclaim Policy", "string", "", 0),
        ("Status", "string", "", 0),
        ("Claim", "string", "", 0),
        ("StorageClass", "string", "", 0),
        ("VolumeAttributesClass", "string", "", 0),
        ("Reason", "string", "", 0),
        AGE,
        ("VolumeMode", "string", "", 1),
    ]

    def default(self, obj: Object) -> None:
        super().default(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", "Retain")

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        _validate_access_modes("spec.accessModes", spec.get("accessModes"), errors)
        capacity = spec.get("capacity")
        if not isinstance(capacity, dict) or "storage" not in capacity:
            errors.required("spec.capacity", "must specify storage")
        else:
            validate_quantities("spec.capacity", capacity, errors)
        sources = [s for s in VOLUME_SOURCES if spec.get(s)]
        if not sources:
            errors.required("spec", "must specify a volume type")
        elif len(sources) > 1:
            errors.forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type")
        if isinstance(spec.get("local"), dict) and not (spec.get("nodeAffinity") or {}).get(
            "required"
        ):
            errors.required("spec.nodeAffinity", "Local volumes require node affinity")
        errors.one_of(
            "spec.persistentVolumeReclaimPolicy",
            spec.get("persistentVolumeReclaimPolicy"),
            RECLAIM_POLICIES,
        )
        errors.one_of("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        claim = spec.get("claimRef") or {}
        return [
            meta.name_of(obj),
            (spec.get("capacity") or {}).get("storage", ""),
            access_modes_cell(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""),
            self.phase_cell(obj),
            f"{claim.get('namespace')}/{claim.get('name')}" if claim else "",
            spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason", ""),
            age(obj),
            spec.get("volumeMode", "Filesystem"),
        ]


class PersistentVolumeClaimKind(_VolumeKind):
    resource = ResourceType(
        "", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
        True, short_names=("pvc",), subresources=("status",),
    )  # fmt: skip
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Status", "string", "", 0),
        ("Volume", "string", "", 0),
        ("Capacity", "string", "", 0),
        ("Access Modes", "string", "", 0),
        ("StorageClass", "string", "", 0),
        ("VolumeAttributesClass", "string", "", 0),
        AGE,
        ("VolumeMode", "string", "", 1),
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        _validate_access_modes("spec.accessModes", spec.get("accessModes"), errors)
        requests = (spec.get("resources") or {}).get("requests")
        if not isinstance(requests, dict) or "storage" not in requests:
            errors.required("spec.resources[storage]")
        else:
            validate_quantities("spec.resources.requests", requests, errors)
        errors.one_of("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        def fixed(obj: Object) -> Object:
            spec = dict(obj.get("spec") or {})
            spec.pop("volumeAttributesClassName", None)
            resources = dict(spec.pop("resources", None) or {})
            resources.pop("requests", None)
            if not old["spec"].get("volumeName"):  # the binder fills this in once
                spec.pop("volumeName", None)
            return {**spec, "resources": resources}

        if fixed(old) != fixed(new):
            errors.forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        return [
            meta.name_of(obj),
            self.phase_cell(obj),
            spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", ""),
            access_modes_cell(status.get("accessModes")),
            spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>",
            age(obj),
            spec.get("volumeMode", "Filesystem"),
        ]


class StorageClassKind(Kind):
    resource = ResourceType(
        "storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False,
        short_names=("sc",),
    )  # fmt: skip
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Provisioner", "string", "", 0),
        ("ReclaimPolicy", "string", "", 0),
        ("VolumeBindingMode", "string", "", 0),
        ("AllowVolumeExpansion", "string", "", 0),
        AGE,
    ]

    def default(self, obj: Object) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        if not obj.get("provisioner"):
            errors.required("provisioner")
        errors.one_of("reclaimPolicy", obj.get("reclaimPolicy"), ("Delete", "Retain"))
        errors.one_of("volumeBindingMode", obj.get("volumeBindingMode"), BINDING_MODES)

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        for field in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
            if old.get(field) != new.get(field):
                errors.forbidden(field, f"updates to {field} are forbidden.")

    def row(self, obj: Object) -> list[Any]:
        name = meta.name_of(obj)
        if meta.annotations_of(obj).get(DEFAULT_CLASS) == "true":
            name += " (default)"
        return [
            name,
            obj.get("provisioner", ""),
            obj.get("reclaimPolicy", ""),
            obj.get("volumeBindingMode", ""),
            "true" if obj.get("allowVolumeExpansion") else "false",
            age(obj),
        ]


class CSIDriverKind(Kind):
    resource = ResourceType("storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", False)
    columns: ClassVar[list[Column]] = [
        NAME,
        ("AttachRequired", "boolean", "", 0),
        ("PodInfoOnMount", "boolean", "", 0),
        ("StorageCapacity", "boolean", "", 0),
        ("TokenRequests", "string", "", 0),
        ("RequiresRepublish", "boolean", "", 0),
        ("Modes", "string", "", 0),
        AGE,
    ]

    def default(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            for field, value in (
                ("attachRequired", True),
                ("podInfoOnMount", False),
                ("requiresRepublish", False),
                ("storageCapacity", False),
                ("seLinuxMount", False),
                ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
                ("volumeLifecycleModes", ["Persistent"]),
            ):
                spec.setdefault(field, value)

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec") or {}
        errors.one_of(
            "spec.fsGroupPolicy",
            spec.get("fsGroupPolicy"),
            ("ReadWriteOnceWithFSType", "File", "None"),
        )
        for i, mode in enumerate(spec.get("volumeLifecycleModes") or []):
            errors.one_of(f"spec.volumeLifecycleModes[{i}]", mode, ("Persistent", "Ephemeral"))

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        for field in ("attachRequired", "volumeLifecycleModes"):
            if (old.get("spec") or {}).get(field) != (new.get("spec") or {}).get(field):
                errors.immutable(f"spec.{field}", (new.get("spec") or {}).get(field))

    def row(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        tokens = ",".join(t.get("audience", "") for t in spec.get("tokenRequests") or [])
        return [
            meta.name_of(obj),
            bool(spec.get("attachRequired")),
            bool(spec.get("podInfoOnMount")),
            bool(spec.get("storageCapacity")),
            tokens or "<unset>",
            bool(spec.get("requiresRepublish")),
            ",".join(spec.get("volumeLifecycleModes") or []),
            age(obj),
        ]


class CSINodeKind(Kind):
    resource = ResourceType("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", False)
    columns: ClassVar[list[Column]] = [NAME, ("Drivers", "integer", "", 0), AGE]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        seen: set[str] = set()
        for i, driver in enumerate((obj.get("spec") or {}).get("drivers") or []):
            name = (driver or {}).get("name")
            if not name:
                errors.required(f"spec.drivers[{i}].name")
            elif name in seen:
                errors.duplicate(f"spec.drivers[{i}].name", name)
            seen.add(str(name))

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), len((obj.get("spec") or {}).get("drivers") or []), age(obj)]


class VolumeAttachmentKind(Kind):
    resource = ResourceType(
        "storage.k8s.io", "v1", "volumeattachments", "volumeattachment", "VolumeAttachment",
        False, subresources=("status",),
    )  # fmt: skip
    columns: ClassVar[list[Column]] = [
        NAME,
        ("Attacher", "string", "", 0),
        ("PV", "string", "", 0),
        ("Node", "string", "", 0),
        ("Attached", "boolean", "", 0),
        AGE,
    ]

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            errors.required("spec")
            return
        if not spec.get("attacher"):
            errors.required("spec.attacher")
        if not spec.get("nodeName"):
            errors.required("spec.nodeName")
        source = spec.get("source") or {}
        given = [k for k in ("persistentVolumeName", "inlineVolumeSpec") if source.get(k)]
        if len(given) != 1:
            errors.required(
                "spec.source",
                "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
            )

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        if old.get("spec") != new.get("spec"):
            errors.immutable("spec", new.get("spec"))

    def row(self, obj: Object) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        return [
            meta.name_of(obj),
            spec.get("attacher", ""),
            (spec.get("source") or {}).get("persistentVolumeName", ""),
            spec.get("nodeName", ""),
            bool(status.get("attached")),
            age(obj),
        ]
