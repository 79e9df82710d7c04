"""kube-proxy: Services and slices into ServicePorts, ServicePorts into iptables-restore
text, and the routes between nodes."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from ku7s.client.informer import Informer, InformerFactory
from ku7s.pod_network.routes import PodRoutes, node_plan, wanted_routes
from node_image.kube_proxy.conntrack import Flush, stale_flows
from node_image.kube_proxy.metrics import ProxyMetrics
from node_image.kube_proxy.proxier import Proxier
from node_image.kube_proxy.rules import Affinity, NodeContext, chain_name, render
from node_image.kube_proxy.service_ports import service_ports

NODE = NodeContext("worker", "10.244.0.0/16")


def service(**spec):
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "clusterIP": "10.96.7.7",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}],
            **spec,
        },
    }


def endpoint(ip, node="worker", ready=True, terminating=False):
    return {
        "addresses": [ip],
        "nodeName": node,
        "conditions": {"ready": ready, "serving": ready or terminating, "terminating": terminating},
    }


def slices(*endpoints):
    return [
        {
            "metadata": {"labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": list(endpoints),
        }
    ]


def test_service_ports_take_ready_endpoints_and_fall_back_to_terminating_ones():
    [port] = service_ports(
        service(type="NodePort"),
        slices(endpoint("10.244.1.2"), endpoint("10.244.2.2", ready=False)),
    )
    assert port.name == "default/web:http" and port.node_port == 30080
    assert [e.address for e in port.usable_endpoints()] == ["10.244.1.2:8080"]
    [draining] = service_ports(
        service(), slices(endpoint("10.244.1.2", ready=False, terminating=True))
    )
    assert [e.ip for e in draining.usable_endpoints()] == ["10.244.1.2"]
    assert service_ports(service(clusterIP="None"), slices(endpoint("10.244.1.2"))) == []


def test_cluster_ip_balances_at_random_and_masquerades_off_cluster_clients():
    ports = service_ports(
        service(), slices(endpoint("10.244.1.2"), endpoint("10.244.2.2", "other"))
    )
    rules = render(ports, NODE)
    svc = chain_name("KUBE-SVC", "default/web:http", "TCP")
    text = "\n".join(rules.nat)
    assert (
        '-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" '
        f"-d 10.96.7.7/32 -p tcp -m tcp --dport 80 -j {svc}" in text
    )
    assert f'-A {svc} -m comment --comment "default/web:http cluster IP" ! -s 10.244.0.0/16' in text
    assert "--probability 0.5000000000" in text
    assert "-j DNAT --to-destination 10.244.1.2:8080" in text
    assert "-j DNAT --to-destination 10.244.2.2:8080" in text
    assert text.rstrip().count("-j KUBE-NODEPORTS") == 1
    assert not rules.filter


def test_a_service_without_endpoints_is_rejected_in_the_filter_table():
    rules = render(service_ports(service(type="NodePort"), slices()), NODE)
    assert any("-d 10.96.7.7/32" in r and "REJECT" in r for r in rules.filter)
    assert any(
        "--dport 30080" in r and "REJECT" in r and "KUBE-EXTERNAL" in r for r in rules.filter
    )
    assert not any("10.96.7.7" in r for r in rules.nat)


def test_node_ports_and_the_local_policy():
    cluster = "\n".join(
        render(
            service_ports(service(type="NodePort"), slices(endpoint("10.244.2.2", "other"))), NODE
        ).nat
    )
    ext = chain_name("KUBE-EXT", "default/web:http", "TCP")
    assert f"--dport 30080 -j {ext}" in cluster
    assert (
        f'-A {ext} -m comment --comment "masquerade default/web:http" -j KUBE-MARK-MASQ' in cluster
    )
    local_service = service(type="NodePort", externalTrafficPolicy="Local")
    here = render(
        service_ports(
            local_service, slices(endpoint("10.244.1.2"), endpoint("10.244.2.2", "other"))
        ),
        NODE,
    )
    svl = chain_name("KUBE-SVL", "default/web:http", "TCP")
    local_rules = [r for r in here.nat if r.startswith(f"-A {svl}")]
    assert len(local_rules) == 1 and "KUBE-SEP" in local_rules[0]
    assert not any(
        r.startswith(f"-A {ext}") and "MARK-MASQ" in r and "LOCAL" not in r for r in here.nat
    )
    elsewhere = render(service_ports(local_service, slices(endpoint("10.244.2.2", "other"))), NODE)
    assert any("no local endpoints" in r and "-j DROP" in r for r in elsewhere.filter)


def test_client_ip_affinity_with_recent_or_by_hash():
    sticky = service(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}
    )
    ports = service_ports(sticky, slices(endpoint("10.244.1.2"), endpoint("10.244.1.3")))
    recent = "\n".join(render(ports, NODE).nat)
    assert "--rcheck --seconds 60 --reap" in recent and "-m recent --set" in recent
    hashed = "\n".join(render(ports, NodeContext("worker", "10.244.0.0/16", Affinity.HASH)).nat)
    assert "HMARK --hmark-tuple src --hmark-mod 2" in hashed and "recent" not in hashed
    assert "-m mark --mark 0x1001/0x3fff" in hashed


def test_restore_input_declares_and_deletes_stale_chains():
    rules = render(service_ports(service(), slices(endpoint("10.244.1.2"))), NODE)
    text = rules.restore_input(stale_nat=["KUBE-SVC-OLD"])
    nat = text[text.index("*nat") :]
    assert ":KUBE-SVC-OLD - [0:0]" in nat and "-X KUBE-SVC-OLD" in nat
    assert text.count("COMMIT") == 2 and text.index("*filter") < text.index("*nat")
    assert all(len(c) <= 28 for c in rules.nat_chains)


def node(name, cidr, ip):
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
    }


async def test_routes_follow_the_nodes():
    informer = Informer(None, "/api/v1/nodes")  # type: ignore[arg-type]
    for n in (
        node("worker", "10.244.0.0/24", "172.18.0.2"),
        node("w2", "10.244.1.0/24", "172.18.0.3"),
    ):
        informer._apply("ADDED", n)
    table = {"10.244.9.0/24": "172.18.0.9"}  # a node that left
    calls = []

    async def ip(*args):
        calls.append(args)
        if args[:2] == ("-j", "route"):
            return json.dumps([{"dst": d, "gateway": g} for d, g in table.items()])
        if args[1] == "replace":
            table[args[2]] = args[4]
        if args[1] == "del":
            table.pop(args[2])
        return ""

    routes = PodRoutes(informer, node_plan("worker"), ip)
    await routes.sync()
    assert table == {"10.244.1.0/24": "172.18.0.3"}
    assert all(call[-2:] == ("proto", "77") for call in calls)
    assert wanted_routes([node("x", "", "1.2.3.4")], "worker") == {}
    # A change that leaves the routes as they are (a status update) costs no `ip` call,
    # and a hollow node's pods get no route: nothing answers there.
    calls.clear()
    hollow = node("hollow-0", "10.244.5.0/24", "172.18.0.8")
    hollow["metadata"]["labels"] = {"node.ku7s.dev/hollow": "true"}
    informer._apply("ADDED", hollow)
    await routes.sync(force=False)
    assert calls == [] and "10.244.5.0/24" not in table
    informer._apply("ADDED", node("w3", "10.244.2.0/24", "172.18.0.4"))
    await routes.sync(force=False)
    assert table["10.244.2.0/24"] == "172.18.0.4"


class FakeIPTables:
    def __init__(self) -> None:
        self.restored: list[str] = []
        self.jumps = True
        self.chains = {"nat": {"KUBE-SERVICES", "KUBE-SVC-LEFTOVER"}, "filter": {"KUBE-SERVICES"}}

    async def restore(self, text: str) -> None:
        self.restored.append(text)

    async def own_chains(self, table: str) -> set[str]:
        return set(self.chains[table])

    async def remove_jumps(self) -> None:
        self.jumps = False


async def test_a_sync_drops_chains_no_longer_rendered_and_shutdown_removes_everything():
    factory = InformerFactory(None)  # type: ignore[arg-type]
    iptables = FakeIPTables()
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry, wall_clock=lambda: 1234.0)
    proxier = Proxier(factory, iptables, NODE, metrics=metrics)  # type: ignore[arg-type]
    proxier.services._apply("ADDED", service())
    proxier.slices._apply(
        "ADDED",
        {
            **slices(endpoint("10.244.1.2"))[0],
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
        },
    )
    await proxier.sync()
    first = iptables.restored[-1]
    svc = chain_name("KUBE-SVC", "default/web:http", "TCP")
    assert f":{svc} - [0:0]" in first
    # What the sync did, under upstream's names.
    value = registry.get_sample_value
    assert value("kubeproxy_sync_proxy_rules_duration_seconds_count") == 1
    assert value("kubeproxy_sync_proxy_rules_last_timestamp_seconds") == 1234.0
    assert value("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds") == 1234.0
    assert value("kubeproxy_sync_proxy_rules_service_changes_total") == 1
    assert value("kubeproxy_sync_proxy_rules_endpoint_changes_total") == 1
    nat_rules = len([line for line in first.split("*nat")[1].splitlines() if line.startswith("-A")])
    assert value("kubeproxy_sync_proxy_rules_iptables_total", {"table": "nat"}) == nat_rules > 0
    proxier.services._apply("DELETED", service())
    await proxier.sync()
    second = iptables.restored[-1]
    assert f"-X {svc}" in second and f"-A {svc}" not in second
    await proxier.clean_up()
    assert not iptables.jumps
    assert "-X KUBE-SVC-LEFTOVER" in iptables.restored[-1]
    assert "-X KUBE-SERVICES" in iptables.restored[-1]


def test_stale_udp_flows_are_flushed_when_endpoints_go_or_first_come():
    before = {
        ("10.96.0.10", 53): frozenset({"10.244.1.2", "10.244.2.2"}),
        ("10.96.0.20", 99): frozenset(),
    }
    after = {
        ("10.96.0.10", 53): frozenset({"10.244.1.2"}),
        ("10.96.0.20", 99): frozenset({"10.244.3.3"}),
    }
    flushes = stale_flows(before, after)
    assert Flush("10.96.0.10", 53, "10.244.2.2") in flushes
    assert Flush("10.96.0.20", 99) in flushes
    assert len(flushes) == 2
    assert stale_flows(after, {}) == [
        Flush("10.96.0.10", 53, "10.244.1.2"),
        Flush("10.96.0.20", 99, "10.244.3.3"),
    ]
    assert Flush("10.96.0.10", 53, "10.244.2.2").argv() == [
        "-D",
        "-p",
        "udp",
        "--orig-dst",
        "10.96.0.10",
        "--orig-port-dst",
        "53",
        "--dst-nat",
        "10.244.2.2",
    ]
