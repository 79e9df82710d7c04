"""kube-proxy entry point. It speaks to the API with the node's identity (the certificate the
kubelet obtained when it joined) and reads the cluster's pod network from the
``kube-system/kube-proxy`` ConfigMap, as a kubeadm cluster's kube-proxy does.

The same process keeps the routes to the other nodes' pod CIDRs (kindnet's job in kind)
and enforces NetworkPolicies for the node's pods (kube-network-policies' job in kind): all
follow the API with one client and shared informers, which saves a Python process per node.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import uvloop
import yaml
from prometheus_client import CollectorRegistry

from ku7s.aio import sleep_unless, stop_on_signals
from ku7s.client.informer import InformerFactory
from ku7s.client.rest import APIClient, APIStatusError, client_ssl_context
from ku7s.metrics.endpoint import MetricsEndpoint
from ku7s.metrics.ports import PORTS
from ku7s.pod_network.routes import PodRoutes, docker_hosts_informer, node_plan
from node_image.kube_proxy.iptables import IPTables
from node_image.kube_proxy.metrics import ProxyMetrics
from node_image.kube_proxy.proxier import Proxier
from node_image.kube_proxy.rules import NodeContext
from node_image.network_policy.agent import NetworkPolicyAgent
from node_image.network_policy.metrics import PolicyMetrics

log = logging.getLogger("kube-proxy")

API_PORT = 6443


async def node_client(env: dict[str, str], stop: asyncio.Event) -> APIClient | None:
    """The API client with the kubelet's credentials, once the kubelet has them."""
    state = Path(env.get("KU7S_KUBELET_DIR", "/var/lib/ku7s/kubelet"))
    cert, key = state / "kubelet-client.crt", state / "kubelet-client.key"
    ca = Path(env.get("KU7S_CA_FILE", "/etc/ku7s/pki/ca.crt"))
    while not (cert.exists() and key.exists()):
        if stop.is_set():
            return None
        await sleep_unless(stop, 0.2)
    context = client_ssl_context(ca.read_bytes(), cert.read_bytes(), key.read_bytes())
    return APIClient(f"https://{env['KU7S_CONTROL_PLANE']}:{API_PORT}", context, timeout=30)


async def cluster_cidr(client: APIClient, stop: asyncio.Event) -> str:
    while not stop.is_set():
        try:
            config = await client.get("/api/v1/namespaces/kube-system/configmaps/kube-proxy")
            parsed = yaml.safe_load((config.get("data") or {}).get("config.conf", "")) or {}
            return str(parsed.get("clusterCIDR", ""))
        except (APIStatusError, OSError, TimeoutError) as e:
            log.info("waiting for the kube-proxy configuration: %s", e)
            await sleep_unless(stop, 1)
    return ""


async def run(env: dict[str, str], stop: asyncio.Event) -> None:
    node_name = env["KU7S_NODE_NAME"]
    client = await node_client(env, stop)
    if client is None:
        return
    async with client:
        cidr = await cluster_cidr(client, stop)
        if stop.is_set():
            return
        log.info("node %s, cluster CIDR %s", node_name, cidr)
        informers = InformerFactory(client)
        docker_hosts = docker_hosts_informer(client)
        routes = PodRoutes(
            informers.informer("/api/v1/nodes"), node_plan(node_name), docker_hosts=docker_hosts
        )
        registry = CollectorRegistry()
        metrics = ProxyMetrics(registry)
        proxier = Proxier(informers, IPTables(), NodeContext(node_name, cidr), metrics=metrics)
        policies = NetworkPolicyAgent(
            informers, IPTables(), node_name, metrics=PolicyMetrics(registry)
        )
        endpoint = MetricsEndpoint({"/metrics": registry}, PORTS["kube-proxy"])
        async with asyncio.TaskGroup() as group:
            group.create_task(endpoint.run(stop))
            for informer in [*informers.all(), docker_hosts]:
                group.create_task(informer.run(stop))
            group.create_task(routes.run(stop))
            group.create_task(proxier.run(stop))
            group.create_task(policies.run(stop))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def start() -> None:
        stop = stop_on_signals()
        await run(dict(os.environ), stop)

    uvloop.run(start())


if __name__ == "__main__":
    main()
