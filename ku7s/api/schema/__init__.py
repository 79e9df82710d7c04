"""The built-in API types: every field's name, JSON type, protobuf field number and
strategic-merge-patch metadata, for the kinds ku7s serves.

One schema serves three readers: strategic merge patch (which lists merge, by what key),
strict decoding (unknown fields and wrong types), and the protobuf decoder that kubectl's
typed commands need. The types are written in a compact notation, one struct per
paragraph and one field per line::

    Container
      name string 1
      ports []ContainerPort 6 merge:containerPort
      - LocalObjectReference 1          (an embedded struct: its fields are inline in JSON)

Field types: string, int32, int64, bool, double, bytes (base64 in JSON), quantity, intstr,
time, microtime, raw (any JSON), a struct name, ``[]T`` (list) or ``map[T]`` (string keys).
The optional last column is the patch strategy: ``merge``, ``retainKeys``, ``merge:key``
or ``merge,retainKeys:key``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ku7s.api.schema import (
    access_v1,
    apps_v1,
    autoscaling,
    batch_v1,
    certificates_v1,
    core_v1_cluster,
    core_v1_objects,
    core_v1_workloads,
    extension_v1,
    meta_v1,
    misc_v1,
    networking_v1,
    policy_v1,
    storage_v1,
)

SCALARS = frozenset(
    {
        "string",
        "int32",
        "int64",
        "bool",
        "double",
        "bytes",
        "quantity",
        "intstr",
        "time",
        "microtime",
        "raw",
    }
)


@dataclass(frozen=True)
class Field:
    name: str  # JSON name; "" for an embedded struct
    type: str  # scalar name or full struct name ("core.Container")
    number: int
    repeated: bool = False
    map: bool = False
    inline: bool = False
    strategy: str = ""
    merge_key: str = ""

    @property
    def is_struct(self) -> bool:
        return self.type not in SCALARS

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def retains_keys(self) -> bool:
        return "retainKeys" in self.strategy.split(",")


@dataclass
class Struct:
    name: str
    fields: list[Field] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_name: dict[str, Field] | None = None
        self._by_number: dict[int, Field] | None = None

    def by_name(self) -> dict[str, Field]:
        """JSON name -> field, with embedded structs' fields flattened in."""
        if self._by_name is None:
            result: dict[str, Field] = {}
            for f in self.fields:
                if f.inline:
                    result.update(SCHEMA.struct(f.type).by_name())
                else:
                    result[f.name] = f
            self._by_name = result
        return self._by_name

    def by_number(self) -> dict[int, Field]:
        if self._by_number is None:
            self._by_number = {f.number: f for f in self.fields}
        return self._by_number


class Schema:
    def __init__(self) -> None:
        self._structs: dict[str, Struct] = {}
        self._pending: list[tuple[str, Struct, list[tuple[str, str, int, str]]]] = []

    def add(self, namespace: str, source: str) -> None:
        """Parse one source text; references resolve once every namespace is added."""
        current: Struct | None = None
        raw: list[tuple[str, str, int, str]] = []
        for line in source.splitlines():
            if not line.strip():
                continue
            if not line.startswith(" "):
                if current is not None:
                    self._pending.append((namespace, current, raw))
                current, raw = Struct(f"{namespace}.{line.strip()}"), []
                continue
            parts = line.split()
            if parts[0] == "-":
                raw.append(("", parts[1], int(parts[2]), "inline"))
            else:
                raw.append((parts[0], parts[1], int(parts[2]), parts[3] if len(parts) > 3 else ""))
        if current is not None:
            self._pending.append((namespace, current, raw))
        for _, struct, _ in self._pending:
            self._structs[struct.name] = struct

    def resolve(self) -> None:
        for namespace, struct, raw in self._pending:
            for name, type_text, number, extra in raw:
                repeated, is_map = type_text.startswith("[]"), type_text.startswith("map[")
                element = type_text.removeprefix("[]")
                if is_map:
                    element = element[len("map[") : -1]
                if element not in SCALARS:
                    element = self._qualify(namespace, element)
                strategy, _, key = extra.partition(":")
                struct.fields.append(
                    Field(
                        name,
                        element,
                        number,
                        repeated,
                        is_map,
                        extra == "inline",
                        "" if extra == "inline" else strategy,
                        key,
                    )
                )
        self._pending.clear()

    def _qualify(self, namespace: str, name: str) -> str:
        for candidate in (namespace, "core", "meta"):
            if f"{candidate}.{name}" in self._structs:
                return f"{candidate}.{name}"
        raise KeyError(f"unknown type {name!r} referenced from {namespace}")

    def struct(self, name: str) -> Struct:
        return self._structs[name]

    def has(self, name: str) -> bool:
        return name in self._structs

    def names(self) -> list[str]:
        return list(self._structs)


SCHEMA = Schema()
SCHEMA.add("meta", meta_v1.SOURCE)
SCHEMA.add("core", core_v1_workloads.SOURCE)
SCHEMA.add("core", core_v1_objects.SOURCE)
SCHEMA.add("core", core_v1_cluster.SOURCE)
SCHEMA.add("apps", apps_v1.SOURCE)
SCHEMA.add("apps", apps_v1.REVISIONS)
SCHEMA.add("batch", batch_v1.SOURCE)
SCHEMA.add("batch", batch_v1.CRON)
SCHEMA.add("autoscaling", autoscaling.V2)
SCHEMA.add("autoscalingv1", autoscaling.V1)
SCHEMA.add("policy", policy_v1.POLICY)
SCHEMA.add("scheduling", policy_v1.SCHEDULING)
SCHEMA.add("node", policy_v1.NODE)
SCHEMA.add("networking", networking_v1.SOURCE)
SCHEMA.add("storage", storage_v1.SOURCE)
SCHEMA.add("certificates", certificates_v1.SOURCE)
SCHEMA.add("coordination", misc_v1.COORDINATION)
SCHEMA.add("discovery", misc_v1.DISCOVERY)
SCHEMA.add("events", misc_v1.EVENTS)
SCHEMA.add("rbac", access_v1.RBAC)
SCHEMA.add("authentication", access_v1.AUTHENTICATION)
SCHEMA.add("authorization", access_v1.AUTHORIZATION)
SCHEMA.add("admissionregistration", extension_v1.ADMISSION_REGISTRATION)
SCHEMA.add("apiextensions", extension_v1.API_EXTENSIONS)
SCHEMA.add("apiregistration", extension_v1.API_REGISTRATION)
SCHEMA.resolve()

#: API group -> schema namespaces of its kinds, first match wins.
_GROUP_NAMESPACES: dict[str, tuple[str, ...] | str] = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
    "events.k8s.io": "events",
    "autoscaling": ("autoscaling", "meta"),  # Scale lives with the meta types
    "policy": "policy",
    "scheduling.k8s.io": "scheduling",
    "node.k8s.io": "node",
    "networking.k8s.io": "networking",
    "storage.k8s.io": "storage",
    "certificates.k8s.io": "certificates",
    "rbac.authorization.k8s.io": "rbac",
    "authentication.k8s.io": "authentication",
    "authorization.k8s.io": "authorization",
    "admissionregistration.k8s.io": "admissionregistration",
    "apiextensions.k8s.io": "apiextensions",
    "apiregistration.k8s.io": "apiregistration",
}


#: Group-versions whose kinds differ from the group's newest version of the same name.
_VERSION_NAMESPACES = {"autoscaling/v1": ("autoscalingv1", "meta")}


def kind_struct(group: str, kind: str, version: str = "") -> str | None:
    """The struct describing a top-level kind, such as ("apps", "Deployment")."""
    namespaces = _VERSION_NAMESPACES.get(f"{group}/{version}") or _GROUP_NAMESPACES.get(group, ())
    for namespace in (namespaces,) if isinstance(namespaces, str) else namespaces:
        name = f"{namespace}.{kind}"
        if SCHEMA.has(name):
            return name
    return None


__all__ = ["SCALARS", "SCHEMA", "Field", "Schema", "Struct", "kind_struct"]
