"""The rule set, rendered as ``iptables-restore`` input: a pure function of the ServicePorts,
so one sync is one transaction and a test can read exactly what a node would get.

The chains follow upstream's iptables proxier, so its users recognise them:
KUBE-SERVICES (entry from PREROUTING and OUTPUT), KUBE-SVC-* (pick an endpoint at random),
KUBE-SEP-* (DNAT to it), KUBE-EXT-* (NodePort and external traffic), KUBE-SVL-* (local
endpoints only, for ``externalTrafficPolicy: Local``), KUBE-NODEPORTS, and masquerading by
mark in KUBE-POSTROUTING. Services without endpoints are rejected in the filter table, so a
client sees "connection refused" at once rather than a hang.

Session affinity (ClientIP) uses the ``recent`` match as upstream does where the kernel has
it; where it does not, the client's address is hashed (HMARK) onto an endpoint, which keeps a
client on one endpoint while the endpoint set is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from node_image.kube_proxy.service_ports import Endpoint, ServicePort

MASQ_MARK = "0x4000"
#: HMARK writes its hash here, clear of the masquerade bit.
HASH_MARK_BASE = 0x1000
HASH_MARK_MASK = "0x3fff"

NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES")
OWN_PREFIXES = ("KUBE-",)

#: (table, built-in chain, rule) that send packets into our chains.
JUMPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "nat",
        "PREROUTING",
        ("-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"),
    ),
    (
        "nat",
        "OUTPUT",
        ("-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"),
    ),
    (
        "nat",
        "POSTROUTING",
        ("-m", "comment", "--comment", "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"),
    ),
    ("filter", "INPUT", ("-m", "conntrack", "--ctstate", "NEW", "-j", "KUBE-SERVICES")),
    ("filter", "FORWARD", ("-m", "conntrack", "--ctstate", "NEW", "-j", "KUBE-SERVICES")),
    ("filter", "OUTPUT", ("-m", "conntrack", "--ctstate", "NEW", "-j", "KUBE-SERVICES")),
    ("filter", "INPUT", ("-m", "conntrack", "--ctstate", "NEW", "-j", "KUBE-EXTERNAL-SERVICES")),
    ("filter", "FORWARD", ("-m", "conntrack", "--ctstate", "NEW", "-j", "KUBE-EXTERNAL-SERVICES")),
)


class Affinity(Enum):
    RECENT = "recent"
    HASH = "hash"


@dataclass(frozen=True)
class NodeContext:
    node_name: str
    cluster_cidr: str
    affinity: Affinity = Affinity.RECENT


def chain_name(prefix: str, *parts: str) -> str:
    """KUBE-XXX-<16 base32 characters of a digest>, within iptables' 28-character limit."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return f"{prefix}-{base64.b32encode(digest).decode()[:16]}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _proto(protocol: str, port: int) -> str:
    p = protocol.lower()
    return f"-p {p} -m {p} --dport {port}"


def _rule(chain: str, *parts: str) -> str:
    return " ".join(["-A", chain, *(p for p in parts if p)])


REJECT = "-j REJECT --reject-with icmp-port-unreachable"
LOCAL_DESTINATION = "-m addrtype --dst-type LOCAL"


@dataclass
class RuleSet:
    """The two tables' text and the chains they define (stale ones are deleted by name)."""

    nat: list[str]
    filter: list[str]
    nat_chains: list[str]
    filter_chains: list[str]

    def counts(self) -> dict[str, int]:
        """Rules per table, as kubeproxy_sync_proxy_rules_iptables_total reports them."""
        return {"filter": len(self.filter), "nat": len(self.nat)}

    def restore_input(self, stale_nat: Sequence[str] = (), stale_filter: Sequence[str] = ()) -> str:
        """Declaring a chain flushes it; chains no longer rendered are declared and deleted."""
        out: list[str] = []
        for table, chains, rules, stale in (
            ("filter", self.filter_chains, self.filter, stale_filter),
            ("nat", self.nat_chains, self.nat, stale_nat),
        ):
            out.append(f"*{table}")
            out += [f":{c} - [0:0]" for c in [*chains, *stale]]
            out += rules
            out += [f"-X {c}" for c in stale]
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def render(ports: list[ServicePort], node: NodeContext) -> RuleSet:
    nat: list[str] = []
    filter_rules: list[str] = []
    nat_chains = list(NAT_CHAINS)
    services: list[str] = []
    nodeports: list[str] = []
    from_outside = f"! -s {node.cluster_cidr}"

    for sp in sorted(ports, key=lambda p: (p.name, p.protocol)):
        endpoints = sp.usable_endpoints()
        svc_chain = chain_name("KUBE-SVC", sp.name, sp.protocol)
        ext_chain = chain_name("KUBE-EXT", sp.name, sp.protocol)
        cluster_ip = f"-d {sp.cluster_ip}/32 {_proto(sp.protocol, sp.port)}"
        external_ips = [f"-d {ip}/32 {_proto(sp.protocol, sp.port)}" for ip in sp.external_ips]
        node_port = f"{LOCAL_DESTINATION} {_proto(sp.protocol, sp.node_port)}"
        if not endpoints:
            why = _comment(f"{sp.name} has no endpoints")
            filter_rules.append(_rule("KUBE-SERVICES", why, cluster_ip, REJECT))
            for match in external_ips + ([node_port] if sp.node_port else []):
                filter_rules.append(_rule("KUBE-EXTERNAL-SERVICES", why, match, REJECT))
            continue

        nat_chains.append(svc_chain)
        services.append(
            _rule("KUBE-SERVICES", _comment(f"{sp.name} cluster IP"), cluster_ip, f"-j {svc_chain}")
        )
        # Off-cluster clients of the cluster IP are masqueraded, then one endpoint is picked.
        nat.append(
            _rule(svc_chain, _comment(f"{sp.name} cluster IP"), from_outside, cluster_ip)
            + " -j KUBE-MARK-MASQ"
        )
        nat += _balance(svc_chain, sp, endpoints, node)
        nat += _endpoint_chains(sp, endpoints, nat_chains, node)

        if not (sp.node_port or sp.external_ips):
            continue
        nat_chains.append(ext_chain)
        for match in external_ips:
            services.append(
                _rule("KUBE-SERVICES", _comment(f"{sp.name} external IP"), match, f"-j {ext_chain}")
            )
        if sp.node_port:
            nodeports.append(
                _rule(
                    "KUBE-NODEPORTS",
                    _comment(sp.name),
                    _proto(sp.protocol, sp.node_port),
                    f"-j {ext_chain}",
                )
            )
        if not sp.external_local:
            nat.append(_rule(ext_chain, _comment(f"masquerade {sp.name}"), "-j KUBE-MARK-MASQ"))
            nat.append(_rule(ext_chain, f"-j {svc_chain}"))
            continue
        # externalTrafficPolicy Local: pods and the node itself may use any endpoint; other
        # clients only this node's, unmasqueraded, so the pod sees their address.
        nat.append(
            _rule(
                ext_chain, _comment(f"pods to {sp.name}"), f"-s {node.cluster_cidr} -j {svc_chain}"
            )
        )
        nat.append(_rule(ext_chain, "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"))
        nat.append(_rule(ext_chain, f"-m addrtype --src-type LOCAL -j {svc_chain}"))
        local = sp.usable_endpoints(node.node_name)
        if local:
            svl_chain = chain_name("KUBE-SVL", sp.name, sp.protocol)
            nat_chains.append(svl_chain)
            nat.append(_rule(ext_chain, f"-j {svl_chain}"))
            nat += _balance(svl_chain, sp, local, node)
            continue
        why = _comment(f"{sp.name} has no local endpoints")
        for match in external_ips + ([node_port] if sp.node_port else []):
            filter_rules.append(
                _rule(
                    "KUBE-EXTERNAL-SERVICES",
                    why,
                    from_outside,
                    "-m addrtype ! --src-type LOCAL",
                    match,
                    "-j DROP",
                )
            )

    header = [
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}",
        _rule(
            "KUBE-POSTROUTING",
            _comment("kubernetes service traffic requiring SNAT"),
            "-j MASQUERADE --random-fully",
        ),
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}",
    ]
    last = _rule(
        "KUBE-SERVICES",
        _comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
        LOCAL_DESTINATION,
        "-j KUBE-NODEPORTS",
    )
    return RuleSet(
        nat=[*header, *services, last, *nodeports, *nat],
        filter=filter_rules,
        nat_chains=nat_chains,
        filter_chains=list(FILTER_CHAINS),
    )


def _sep_chain(sp: ServicePort, endpoint: Endpoint) -> str:
    return chain_name("KUBE-SEP", sp.name, sp.protocol, endpoint.address)


def _balance(
    chain: str, sp: ServicePort, endpoints: list[Endpoint], node: NodeContext
) -> list[str]:
    """Rules of `chain` that send a new connection to one of the endpoints."""
    rules: list[str] = []
    seps = [_sep_chain(sp, e) for e in endpoints]
    pairs = list(zip(endpoints, seps, strict=True))
    if sp.affinity_seconds and node.affinity is Affinity.RECENT:
        for endpoint, sep in pairs:
            rules.append(
                _rule(
                    chain,
                    _comment(f"{sp.name} -> {endpoint.address}"),
                    f"-m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck",
                    f"--seconds {sp.affinity_seconds} --reap -j {sep}",
                )
            )
    if sp.affinity_seconds and node.affinity is Affinity.HASH and len(seps) > 1:
        rules.append(
            _rule(
                chain,
                f"-j HMARK --hmark-tuple src --hmark-mod {len(seps)}",
                f"--hmark-offset {HASH_MARK_BASE:#x} --hmark-rnd 0x6b753773",
            )
        )
        for i, (endpoint, sep) in enumerate(pairs):
            rules.append(
                _rule(
                    chain,
                    _comment(f"{sp.name} -> {endpoint.address}"),
                    f"-m mark --mark {HASH_MARK_BASE + i:#x}/{HASH_MARK_MASK} -j {sep}",
                )
            )
        return rules
    for i, (endpoint, sep) in enumerate(pairs):
        left = len(pairs) - i
        chance = f"-m statistic --mode random --probability {1.0 / left:.10f}" if left > 1 else ""
        rules.append(
            _rule(chain, _comment(f"{sp.name} -> {endpoint.address}"), chance, f"-j {sep}")
        )
    return rules


def _endpoint_chains(
    sp: ServicePort, endpoints: list[Endpoint], nat_chains: list[str], node: NodeContext
) -> list[str]:
    rules: list[str] = []
    p = sp.protocol.lower()
    for endpoint in endpoints:
        sep = _sep_chain(sp, endpoint)
        nat_chains.append(sep)
        # A pod reaching itself through its Service must see the reply come back (hairpin).
        rules.append(_rule(sep, _comment(sp.name), f"-s {endpoint.ip}/32 -j KUBE-MARK-MASQ"))
        remember = (
            f"-m recent --set --name {sep} --mask 255.255.255.255 --rsource"
            if sp.affinity_seconds and node.affinity is Affinity.RECENT
            else ""
        )
        rules.append(
            _rule(
                sep,
                _comment(sp.name),
                f"-p {p}",
                remember,
                f"-m {p} -j DNAT --to-destination {endpoint.address}",
            )
        )
    return rules
