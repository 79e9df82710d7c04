"""NetworkPolicy as iptables rules for one node: a pure function of the pods, namespaces and
policies, rendered as ``iptables-restore`` input for the filter table, so a test reads
exactly what a node enforces.

Only the node's own pods are guarded here (each node guards its own): traffic forwarded
from a local pod goes through that pod's egress chain, traffic to a local pod through its
ingress chain. A chain RETURNs what a policy allows (and the pod's traffic to itself) and
drops the rest; a pod that no
policy of a direction selects has no chain for it, so all passes, as upstream. Replies of
allowed connections pass by conntrack state before any chain is consulted.

Chains: KU7S-NP-FORWARD (entry from FORWARD), KU7S-NPI-<pod> and KU7S-NPE-<pod>.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ku7s.api import meta
from ku7s.api.selectors import SelectorError, from_label_selector
from node_image.kube_proxy.rules import chain_name

Object = dict[str, Any]

ENTRY = "KU7S-NP-FORWARD"
OWN_PREFIXES = ("KU7S-NP",)
#: The jump from FORWARD, first: policy decides before anything accepts a packet.
JUMP = ("-m", "comment", "--comment", "ku7s network policies", "-j", ENTRY)


@dataclass(frozen=True)
class PolicyPod:
    """What policies look at in a pod (or in an endpoint that stands for one)."""

    namespace: str
    name: str
    node: str
    ips: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    #: port name -> (number, protocol)
    named_ports: dict[str, tuple[int, str]] = field(default_factory=dict, hash=False)


@dataclass
class RuleSet:
    chains: list[str]
    lines: list[str]

    def restore_input(self, stale: list[str]) -> str:
        declared = [*self.chains, *stale]
        text = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in declared)
        text += "".join(f"-F {c}\n" for c in self.chains)
        text += "".join(f"{line}\n" for line in self.lines)
        text += "".join(f"-X {c}\n" for c in stale)
        return text + "COMMIT\n"


def selects(selector: Object | None, labels: dict[str, str]) -> bool:
    """A LabelSelector as policies read it: absent or empty selects everything."""
    if not selector:
        return True
    try:
        return from_label_selector(selector).matches(labels)
    except SelectorError:
        return False


def policy_types(policy: Object) -> list[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress", "Egress"] if spec.get("egress") is not None else ["Ingress"]


def cidrs_of(block: Object) -> list[str]:
    """An ipBlock's CIDR with its exceptions cut out, as plain networks (IPv4: the pod
    network is)."""
    try:
        networks = [ipaddress.IPv4Network(str(block.get("cidr", "")), strict=False)]
        cuts = [ipaddress.IPv4Network(str(e), strict=False) for e in block.get("except") or []]
    except ValueError:
        return []
    for cut in cuts:
        remaining: list[ipaddress.IPv4Network] = []
        for network in networks:
            if cut.subnet_of(network):
                remaining += network.address_exclude(cut)
            elif not network.subnet_of(cut):
                remaining.append(network)
        networks = remaining
    return sorted(str(n) for n in networks)


def _peer_pods(
    peer: Object,
    policy_namespace: str,
    pods: list[PolicyPod],
    namespaces: dict[str, dict[str, str]],
) -> list[PolicyPod]:
    if "namespaceSelector" in peer:
        selector = peer.get("namespaceSelector")
        chosen = {n for n, labels in namespaces.items() if selects(selector, labels)}
    else:
        chosen = {policy_namespace}
    pod_selector = peer.get("podSelector")
    return [p for p in pods if p.namespace in chosen and selects(pod_selector, p.labels)]


def _port_matches(port: Object, resolve: PolicyPod | None) -> list[str]:
    """iptables matches for one NetworkPolicyPort; [] when a named port does not resolve."""
    protocol = str(port.get("protocol") or "TCP")
    number = port.get("port")
    if number is None:
        return [f"-p {protocol.lower()}"]
    if isinstance(number, str) and not number.isdigit():
        found = resolve.named_ports.get(number) if resolve is not None else None
        if found is None or found[1] != protocol:
            return []
        return [f"-p {protocol.lower()} --dport {found[0]}"]
    end = port.get("endPort")
    span = f"{int(number)}:{int(end)}" if end else str(int(number))
    return [f"-p {protocol.lower()} --dport {span}"]


def _rule_lines(
    chain: str, rule: Object, peers_key: str, direction: str, guarded: PolicyPod, context: _Context
) -> Iterator[str]:
    """RETURN lines for one ingress or egress rule of a policy of guarded's namespace."""
    address_flag = "-s" if direction == "Ingress" else "-d"
    peers = rule.get(peers_key)
    ports = rule.get("ports") or [None]
    # (address, the pod named ports resolve against) for each allowed peer address.
    addresses: list[tuple[str | None, PolicyPod | None]] = []
    if not peers:
        addresses.append((None, None))
    for peer in peers or []:
        if "ipBlock" in peer:
            addresses += [(cidr, None) for cidr in cidrs_of(peer["ipBlock"] or {})]
            continue
        for pod in _peer_pods(peer, guarded.namespace, context.pods, context.namespaces):
            addresses += [(f"{ip}/32", pod) for ip in pod.ips]
    for address, peer_pod in addresses:
        # Ingress names the guarded pod's ports; egress names the destination's.
        resolve = guarded if direction == "Ingress" else peer_pod
        for port in ports:
            matches = [""] if port is None else _port_matches(port, resolve)
            for match in matches:
                parts = [f"-A {chain}"]
                if address is not None:
                    parts.append(f"{address_flag} {address}")
                if match:
                    parts.append(match)
                parts.append("-j RETURN")
                yield " ".join(parts)


@dataclass
class _Context:
    pods: list[PolicyPod]
    namespaces: dict[str, dict[str, str]]


def render(
    policies: list[Object],
    pods: list[PolicyPod],
    namespaces: dict[str, dict[str, str]],
    node_name: str,
) -> RuleSet:
    """namespaces: name -> labels. pods: every pod with an address (and stand-ins)."""
    context = _Context(pods, namespaces)
    by_namespace: dict[str, list[Object]] = {}
    for policy in policies:
        by_namespace.setdefault(meta.namespace_of(policy), []).append(policy)
    chains = [ENTRY]
    entry = [f"-A {ENTRY} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    ingress_jumps: list[str] = []
    body: list[str] = []
    for pod in sorted(
        (p for p in pods if p.node == node_name and p.ips), key=lambda p: (p.namespace, p.name)
    ):
        selecting = [
            p
            for p in by_namespace.get(pod.namespace, [])
            if selects((p.get("spec") or {}).get("podSelector"), pod.labels)
        ]
        for direction, key, peers_key, prefix in (
            ("Egress", "egress", "to", "KU7S-NPE"),
            ("Ingress", "ingress", "from", "KU7S-NPI"),
        ):
            guarding = [p for p in selecting if direction in policy_types(p)]
            if not guarding:
                continue
            chain = chain_name(prefix, pod.namespace, pod.name)
            chains.append(chain)
            flag = "-d" if direction == "Egress" else "-s"
            # A pod can always reach itself.
            body += [f"-A {chain} {flag} {ip}/32 -j RETURN" for ip in pod.ips]
            for policy in guarding:
                for rule in (policy.get("spec") or {}).get(key) or []:
                    body += _rule_lines(chain, rule or {}, peers_key, direction, pod, context)
            body.append(
                f'-A {chain} -m comment --comment "{pod.namespace}/{pod.name} {direction.lower()}'
                f' not allowed" -j DROP'
            )
            for ip in pod.ips:
                flag = "-s" if direction == "Egress" else "-d"
                jump = f"-A {ENTRY} {flag} {ip}/32 -j {chain}"
                (entry if direction == "Egress" else ingress_jumps).append(jump)
    # Egress of the sender first, then ingress of the receiver: both must allow.
    return RuleSet(chains, [*entry, *ingress_jumps, *body])
