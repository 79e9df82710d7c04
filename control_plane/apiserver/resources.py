"""The resource types the apiserver serves, and how each maps to URLs and etcd keys.

Adding a type is one ResourceType entry in BUILTIN_TYPES; discovery, routing, storage and
tables follow from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: Verbs every stored type supports.
STANDARD_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    #: Subresources served beside the main resource, e.g. ("status",).
    subresources: tuple[str, ...] = ()
    #: Extra field selector paths beyond metadata.name and metadata.namespace.
    field_paths: tuple[str, ...] = ()
    storage_name: str = field(default="")

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_prefix(self) -> str:
        return f"/registry/{self.storage_name or self.plural}/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        """The etcd prefix holding every object of this type, or of one namespace."""
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    def allows_field(self, path: str) -> bool:
        return path in ("metadata.name", "metadata.namespace") or path in self.field_paths


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        short_names=("ns",),
        subresources=("status",),
        field_paths=("status.phase",),
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        short_names=("no",),
        subresources=("status",),
        field_paths=("spec.unschedulable",),
    ),
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        True,
    ),
)


class ResourceTypes:
    """Lookup of resource types by group/version/plural and by kind."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._types = tuple(types)
        self._by_path = {(t.group, t.version, t.plural): t for t in self._types}

    def all(self) -> tuple[ResourceType, ...]:
        return self._types

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core groups and their versions, in the order types were declared."""
        groups: dict[str, list[str]] = {}
        for t in self._types:
            if t.group and t.version not in groups.setdefault(t.group, []):
                groups[t.group].append(t.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types if t.group == group and t.version == version]
