"""The record of a cluster's Docker hosts, which the CLI writes and the route agents follow.

A cluster spans several Docker engines by giving each engine ("Docker host") its own network
subnet and one gateway container. Gateways carry traffic between hosts over a VXLAN overlay
(UDP, so it crosses NAT and needs nothing set up on the hosts themselves); nodes route the
other hosts' subnets and pod CIDRs via their host's gateway. The record lives in the
ConfigMap ``kube-system/ku7s-docker-hosts`` as a JSON list under ``hosts.json``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass
from typing import Any

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "ku7s-docker-hosts"
CONFIGMAP_KEY = "hosts.json"
#: The Docker host the cluster was created on.
LOCAL_HOST = "local"
#: The VXLAN device in gateways, its network identifier, and the UDP port it listens on.
VXLAN_DEVICE = "ku7s-vx"
VXLAN_ID = 77
VXLAN_PORT = 4789
#: 50 bytes of outer headers less than the 1500 of Docker's networks.
VXLAN_MTU = 1450
#: Gateways' addresses on the overlay, one per Docker host.
VTEP_NETWORK = ipaddress.ip_network("100.64.77.0/24")


@dataclass(frozen=True)
class DockerHost:
    """One Docker engine of the cluster and how the others reach its gateway."""

    name: str
    #: ssh://user@host[:port], "" for the local engine.
    url: str
    #: The cluster network's subnet on this engine (distinct on every host).
    subnet: str
    #: The gateway container's address on that network: where nodes send other hosts' traffic.
    gateway: str
    #: The gateway's overlay address.
    vtep: str
    #: Where other hosts' gateways send this one's VXLAN packets: address and UDP port.
    endpoint_address: str
    endpoint_port: int
    #: How to reach the engine again (delete node, delete cluster): as given at create time.
    identity: str = ""
    known_hosts: str = ""
    fingerprint: str = ""

    @property
    def mac(self) -> str:
        """The gateway's VXLAN MAC address, made from its overlay address."""
        octets = ipaddress.ip_address(self.vtep).packed
        return "02:77:" + ":".join(f"{b:02x}" for b in octets)

    def holds(self, address: str) -> bool:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.subnet)
        except ValueError:
            return False


def parse_hosts(text: str | bytes) -> list[DockerHost]:
    fields = set(DockerHost.__dataclass_fields__)
    return [DockerHost(**{k: v for k, v in h.items() if k in fields}) for h in json.loads(text)]


def dump_hosts(hosts: list[DockerHost]) -> str:
    return json.dumps([asdict(h) for h in hosts], indent=1)


def hosts_from_configmaps(configmaps: list[dict[str, Any]]) -> list[DockerHost]:
    """The record, from a list of kube-system's ConfigMaps ([] when there is none)."""
    for configmap in configmaps:
        if configmap.get("metadata", {}).get("name") == CONFIGMAP_NAME:
            try:
                return parse_hosts((configmap.get("data") or {}).get(CONFIGMAP_KEY, "[]"))
            except (ValueError, TypeError):
                return []
    return []


def host_of(address: str, hosts: list[DockerHost]) -> DockerHost | None:
    return next((h for h in hosts if h.holds(address)), None)


def next_vtep(hosts: list[DockerHost]) -> str:
    taken = {h.vtep for h in hosts}
    return next(str(a) for a in VTEP_NETWORK.hosts() if str(a) not in taken)
