"""A pod's container in CRI terms: image, command, environment, mounts, resources and
security settings, plus the labels by which the kubelet finds it again after a restart."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ku7s.api.quantity import parse_quantity
from ku7s.rpc import cri_pb2
from node_image.kubelet.sandbox_config import namespace_options, pod_labels

Object = dict[str, Any]

CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
HASH_ANNOTATION = "io.kubernetes.container.hash"
TERMINATION_MESSAGE_ANNOTATION = "io.kubernetes.container.terminationMessagePath"

CPU_PERIOD_US = 100_000
MIN_CPU_SHARES = 2
_PROPAGATION = {
    "HostToContainer": cri_pb2.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": cri_pb2.PROPAGATION_BIDIRECTIONAL,
}


def spec_hash(container: Object) -> str:
    """Changes when the container's spec does, which means the container must be remade."""
    text = json.dumps(container, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def linux_resources(container: Object, qos_class: str) -> cri_pb2.LinuxContainerResources:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    result = cri_pb2.LinuxContainerResources(cpu_period=CPU_PERIOD_US)
    cpu_request = requests.get("cpu", limits.get("cpu"))
    milli = int(parse_quantity(cpu_request) * 1000) if cpu_request is not None else 0
    result.cpu_shares = max(MIN_CPU_SHARES, milli * 1024 // 1000)
    if "cpu" in limits:
        quota = int(parse_quantity(limits["cpu"]) * CPU_PERIOD_US)
        result.cpu_quota = max(1000, quota)
    if "memory" in limits:
        result.memory_limit_in_bytes = int(parse_quantity(limits["memory"]))
    result.oom_score_adj = {"Guaranteed": -997, "BestEffort": 1000}.get(qos_class, 500)
    return result


def _capabilities(names: list[str] | None) -> list[str]:
    """As the pod spec writes them ("NET_ADMIN", "ALL"): the runtime adds the CAP_ prefix."""
    return [str(name) for name in names or []]


def security_context(pod: Object, container: Object) -> cri_pb2.LinuxContainerSecurityContext:
    spec = pod.get("spec") or {}
    pod_context = spec.get("securityContext") or {}
    own = container.get("securityContext") or {}
    capabilities = own.get("capabilities") or {}
    context = cri_pb2.LinuxContainerSecurityContext(
        capabilities=cri_pb2.Capability(
            add_capabilities=_capabilities(capabilities.get("add")),
            drop_capabilities=_capabilities(capabilities.get("drop")),
        ),
        privileged=bool(own.get("privileged")),
        namespace_options=namespace_options(spec),
        readonly_rootfs=bool(own.get("readOnlyRootFilesystem")),
        supplemental_groups=[int(g) for g in pod_context.get("supplementalGroups") or []],
        no_new_privs=own.get("allowPrivilegeEscalation") is False,
    )
    user = own.get("runAsUser", pod_context.get("runAsUser"))
    group = own.get("runAsGroup", pod_context.get("runAsGroup"))
    if user is not None:
        context.run_as_user.value = int(user)
    if group is not None:
        context.run_as_group.value = int(group)
    return context


@dataclass(frozen=True)
class ContainerFiles:
    """Files the kubelet makes for each container: /etc/hosts and the termination log."""

    etc_hosts: Path | None
    termination_log: Path


#: Volumes the kubelet writes itself: containers see them read-only, as upstream's.
_WRITTEN_BY_KUBELET = ("configMap", "secret", "downwardAPI", "projected")


def read_only_volumes(spec: Object) -> set[str]:
    """The pod's volumes every container mounts read-only: the kubelet's file volumes, and
    claims the pod uses with `readOnly: true`."""
    names = set()
    for volume in spec.get("volumes") or []:
        claim = volume.get("persistentVolumeClaim")
        if any(k in volume for k in _WRITTEN_BY_KUBELET) or (
            isinstance(claim, dict) and claim.get("readOnly")
        ):
            names.add(str(volume.get("name", "")))
    return names


def mounts(
    container: Object,
    volume_paths: dict[str, Path],
    files: ContainerFiles,
    read_only: set[str] | frozenset[str] = frozenset(),
) -> list[cri_pb2.Mount]:
    result = []
    for mount in container.get("volumeMounts") or []:
        source = volume_paths[mount["name"]]
        if mount.get("subPath"):
            source = source / mount["subPath"]
            if not source.exists():
                source.mkdir(parents=True)
        result.append(
            cri_pb2.Mount(
                container_path=mount["mountPath"],
                host_path=str(source),
                readonly=bool(mount.get("readOnly")) or mount["name"] in read_only,
                propagation=_PROPAGATION.get(
                    mount.get("mountPropagation", ""), cri_pb2.PROPAGATION_PRIVATE
                ),
            )
        )
    targets = {m.container_path for m in result}
    if files.etc_hosts is not None and "/etc/hosts" not in targets:
        result.append(cri_pb2.Mount(container_path="/etc/hosts", host_path=str(files.etc_hosts)))
    message_path = container.get("terminationMessagePath") or "/dev/termination-log"
    if message_path not in targets:
        result.append(
            cri_pb2.Mount(container_path=message_path, host_path=str(files.termination_log))
        )
    return result


def container_config(
    pod: Object,
    container: Object,
    *,
    restart_count: int,
    env: dict[str, str],
    command: list[str],
    args: list[str],
    mounts: list[cri_pb2.Mount],
    qos_class: str,
) -> cri_pb2.ContainerConfig:
    name = container["name"]
    spec = pod.get("spec") or {}
    grace = spec.get("terminationGracePeriodSeconds", 30)
    return cri_pb2.ContainerConfig(
        metadata=cri_pb2.ContainerMetadata(name=name, attempt=restart_count),
        image=cri_pb2.ImageSpec(image=container.get("image", "")),
        command=command,
        args=args,
        working_dir=container.get("workingDir", ""),
        envs=[cri_pb2.KeyValue(key=k, value=v) for k, v in env.items()],
        mounts=mounts,
        labels={**pod_labels(pod), CONTAINER_NAME_LABEL: name},
        annotations={
            RESTART_COUNT_ANNOTATION: str(restart_count),
            HASH_ANNOTATION: spec_hash(container),
            TERMINATION_MESSAGE_ANNOTATION: container.get(
                "terminationMessagePath", "/dev/termination-log"
            ),
            "io.kubernetes.pod.terminationGracePeriod": str(grace),
        },
        log_path=f"{name}/{restart_count}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=cri_pb2.LinuxContainerConfig(
            resources=linux_resources(container, qos_class),
            security_context=security_context(pod, container),
        ),
    )
