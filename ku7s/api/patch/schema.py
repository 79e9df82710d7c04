"""Where the built-in types' lists merge, and by which key: the patch metadata that
upstream keeps in its Go struct tags (patchStrategy, patchMergeKey), written down here.

Only what strategic merge needs is listed: lists that merge (by a key, or as sets of
primitives), maps whose keys are retained, and the structs on the way to them. A list
not listed is replaced whole, and a map merges key by key, as upstream does.

Each struct is a few lines of ``field type [strategy] [key]``: ``[]T`` is a list of T,
a bare name a nested struct.
"""

from __future__ import annotations

from dataclasses import dataclass

_SOURCE: dict[str, str] = {
    "ObjectMeta": """
        finalizers []string merge
        ownerReferences []OwnerReference merge uid
    """,
    "OwnerReference": "",
    "LabelSelector": "",
    "PodTemplateSpec": """
        metadata ObjectMeta
        spec PodSpec
    """,
    "PodSpec": """
        volumes []Volume merge,retainKeys name
        initContainers []Container merge name
        containers []Container merge name
        ephemeralContainers []Container merge name
        imagePullSecrets []LocalObjectReference merge name
        hostAliases []HostAlias merge ip
        topologySpreadConstraints []TopologySpreadConstraint merge topologyKey
        resourceClaims []PodResourceClaim merge,retainKeys name
        schedulingGates []PodSchedulingGate merge name
    """,
    "Volume": "",
    "LocalObjectReference": "",
    "HostAlias": "",
    "TopologySpreadConstraint": "",
    "PodResourceClaim": "",
    "PodSchedulingGate": "",
    "Container": """
        ports []ContainerPort merge containerPort
        env []EnvVar merge name
        volumeMounts []VolumeMount merge mountPath
        volumeDevices []VolumeDevice merge devicePath
    """,
    "ContainerPort": "",
    "EnvVar": "",
    "VolumeMount": "",
    "VolumeDevice": "",
    "PodStatus": """
        conditions []Condition merge type
    """,
    "Condition": "",
    "ServiceSpec": """
        ports []ServicePort merge port
    """,
    "ServicePort": "",
    "NodeSpec": "",
    "NodeStatus": """
        conditions []Condition merge type
        addresses []NodeAddress merge type
    """,
    "NodeAddress": "",
    "ConditionsStatus": """
        conditions []Condition merge type
    """,
    "DeploymentSpec": """
        template PodTemplateSpec
        strategy DeploymentStrategy retainKeys
    """,
    "DeploymentStrategy": "",
    "WorkloadSpec": """
        template PodTemplateSpec
    """,
    "StatefulSetSpec": """
        template PodTemplateSpec
        volumeClaimTemplates []PersistentVolumeClaim
    """,
    "PersistentVolumeClaim": "",
    # Top-level kinds: what their spec and status are.
    "Pod": "spec PodSpec\nstatus PodStatus",
    "Service": "spec ServiceSpec\nstatus ConditionsStatus",
    "Node": "spec NodeSpec\nstatus NodeStatus",
    "Deployment": "spec DeploymentSpec\nstatus ConditionsStatus",
    "ReplicaSet": "spec WorkloadSpec\nstatus ConditionsStatus",
    "DaemonSet": "spec WorkloadSpec\nstatus ConditionsStatus",
    "StatefulSet": "spec StatefulSetSpec\nstatus ConditionsStatus",
    "Job": "spec WorkloadSpec\nstatus ConditionsStatus",
    "Namespace": "status ConditionsStatus",
    "ConfigMap": "",
    "Secret": "",
    "ServiceAccount": "",
    "Endpoints": "",
    "EndpointSlice": "",
    "Event": "",
    "Lease": "",
}

#: Structs whose objects carry an ObjectMeta under "metadata".
_WITH_METADATA = {
    "Pod",
    "Service",
    "Node",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Endpoints",
    "EndpointSlice",
    "Event",
    "Lease",
    "PersistentVolumeClaim",
}


@dataclass(frozen=True)
class FieldMeta:
    type: str  # element type for lists
    is_list: bool
    strategy: str = ""  # "merge", "retainKeys", "merge,retainKeys" or ""
    merge_key: str = ""

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def retains_keys(self) -> bool:
        return "retainKeys" in self.strategy.split(",")


def _parse(struct: str, source: str) -> dict[str, FieldMeta]:
    fields = {"metadata": FieldMeta("ObjectMeta", False)} if struct in _WITH_METADATA else {}
    for line in source.strip().splitlines():
        parts = line.split()
        if not parts:
            continue
        name, type_ = parts[0], parts[1]
        strategy = parts[2] if len(parts) > 2 else ""
        key = parts[3] if len(parts) > 3 else ""
        is_list = type_.startswith("[]")
        fields[name] = FieldMeta(type_.removeprefix("[]"), is_list, strategy, key)
    return fields


STRUCTS: dict[str, dict[str, FieldMeta]] = {
    name: _parse(name, src) for name, src in _SOURCE.items()
}


def field_meta(struct: str | None, name: str) -> FieldMeta | None:
    if struct is None:
        return None
    return STRUCTS.get(struct, {}).get(name)
