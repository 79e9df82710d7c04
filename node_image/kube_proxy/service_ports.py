"""What kube-proxy programs, read from Services and EndpointSlices: one ServicePort per port
of each Service, with the endpoints that serve it.

Kept apart from the rule text so the model can be tested on its own and the renderer stays
a pure function of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]

DEFAULT_AFFINITY_SECONDS = 10800


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node_name: str = ""

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    service: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int = 0
    #: Addresses from outside the cluster that reach the Service: externalIPs and the
    #: LoadBalancer's ingress IPs.
    external_ips: tuple[str, ...] = ()
    external_local: bool = False
    affinity_seconds: int = 0
    endpoints: tuple[Endpoint, ...] = field(default=())

    @property
    def name(self) -> str:
        """As upstream names it in its rule comments: ``namespace/service:port``."""
        suffix = f":{self.port_name}" if self.port_name else ""
        return f"{self.namespace}/{self.service}{suffix}"

    def usable_endpoints(self, node_name: str | None = None) -> list[Endpoint]:
        """Ready endpoints; when none is ready, the serving terminating ones (so a rolling
        update never drops connections it could still serve), as upstream does. With a
        node name, only the endpoints on that node."""
        candidates = [e for e in self.endpoints if node_name is None or e.node_name == node_name]
        ready = [e for e in candidates if e.ready]
        if ready:
            return ready
        return [e for e in candidates if e.serving and e.terminating]


def service_ports(service: Object, slices: list[Object]) -> list[ServicePort]:
    """The ServicePorts of one Service, with endpoints merged from its slices."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    cluster_ip = spec.get("clusterIP") or ""
    if not cluster_ip or cluster_ip == "None":
        return []  # headless: DNS answers with the pods, nothing to proxy
    metadata = service["metadata"]
    external = [*(spec.get("externalIPs") or [])]
    if spec.get("type") == "LoadBalancer":
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external += [i["ip"] for i in ingress if i.get("ip")]
    external_local = spec.get("externalTrafficPolicy") == "Local" and spec.get("type") in (
        "NodePort",
        "LoadBalancer",
    )
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    ports: list[ServicePort] = []
    for port in spec.get("ports") or []:
        name = port.get("name", "")
        protocol = port.get("protocol", "TCP")
        ports.append(
            ServicePort(
                namespace=metadata["namespace"],
                service=metadata["name"],
                port_name=name,
                protocol=protocol,
                cluster_ip=cluster_ip,
                port=int(port["port"]),
                node_port=int(port.get("nodePort") or 0),
                external_ips=tuple(dict.fromkeys(external)),
                external_local=external_local,
                affinity_seconds=affinity,
                endpoints=tuple(_endpoints_for(name, protocol, slices)),
            )
        )
    return ports


def _endpoints_for(port_name: str, protocol: str, slices: list[Object]) -> list[Endpoint]:
    found: dict[str, Endpoint] = {}
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType", "IPv4") != "IPv4":
            continue
        number = next(
            (
                p.get("port")
                for p in endpoint_slice.get("ports") or []
                if p.get("name", "") == port_name and p.get("protocol", "TCP") == protocol
            ),
            None,
        )
        if not number:
            continue
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False
            for ip in endpoint.get("addresses") or []:
                candidate = Endpoint(
                    ip=ip,
                    port=int(number),
                    ready=ready,
                    serving=conditions.get("serving", ready) is not False,
                    terminating=bool(conditions.get("terminating")),
                    node_name=endpoint.get("nodeName") or "",
                )
                # The same address in two slices (a move between them): the ready one wins.
                if candidate.address not in found or candidate.ready:
                    found[candidate.address] = candidate
    return sorted(found.values(), key=lambda e: (e.ip, e.port))
