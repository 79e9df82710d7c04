"""How a resource type maps to URLs and etcd keys (its behaviour lives in kinds/)."""

from __future__ import annotations

from dataclasses import dataclass

#: Verbs every stored type supports.
STANDARD_VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


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
    #: Subresources served beside the main resource, e.g. ("status", "scale").
    subresources: tuple[str, ...] = ()
    #: The etcd prefix's name when it differs from the plural (events.k8s.io shares events).
    storage_name: str = ""

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
