"""A pod's sandbox in CRI terms: names, hostname, DNS, host ports, cgroup and namespaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ku7s.rpc import cri_pb2

Object = dict[str, Any]

POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
_PROTOCOLS = {"TCP": cri_pb2.TCP, "UDP": cri_pb2.UDP, "SCTP": cri_pb2.SCTP}


@dataclass(frozen=True)
class ClusterDNS:
    server: str = "10.96.0.10"
    domain: str = "cluster.local"
    #: The node's own resolver settings, for dnsPolicy Default.
    node_servers: tuple[str, ...] = ()
    node_searches: tuple[str, ...] = ()


def log_directory(pod: Object) -> str:
    m = pod["metadata"]
    return f"/var/log/pods/{m['namespace']}_{m['name']}_{m['uid']}"


def pod_labels(pod: Object) -> dict[str, str]:
    m = pod["metadata"]
    return {
        POD_NAME_LABEL: m["name"],
        POD_NAMESPACE_LABEL: m["namespace"],
        POD_UID_LABEL: m["uid"],
    }


def dns_config(pod: Object, dns: ClusterDNS) -> cri_pb2.DNSConfig:
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        namespace = pod["metadata"]["namespace"]
        servers = [dns.server]
        searches = [f"{namespace}.svc.{dns.domain}", f"svc.{dns.domain}", dns.domain]
        options = ["ndots:5"]
    elif policy == "Default":
        servers, searches = list(dns.node_servers), list(dns.node_searches)
    extra = spec.get("dnsConfig") or {}
    servers += [s for s in extra.get("nameservers") or [] if s not in servers]
    searches += [s for s in extra.get("searches") or [] if s not in searches]
    for option in extra.get("options") or []:
        text = option.get("name", "") + (f":{option['value']}" if option.get("value") else "")
        options = [o for o in options if o.split(":")[0] != option.get("name")] + [text]
    return cri_pb2.DNSConfig(servers=servers, searches=searches, options=options)


def namespace_options(spec: Object) -> cri_pb2.NamespaceOption:
    return cri_pb2.NamespaceOption(
        network=cri_pb2.NODE if spec.get("hostNetwork") else cri_pb2.POD,
        pid=(
            cri_pb2.NODE
            if spec.get("hostPID")
            else cri_pb2.POD
            if spec.get("shareProcessNamespace")
            else cri_pb2.CONTAINER
        ),
        ipc=cri_pb2.NODE if spec.get("hostIPC") else cri_pb2.POD,
    )


def hostname(pod: Object) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return ""
    return str(spec.get("hostname") or pod["metadata"]["name"])[:63].rstrip("-.")


def port_mappings(spec: Object) -> list[cri_pb2.PortMapping]:
    mappings = []
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if not port.get("hostPort"):
                continue
            mappings.append(
                cri_pb2.PortMapping(
                    protocol=_PROTOCOLS.get(port.get("protocol", "TCP"), cri_pb2.TCP),
                    container_port=int(port["containerPort"]),
                    host_port=int(port["hostPort"]),
                    host_ip=port.get("hostIP", ""),
                )
            )
    return mappings


def sandbox_config(
    pod: Object, attempt: int, cgroup_parent: str, dns: ClusterDNS
) -> cri_pb2.PodSandboxConfig:
    metadata, spec = pod["metadata"], pod.get("spec") or {}
    security = spec.get("securityContext") or {}
    context = cri_pb2.LinuxSandboxSecurityContext(
        namespace_options=namespace_options(spec),
        supplemental_groups=[int(g) for g in security.get("supplementalGroups") or []],
    )
    if security.get("runAsUser") is not None:
        context.run_as_user.value = int(security["runAsUser"])
    if security.get("runAsGroup") is not None:
        context.run_as_group.value = int(security["runAsGroup"])
    sysctls = {s["name"]: str(s.get("value", "")) for s in security.get("sysctls") or []}
    return cri_pb2.PodSandboxConfig(
        metadata=cri_pb2.PodSandboxMetadata(
            name=metadata["name"],
            uid=metadata["uid"],
            namespace=metadata["namespace"],
            attempt=attempt,
        ),
        hostname=hostname(pod),
        log_directory=log_directory(pod),
        dns_config=dns_config(pod, dns),
        port_mappings=port_mappings(spec),
        labels={**(metadata.get("labels") or {}), **pod_labels(pod)},
        annotations=dict(metadata.get("annotations") or {}),
        linux=cri_pb2.LinuxPodSandboxConfig(
            cgroup_parent=cgroup_parent, security_context=context, sysctls=sysctls
        ),
    )
