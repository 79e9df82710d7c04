"""NetworkPolicy rules as a node gets them: which pods are guarded, what each rule allows,
named ports, port ranges, ipBlock exceptions, and stand-ins for the cluster DNS."""

from __future__ import annotations

from ku7s.api.endpoint_slices import STAND_IN_POD_LABELS
from node_image.network_policy.agent import policy_pod, stand_ins
from node_image.network_policy.rules import ENTRY, PolicyPod, cidrs_of, render

NAMESPACES = {"x": {"kubernetes.io/metadata.name": "x"}, "y": {"kubernetes.io/metadata.name": "y"}}


def pod(ns: str, name: str, ip: str, node: str = "n1", **labels: str) -> PolicyPod:
    return PolicyPod(ns, name, node, (ip,), {"pod": name, **labels}, {"serve-81": (81, "TCP")})


PODS = [
    pod("x", "a", "10.0.0.1"),
    pod("x", "b", "10.0.0.2"),
    pod("y", "a", "10.0.1.1", node="n2"),
    pod("y", "b", "10.0.1.2", node="n2"),
]


def policy(ns: str, spec: dict) -> dict:
    return {"metadata": {"name": "p", "namespace": ns}, "spec": spec}


def chain_lines(rules, needle: str) -> list[str]:
    return [line for line in rules.lines if needle in line]


def test_no_policy_guards_nothing():
    rules = render([], PODS, NAMESPACES, "n1")
    assert rules.chains == [ENTRY]
    assert rules.lines == [f"-A {ENTRY} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]


def test_default_deny_guards_only_the_local_pods_of_its_namespace():
    deny = policy("x", {"podSelector": {}, "policyTypes": ["Ingress"]})
    rules = render([deny], PODS, NAMESPACES, "n1")
    jumps = [line for line in rules.lines if line.startswith(f"-A {ENTRY} -d")]
    assert sorted(j.split()[3] for j in jumps) == ["10.0.0.1/32", "10.0.0.2/32"]
    assert len([line for line in rules.lines if line.endswith("-j DROP")]) == 2
    allowed = [line for line in rules.lines if line.endswith("-j RETURN") and "-s" in line]
    assert [line.split()[3] for line in allowed] == ["10.0.0.1/32", "10.0.0.2/32"]  # itself
    # On n2, where x has no pods, the policy has nothing to guard.
    assert render([deny], PODS, NAMESPACES, "n2").chains == [ENTRY]


def test_pod_and_namespace_selectors_together_pick_pods_in_chosen_namespaces():
    allow = policy(
        "x",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "y"}
                            },
                            "podSelector": {"matchLabels": {"pod": "b"}},
                        }
                    ],
                    "ports": [{"port": 80}, {"port": "serve-81"}, {"port": 8000, "endPort": 8100}],
                }
            ],
        },
    )
    rules = render([allow], PODS, NAMESPACES, "n1")
    returns = [line for line in rules.lines if line.endswith("-j RETURN") and "-s 10.0.1" in line]
    assert [line.split(" ", 2)[2] for line in returns] == [
        "-s 10.0.1.2/32 -p tcp --dport 80 -j RETURN",
        "-s 10.0.1.2/32 -p tcp --dport 81 -j RETURN",
        "-s 10.0.1.2/32 -p tcp --dport 8000:8100 -j RETURN",
    ]


def test_egress_named_ports_resolve_in_the_destination_pod():
    egress = policy(
        "x",
        {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": "serve-81"}]}],
        },
    )
    rules = render([egress], PODS, NAMESPACES, "n1")
    allowed = [line.split(" ", 2)[2] for line in rules.lines if "-j RETURN" in line]
    assert allowed[-3:] == [
        "-d 10.0.0.1/32 -j RETURN",  # itself
        "-d 10.0.0.1/32 -p tcp --dport 81 -j RETURN",
        "-d 10.0.0.2/32 -p tcp --dport 81 -j RETURN",
    ]
    assert rules.lines.index(next(line for line in rules.lines if f"-A {ENTRY} -s" in line)) == 1


def test_ip_blocks_lose_their_exceptions():
    assert cidrs_of({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/25"]}) == ["10.0.0.128/25"]
    assert cidrs_of({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/24"]}) == []
    assert cidrs_of({"cidr": "not-a-cidr"}) == []
    assert len(cidrs_of({"cidr": "0.0.0.0/0", "except": ["10.0.0.5/32"]})) == 32


def test_pods_without_an_address_of_their_own_are_not_policy_pods():
    running = {
        "metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}},
        "spec": {
            "nodeName": "n1",
            "containers": [{"ports": [{"name": "web", "containerPort": 80}]}],
        },
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }
    found = policy_pod(running)
    assert found is not None and found.ips == ("10.0.0.1",)
    assert found.named_ports == {"web": (80, "TCP")}
    assert policy_pod({**running, "spec": {"hostNetwork": True}}) is None
    assert policy_pod({**running, "status": {"phase": "Pending"}}) is None


def test_the_cluster_dns_stands_in_as_a_pod_of_kube_system():
    service = {
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "annotations": {STAND_IN_POD_LABELS: '{"k8s-app": "kube-dns"}'},
        },
        "spec": {},
    }
    slices = [
        {
            "endpoints": [{"addresses": ["172.18.0.2"]}],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
        }
    ]
    [dns] = stand_ins(service, slices)
    assert dns.namespace == "kube-system" and dns.labels == {"k8s-app": "kube-dns"}
    assert dns.ips == ("172.18.0.2",) and dns.node == ""
    pods_slice = [{"endpoints": [{"addresses": ["10.0.0.9"], "targetRef": {"kind": "Pod"}}]}]
    assert stand_ins(service, pods_slice) == []
    assert stand_ins({"metadata": {"name": "kubernetes"}, "spec": {}}, slices) == []


class FakeIPTables:
    def __init__(self) -> None:
        self.restored: list[str] = []
        self.jumps: list[tuple[str, str, tuple[str, ...]]] = []

    async def restore(self, text: str) -> None:
        self.restored.append(text)

    async def ensure_first(self, table: str, chain: str, rule: tuple[str, ...]) -> None:
        self.jumps.append((table, chain, rule))


async def test_the_agent_applies_only_what_changed_and_counts_what_it_guards():
    from prometheus_client import CollectorRegistry

    from ku7s.client.informer import InformerFactory
    from node_image.network_policy.agent import NetworkPolicyAgent
    from node_image.network_policy.metrics import PolicyMetrics

    registry = CollectorRegistry()
    iptables = FakeIPTables()
    agent = NetworkPolicyAgent(
        InformerFactory(None),  # type: ignore[arg-type]
        iptables,  # type: ignore[arg-type]
        "n1",
        metrics=PolicyMetrics(registry),
    )
    agent.namespaces._apply("ADDED", {"metadata": {"name": "x", "labels": {}}})
    agent.pods._apply(
        "ADDED",
        {
            "metadata": {"name": "a", "namespace": "x", "labels": {"pod": "a"}},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1"},
        },
    )
    assert await agent.sync()
    assert not await agent.sync()  # nothing changed: nothing written
    agent.policies._apply("ADDED", policy("x", {"podSelector": {}, "policyTypes": ["Ingress"]}))
    assert await agent.sync()
    assert "-j DROP" in iptables.restored[-1]
    assert iptables.jumps[-1][:2] == ("filter", "FORWARD")
    value = registry.get_sample_value
    assert value("ku7s_network_policy_guarded_pods", {"direction": "ingress"}) == 1
    assert value("ku7s_network_policy_guarded_pods", {"direction": "egress"}) == 0
    assert value("ku7s_network_policy_sync_duration_seconds_count") == 2
    agent.policies._apply("DELETED", policy("x", {"podSelector": {}}))
    assert await agent.sync()
    assert value("ku7s_network_policy_guarded_pods", {"direction": "ingress"}) == 0
    assert "-X KU7S-NPI-" in iptables.restored[-1]  # the pod's chain is taken away
