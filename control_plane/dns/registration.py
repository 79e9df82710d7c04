"""The ``kube-system/kube-dns`` Service, its Endpoints and its EndpointSlice, pointing at this
container: what a CoreDNS Deployment gets from its selector, written here because the DNS
runs beside the control plane rather than in pods. Rewritten at every start, as the
container's address may change."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from typing import Any

from ku7s.aio import sleep_unless
from ku7s.api.endpoint_slices import SERVICE_NAME_LABEL, STAND_IN_POD_LABELS
from ku7s.client.rest import APIClient, APIStatusError, create_or_replace

Object = dict[str, Any]

log = logging.getLogger("cluster-dns")

NAME = "kube-dns"
NAMESPACE = "kube-system"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
PORTS = (("dns", "UDP"), ("dns-tcp", "TCP"))


def cluster_dns_ip(service_cidr: str) -> str:
    return str(ipaddress.ip_network(service_cidr).network_address + 10)


def service(cluster_ip: str) -> Object:
    return {
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": LABELS,
            # CoreDNS pods carry k8s-app=kube-dns; policies that allow DNS select them.
            "annotations": {STAND_IN_POD_LABELS: json.dumps({"k8s-app": "kube-dns"})},
        },
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [
                {"name": name, "port": 53, "protocol": protocol, "targetPort": 53}
                for name, protocol in PORTS
            ],
        },
    }


def endpoints(address: str, port: int) -> Object:
    return {
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": n, "port": port, "protocol": p} for n, p in PORTS],
            }
        ],
    }


def endpoint_slice(address: str, port: int) -> Object:
    return {
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {**LABELS, SERVICE_NAME_LABEL: NAME},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": n, "port": port, "protocol": p} for n, p in PORTS],
    }


async def register_service(
    client: APIClient, service_cidr: str, address: str, port: int, stop: asyncio.Event
) -> None:
    core = f"/api/v1/namespaces/{NAMESPACE}"
    discovery = f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}"
    ip = cluster_dns_ip(service_cidr)
    while not stop.is_set():
        try:
            try:
                await client.get(f"{core}/services/{NAME}")
            except APIStatusError as e:
                if e.code != 404:
                    raise
                await client.create(f"{core}/services", service(ip))
            await create_or_replace(client, f"{core}/endpoints", endpoints(address, port))
            await create_or_replace(
                client, f"{discovery}/endpointslices", endpoint_slice(address, port)
            )
            log.info("registered as Service %s/%s at %s -> %s", NAMESPACE, NAME, ip, address)
            return
        except (APIStatusError, OSError, TimeoutError) as e:
            log.info("registering the kube-dns Service failed, retrying: %s", e)
            await sleep_unless(stop, 1)
