"""kubelet entry point; node settings come from the container's environment (set by
`ku7s create cluster` / `ku7s create node`)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from prometheus_client import CollectorRegistry

from ku7s.aio import stop_on_signals
from ku7s.names import cluster_from_env
from node_image.kubelet.cgroups import PodCgroups
from node_image.kubelet.credentials import CredentialStore
from node_image.kubelet.cri import CRIClient
from node_image.kubelet.images import ImagePreloader
from node_image.kubelet.kubelet import ControlPlaneEndpoint, Kubelet, PodSettings
from node_image.kubelet.metrics import KubeletMetrics
from node_image.kubelet.node_info import NodeSettings
from node_image.kubelet.resource_metrics import UsageSource
from node_image.kubelet.resource_usage import CgroupReader
from node_image.kubelet.sandbox_config import ClusterDNS

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CNI_CONF_DIR = "/etc/cni/net.d"


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[tuple[str, str, str]]:
    """``key=value:Effect,key2:Effect`` as kubelet's --register-with-taints takes them."""
    taints = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        key_value, _, effect = item.rpartition(":")
        key, _, value = key_value.partition("=")
        taints.append((key, value, effect))
    return taints


def node_resolver(path: Path) -> ClusterDNS:
    """The node's nameservers and search domains, for pods with dnsPolicy Default."""
    servers: list[str] = []
    searches: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
        elif fields and fields[0] == "search":
            searches = fields[1:]
    return ClusterDNS(node_servers=tuple(servers), node_searches=tuple(searches))


def settings_from_env(env: dict[str, str]) -> NodeSettings:
    return NodeSettings(
        name=env["KU7S_NODE_NAME"],
        cluster=cluster_from_env(env),
        labels=parse_labels(env.get("KU7S_NODE_LABELS", "")),
        taints=parse_taints(env.get("KU7S_NODE_TAINTS", "")),
        cpu=env.get("KU7S_NODE_CPU") or None,
        memory=env.get("KU7S_NODE_MEMORY") or None,
        address=env.get("KU7S_NODE_IP", ""),
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = dict(os.environ)
    settings = settings_from_env(env)
    state = Path(env.get("KU7S_KUBELET_DIR", "/var/lib/ku7s/kubelet"))

    async def run() -> None:
        stop = stop_on_signals()
        metrics = KubeletMetrics(CollectorRegistry(), settings.name)
        # Node containers use the defaults; a machine joined over SSH keeps its own
        # containerd and CNI files out of the distribution's paths.
        socket = env.get("KU7S_CONTAINERD_SOCKET", CONTAINERD_SOCKET)
        cri = CRIClient(socket, observe=metrics.runtime_operation)
        cgroups = PodCgroups.of_this_process()
        usage = UsageSource(CgroupReader(), cgroups, cgroups.node_cgroup)
        kubelet = Kubelet(
            settings,
            ControlPlaneEndpoint(env["KU7S_CONTROL_PLANE"]),
            env.get("KU7S_BOOTSTRAP_TOKEN", ""),
            cri,
            CredentialStore(state, Path(env.get("KU7S_CA_FILE", "/etc/ku7s/pki/ca.crt"))),
            ImagePreloader(Path("/var/lib/ku7s/images"), socket),
            Path(env.get("KU7S_CNI_CONF_DIR", CNI_CONF_DIR)),
            cgroups,
            PodSettings(dns=node_resolver(Path("/etc/resolv.conf"))),
            metrics=metrics,
            usage=usage,
        )
        try:
            await kubelet.run(stop)
        finally:
            await cri.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
