"""The cluster's DNS names, as the Kubernetes DNS specification defines them, computed from
Services and EndpointSlices:

- ``<svc>.<ns>.svc.<domain>``: A to the cluster IP, or to the ready endpoints of a headless
  Service; CNAME for an ExternalName Service;
- ``_<port>._<proto>.<svc>.<ns>.svc.<domain>``: SRV for each named port;
- ``<hostname>.<svc>.<ns>.svc.<domain>``: A to one endpoint of a headless Service (the pod's
  hostname when its subdomain is the Service, otherwise its address with dashes);
- ``<a-b-c-d>.<ns>.pod.<domain>``: A to that address.

Anything else under the domain does not exist (NXDOMAIN); a name that exists without a
record of the asked type gets an empty answer.

One addition: ``<svc>.<ns>`` (exactly two labels, naming an existing Service) is answered with
a CNAME to the full name. Resolvers that apply the search path only to names without a dot
(busybox's nslookup since 1.29) then still find ``kubernetes.default``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ku7s.api.endpoint_slices import SERVICE_NAME_LABEL

Object = dict[str, Any]


@dataclass(frozen=True)
class SRV:
    port: int
    target: str
    priority: int = 0
    weight: int = 100


@dataclass
class Answer:
    """What a name resolves to; found=False means NXDOMAIN."""

    found: bool
    a: list[str] = field(default_factory=list)
    srv: list[SRV] = field(default_factory=list)
    cname: str = ""


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


class ClusterRecords:
    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = domain.strip(".").lower()
        self._a: dict[str, list[str]] = {}
        self._srv: dict[str, list[SRV]] = {}
        self._cname: dict[str, str] = {}
        self._names: set[str] = set()

    @classmethod
    def build(
        cls, services: list[Object], slices: list[Object], domain: str = "cluster.local"
    ) -> ClusterRecords:
        records = cls(domain)
        by_service: dict[tuple[str, str], list[Object]] = {}
        for endpoint_slice in slices:
            name = (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
            if name:
                key = (endpoint_slice["metadata"].get("namespace", ""), name)
                by_service.setdefault(key, []).append(endpoint_slice)
        for service in services:
            m = service["metadata"]
            records._add_service(service, by_service.get((m["namespace"], m["name"]), []))
        return records

    def _add(self, name: str) -> None:
        """Record a name and every parent up to the domain (they exist, with no records)."""
        labels = name.split(".")
        for i in range(len(labels)):
            self._names.add(".".join(labels[i:]))

    def _add_service(self, service: Object, slices: list[Object]) -> None:
        m, spec = service["metadata"], service.get("spec") or {}
        fqdn = f"{m['name']}.{m['namespace']}.svc.{self.domain}".lower()
        self._add(fqdn)
        if spec.get("type") == "ExternalName":
            self._cname[fqdn] = str(spec.get("externalName", "")).rstrip(".").lower()
            return
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip and cluster_ip != "None":
            self._a[fqdn] = [cluster_ip]
            for port in spec.get("ports") or []:
                if port.get("name"):
                    srv_name = f"_{port['name']}._{port.get('protocol', 'TCP')}.{fqdn}".lower()
                    self._srv[srv_name] = [SRV(int(port["port"]), fqdn)]
                    self._add(srv_name)
            return
        # Headless: the endpoints themselves.
        publish_all = bool(spec.get("publishNotReadyAddresses"))
        addresses: list[str] = []
        for endpoint_slice in slices:
            for endpoint in endpoint_slice.get("endpoints") or []:
                ready = (endpoint.get("conditions") or {}).get("ready") is not False
                if not (ready or publish_all):
                    continue
                for ip in endpoint.get("addresses") or []:
                    host = f"{endpoint.get('hostname') or _dashed(ip)}.{fqdn}".lower()
                    self._a.setdefault(host, []).append(ip)
                    self._add(host)
                    addresses.append(ip)
                    for port in endpoint_slice.get("ports") or []:
                        if port.get("name") and port.get("port"):
                            srv_name = (
                                f"_{port['name']}._{port.get('protocol', 'TCP')}.{fqdn}".lower()
                            )
                            self._srv.setdefault(srv_name, []).append(SRV(int(port["port"]), host))
                            self._add(srv_name)
        self._a[fqdn] = sorted(set(addresses), key=lambda ip: ipaddress.ip_address(ip))

    def in_domain(self, name: str) -> bool:
        name = name.rstrip(".").lower()
        return name == self.domain or name.endswith("." + self.domain)

    def short_service_name(self, name: str) -> str:
        """The full name of ``<svc>.<ns>``, if that is a Service; else empty."""
        labels = name.rstrip(".").lower().split(".")
        if len(labels) != 2:
            return ""
        full = f"{labels[0]}.{labels[1]}.svc.{self.domain}"
        return full if full in self._a or full in self._cname else ""

    def lookup(self, name: str) -> Answer:
        name = name.rstrip(".").lower()
        if name in self._cname:
            return Answer(True, cname=self._cname[name])
        pod_ip = self._pod_address(name)
        if pod_ip:
            return Answer(True, a=[pod_ip])
        if name not in self._names and name != self.domain:
            return Answer(False)
        return Answer(True, a=list(self._a.get(name, [])), srv=list(self._srv.get(name, [])))

    def _pod_address(self, name: str) -> str:
        """``1-2-3-4.<ns>.pod.<domain>``, answered for any namespace as CoreDNS's
        ``pods insecure`` mode does."""
        suffix = f".pod.{self.domain}"
        if not name.endswith(suffix):
            return ""
        labels = name[: -len(suffix)].split(".")
        if len(labels) != 2:
            return ""
        try:
            return str(ipaddress.IPv4Address(labels[0].replace("-", ".")))
        except ValueError:
            return ""
