"""Kind: how one resource type behaves, as kube-apiserver's REST strategy for it does.

The Registry calls these hooks around every write: ``default`` fills in what the client left
out, ``prepare_for_create`` / ``prepare_for_update`` decide which parts of the object a write
may touch (a main-resource write keeps the old status, a status write keeps the old spec),
``validate`` / ``validate_update`` collect field errors for one 422 answer. Printing for
``kubectl get`` (``columns`` and ``row``) and field selectors live here too.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Protocol

from control_plane.apiserver.field_management.managed_fields import FieldManager
from control_plane.apiserver.field_management.shapes import UNKNOWN, Shape, StructShape
from control_plane.apiserver.resources import ResourceType
from control_plane.apiserver.tables import Column, age
from ku7s.api import meta
from ku7s.api.field_errors import FieldErrors
from ku7s.api.schema import kind_struct
from ku7s.api.selectors import field_value

Object = dict[str, Any]

NAME: Column = ("Name", "string", "name", 0)
AGE: Column = ("Age", "string", "", 0)

#: Finalizers the apiserver itself adds for foreground and orphan deletion.
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"


class Converter(Protocol):
    """Turns objects into another version of their kind (a custom resource's conversion
    webhook); the registry asks it on the way to and from storage."""

    async def convert(self, objects: list[Object], api_version: str) -> list[Object]: ...


class Kind:
    """The generic behaviour; each kind's module overrides what differs."""

    resource: ClassVar[ResourceType]
    #: Names must be DNS labels (namespaces, services) rather than subdomains.
    label_names: ClassVar[bool] = False
    #: Names need only be valid path segments (RBAC: ``system:kube-scheduler``).
    path_segment_names: ClassVar[bool] = False
    #: metadata.generation starts at 1 and grows with each spec change.
    tracks_generation: ClassVar[bool] = False
    #: A create starts with an empty status (upstream PrepareForCreate), instead of the
    #: client's. Nodes, namespaces and leases keep what the client sent.
    resets_status_on_create: ClassVar[bool] = False
    #: Extra field selector paths beyond metadata.name and metadata.namespace.
    field_paths: ClassVar[tuple[str, ...]] = ()
    #: A field whose watchers are indexed: a watch selecting one value of it is sent only
    #: that value's changes (upstream indexes pods by node the same way).
    watch_index: ClassVar[str | None] = None
    #: Propagation for a delete that names none (upstream's default for apps/v1 is Background).
    default_propagation: ClassVar[str] = "Background"
    columns: ClassVar[list[Column]] = [NAME, ("Created At", "date", "", 0)]
    #: False for kinds answered at the time of asking (metrics.k8s.io), kept nowhere.
    stored: ClassVar[bool] = True
    #: A delete that removes the object at once answers with the object rather than a
    #: Status (upstream's ReturnDeletedObject: pods, services, service accounts, namespaces).
    returns_deleted_object: ClassVar[bool] = False
    #: Finalizers the API server adds when deletion starts (a CRD's clean-up).
    delete_finalizers: ClassVar[tuple[str, ...]] = ()
    #: Strategic merge patches apply (built-in kinds; custom resources take JSON and merge
    #: patches only, as upstream).
    strategic_merge: ClassVar[bool] = True
    #: Creates are refused (a custom resource whose definition is being deleted).
    refuses_creates: bool = False
    #: Who converts between the served and the stored version when from_storage and
    #: to_storage cannot do it alone (None: they can).
    converter: Converter | None = None

    # -- writes ----------------------------------------------------------------------------

    def field_shape(self) -> Shape:
        """What server-side apply knows of the kind's lists and maps."""
        struct = kind_struct(self.resource.group, self.resource.kind, self.resource.version)
        return StructShape(struct) if struct else UNKNOWN

    @functools.cached_property
    def field_manager(self) -> FieldManager:
        """Who owns which field (managedFields), and server-side apply, for this kind."""
        return FieldManager(self.field_shape(), "status" in self.resource.subresources)

    def default(self, obj: Object) -> None:
        """Fill in defaults in place; runs on create and update alike."""

    def prepare_for_create(self, obj: Object) -> None:
        if self.resets_status_on_create and "status" in self.resource.subresources:
            obj["status"] = self.initial_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def initial_status(self, obj: Object) -> Object:
        return {}

    def prepare_for_update(self, old: Object, new: Object, subresource: str | None) -> Object:
        """The object to store when `new` replaces `old` through the main resource or status."""
        if subresource == "status":
            result = meta.clone(old)
            result["status"] = new.get("status", {})
            for part in ("labels", "annotations"):  # upstream lets status writes move these
                if part in new.get("metadata", {}):
                    result["metadata"][part] = new["metadata"][part]
            return result
        result = meta.clone(new)
        if "status" in self.resource.subresources:
            if "status" in old:
                result["status"] = meta.clone(old["status"])
            else:
                result.pop("status", None)
        return result

    def validate(self, obj: Object, errors: FieldErrors) -> None:
        """Field errors of an object about to be stored (create and update)."""

    def validate_update(self, old: Object, new: Object, errors: FieldErrors) -> None:
        """Field errors only an update can have: immutable fields."""

    def unknown_fields(self, obj: Object) -> list[str] | None:
        """Paths of fields the kind does not know, or None to ask the built-in types'
        schema (strict field validation)."""
        return None

    def record_requester(self, obj: Object, user_info: Object) -> None:
        """Note in a new object who asked for it (a CSR's spec.username and groups)."""

    def after_create(self, obj: Object) -> list[tuple[str, Object]]:
        """Objects to create together with this one, as (plural, object): a namespace's
        default service account, for instance."""
        return []

    # -- storage form ----------------------------------------------------------------------

    @property
    def storage_api_version(self) -> str:
        """The apiVersion objects are kept in."""
        return self.resource.api_version

    def to_storage(self, obj: Object) -> Object:
        """The form kept in etcd (events.k8s.io Events are stored as core Events)."""
        return obj

    def from_storage(self, obj: Object) -> Object:
        obj["apiVersion"], obj["kind"] = self.resource.api_version, self.resource.kind
        return obj

    # -- reads -----------------------------------------------------------------------------

    def field(self, obj: Object, path: str) -> str:
        """The value a field selector compares for path."""
        return field_value(obj, path)

    def row(self, obj: Object) -> list[Any]:
        return [meta.name_of(obj), obj.get("metadata", {}).get("creationTimestamp", "")]


class ScalableKind(Kind):
    """A kind with the Scale subresource: its replicas seen and set as autoscaling/v1 Scale."""

    def replicas(self, obj: Object) -> tuple[int, int, str]:
        """Desired replicas, current replicas and the pods' label selector (as a string)."""
        raise NotImplementedError

    def set_replicas(self, obj: Object, replicas: int) -> None:
        raise NotImplementedError

    def scale(self, obj: Object) -> Object:
        """The autoscaling/v1 Scale view of the object."""
        desired, current, selector = self.replicas(obj)
        metadata = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: metadata[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in metadata
            },
            "spec": {"replicas": desired},
            "status": {"replicas": current, "selector": selector},
        }


def spec_changed(old: Object, new: Object) -> bool:
    """Whether a write changes anything but metadata and status (bumps metadata.generation)."""
    ignored = {"metadata", "status", "apiVersion", "kind"}
    return {k: v for k, v in old.items() if k not in ignored} != {
        k: v for k, v in new.items() if k not in ignored
    }


__all__ = ["AGE", "NAME", "Kind", "Object", "ScalableKind", "age", "spec_changed"]
